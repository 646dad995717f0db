// Package testcluster runs real raftmq broker processes for tests: it
// builds the binaries once per test binary, starts a broker group of N
// nodes on free 127.0.0.1 ports and injects process faults (SIGKILL,
// SIGTERM, SIGSTOP/SIGCONT, restart).
//
// # Building
//
// Build compiles cmd/raftmq and cmd/mqctl with `go build` and
// CGO_ENABLED=0 (never with -race, even under `go test -race`: the
// processes under test are production builds) into one temporary
// directory, once per test binary; later calls return the same paths. The
// module root is found with `go env GOMOD` from the test's working
// directory. Call RemoveBuilds from TestMain after m.Run to delete the
// directory (or let the OS clean its temp directory).
//
// # Processes
//
// Start gives every node its own process group (Setpgid), a data directory
// and a log file (stdout and stderr) under t.TempDir, and the same static
// --peers list with --bootstrap, so the group forms on first start and
// reuses its Raft state on every restart. Ports are picked by listening on
// 127.0.0.1:0 and closing, so another process may, rarely, take one in
// between; a node that cannot bind fails its WaitHealthy.
//
// Node indexes are 0..N-1; node i has id "n<i+1>". The fault methods
// (Kill9, Stop, Restart, Pause, Resume) and the waits (Leader,
// WaitHealthy, WaitCaughtUp) call t.Fatal on failure, so call them from
// the test's goroutine.
//
// # Disk faults
//
// With Options.DiskFaults every node runs with the daemon's disk fault test
// hook (RAFTMQ_TEST_FAULTFS naming a control file next to its data
// directory), and SetDisk makes node i's store disk normal, slow, stalled
// or lazy (a vfs.DiskMode) while it runs; see disk.go.
//
// # Cleanup
//
// A t.Cleanup registered by Start resumes paused nodes, kills every node
// with SIGKILL to its process group, waits for it, and fails the test if
// any process of those groups is still alive afterwards. When the test
// failed, the tail of every node's log is written to the test log first.
package testcluster
