package testcluster

import "syscall"

// procAttr puts a node in its own process group and, on Linux, has the
// kernel kill it when the test binary dies without running its cleanup
// (a -timeout panic, a kill), so no broker outlives its test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
