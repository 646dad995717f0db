// Package vfs is the file-system seam of the store: every byte the store
// reads or writes goes through FS and File, so that tests can swap the
// operating system for an in-memory file system that crashes (drops what was
// not synced, tears the last write) and injects errors by operation and path.
//
// Three implementations live here:
//
//   - OS, the real file system (positioned reads and writes, fdatasync,
//     fallocate, statfs, directory fsync);
//   - MemFS (NewMem), an in-memory file system that models the durability
//     contract of a POSIX file system, for crash tests;
//   - FaultFS (NewFaultFS), a wrapper around any FS that injects errors and
//     latency per operation and path, for error-path and chaos tests;
//   - DiskFaultFS (NewDiskFaultFS), a wrapper whose disk can be switched at
//     run time to slow, stalled or lazy, for chaos tests of real processes
//     (the daemon's test hook, see cmd/raftmq/internal/daemon).
//
// The seam is deliberately small (compare pebble's vfs.FS): the store needs
// positioned I/O, sync, truncate and directory operations, nothing else.
//
// # MemFS durability model
//
// MemFS keeps two states of everything, the current one (what reads see) and
// the durable one (what survives Crash):
//
//	object     current state             durable state      made durable by
//	---------  ------------------------  -----------------  ----------------
//	file       bytes + ordered log of    bytes as of the    File.Sync
//	           unsynced writes/truncates last File.Sync
//	directory  entries (name -> node)    entries as of the  SyncDir(dir)
//	                                     last SyncDir
//
// Create, Rename, Remove, RemoveAll and MkdirAll change only current
// directory entries. A file or directory is a node with an identity: Rename
// moves the node, so its contents follow it. A new directory made by MkdirAll
// survives a crash only once its parent was synced with SyncDir; the root
// always exists. The working directory is the root, so "a/b" and "/a/b" name
// the same file, and ".." never climbs above the root.
//
// Crash(rng, mode) models a power cut and restart. Starting at the root,
// every directory reverts to its durable entries; every file reachable from
// the result reverts to its durable bytes (DropUnsynced) or to its durable
// bytes followed by a random-length prefix of its unsynced log replayed in
// order, the last replayed write possibly cut short at a random byte
// (TearUnsynced). The outcome becomes the new durable state. Handles opened
// before the crash fail every call with ErrCrashed; new opens see the
// recovered state. Randomness comes only from rng and files are visited in
// sorted path order, so a seed replays a crash exactly.
//
// Deliberate simplifications: a directory entry that survives always
// refers to the node it named at SyncDir time (no half-written inodes); a
// torn write is a prefix of the write, never a scatter of sectors; directories
// cannot be opened as files (EISDIR); the space of a removed file is freed at
// once even if a handle still has it open, and writes through such a handle
// are not counted against the capacity.
//
// # FaultFS
//
// FaultFS consults an injector func(Op, path) error before each operation;
// when it returns an error the operation fails with that error wrapped in
// *os.PathError and the inner FS is not touched. File handles from FaultFS
// consult it on ReadAt, WriteAt, Sync and Truncate with the path the file was
// opened with. Which Op each method reports is listed on the Op constants.
//
// # DiskFaultFS
//
// DiskFaultFS has one mode at a time (DiskMode, SetMode; ParseDiskMode
// reads "normal", "slow <duration>", "stall", "lazy", "fail", "full"):
//
//	mode    WriteAt               Sync, Truncate, SyncDir   Create, Rename,
//	                                                        Remove, MkdirAll
//	------  --------------------  ------------------------  ----------------
//	normal  forwarded             forwarded                 forwarded
//	slow    after the delay       after the delay           forwarded
//	stall   blocks until the mode changes, then proceeds in the new mode
//	lazy    kept in memory        write the file's pending  forwarded
//	                              bytes through, then as
//	                              normal
//	fail    EIO, nothing changes  EIO                       EIO
//	full    forwarded             forwarded                 forwarded
//
// In full, DiskUsage reports no free bytes (a disk past the store's hard
// limit, short of ENOSPC); every other mode forwards it. A store on it
// refuses appends as leader and its disk-based retention deletes every
// segment it may (see store.Options.DiskCleanRatio).
//
// Reads are never delayed. Lazy is the power-loss model of lazyfs for a
// process crash: bytes written are kept in 4 KiB pages per path, shared by
// every handle of that path (reads, File.Size and FS.Stat see them), and
// reach the inner FS only at the file's Sync or Truncate, at a write in
// another mode, or when the handle that wrote them closes (without a sync:
// a closed file's bytes survive a crash of the process, as page-cache
// bytes do). So a kill -9 of a process running lazy loses exactly what its
// open files had not synced. Directory operations are not modelled: they
// reach the inner FS at once. Rename carries pending bytes to the new
// path; Remove and the truncating Create drop them.
package vfs
