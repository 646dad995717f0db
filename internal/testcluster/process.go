package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

// stopTimeout bounds how long Stop waits after SIGTERM before SIGKILL.
const stopTimeout = 30 * time.Second

// process is one run of a node's binary. Its waiter goroutine owns
// cmd.Wait; err is written before done is closed and read only after.
type process struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startNode starts node i's process with its log file appended to.
func (c *Cluster) startNode(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if n.proc != nil && !n.proc.exited() {
		c.t.Fatalf("testcluster: start %s: already running", n.id)
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== testcluster: %s start %s\n", time.Now().Format(time.RFC3339Nano), n.id)
	cmd := exec.Command(c.bins.Raftmq, n.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = c.diskEnv(i)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("testcluster: start %s: %v", n.id, err)
	}
	c.pgids = append(c.pgids, cmd.Process.Pid)
	p := &process{cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.log.Close()
		close(p.done)
	}()
	n.proc, n.paused = p, false
}

// signal sends sig to node i's process group.
func (c *Cluster) signal(i int, sig syscall.Signal) {
	c.t.Helper()
	n := c.nodes[i]
	if n.proc == nil || n.proc.exited() {
		c.t.Fatalf("testcluster: %v to %s: not running", sig, n.id)
	}
	if err := syscall.Kill(-n.proc.cmd.Process.Pid, sig); err != nil {
		c.t.Fatalf("testcluster: %v to %s: %v", sig, n.id, err)
	}
}

// Kill9 kills node i with SIGKILL (a crash: no shutdown, no leadership
// transfer) and waits for it to exit.
func (c *Cluster) Kill9(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGKILL)
	<-c.nodes[i].proc.done
	c.nodes[i].paused = false
}

// Stop sends SIGTERM to node i (graceful shutdown) and waits for it to
// exit, killing it if it takes longer than 30s; an exit status other than
// 0 fails the test.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if n.paused {
		c.Resume(i)
	}
	c.signal(i, syscall.SIGTERM)
	select {
	case <-n.proc.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-n.proc.cmd.Process.Pid, syscall.SIGKILL)
		<-n.proc.done
		c.t.Fatalf("testcluster: %s did not stop within %v of SIGTERM", n.id, stopTimeout)
	}
	if n.proc.err != nil {
		c.t.Fatalf("testcluster: %s stopped with %v", n.id, n.proc.err)
	}
}

// Restart starts node i again on its data directory; it must not be
// running. It does not wait: call WaitHealthy.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.startNode(i)
}

// Pause stops node i with SIGSTOP: its sockets stay open but it answers
// nothing, like a long GC pause or a frozen VM.
func (c *Cluster) Pause(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGSTOP)
	c.nodes[i].paused = true
	// kill returns once the signal is queued; a thread running on another
	// CPU stops a moment later, and until then it can still answer.
	pid := c.nodes[i].proc.cmd.Process.Pid
	testutil.WaitFor(c.t, 5*time.Second, fmt.Sprintf("every thread of %s stopped", c.nodes[i].id), func() bool {
		return allStopped(pid)
	})
}

// allStopped reports whether every thread of process pid is stopped
// (state T in /proc/pid/task/*/stat).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume continues node i after Pause with SIGCONT.
func (c *Cluster) Resume(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGCONT)
	c.nodes[i].paused = false
}

// cleanup kills every node, checks that no process of any group started
// survived, dumps logs if the test failed and closes the connections.
func (c *Cluster) cleanup() {
	for _, n := range c.nodes {
		if n.proc == nil || n.proc.exited() {
			continue
		}
		pgid := -n.proc.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGCONT)
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		select {
		case <-n.proc.done:
		case <-time.After(10 * time.Second):
			c.t.Errorf("testcluster: %s did not exit after SIGKILL", n.id)
		}
	}
	for _, pgid := range c.pgids {
		// ESRCH: the group has no member left. EPERM would mean the id
		// was reused by someone else's process, which is not ours.
		if err := syscall.Kill(-pgid, 0); err == nil {
			c.t.Errorf("testcluster: stray process in group %d after cleanup", pgid)
		} else if !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.EPERM) {
			c.t.Errorf("testcluster: check group %d: %v", pgid, err)
		}
	}
	if c.t.Failed() {
		for i := range c.nodes {
			c.t.Logf("---- %s log (last %d lines) ----\n%s", c.nodes[i].id, dumpLines, c.logTail(i, dumpLines))
		}
	}
	for _, n := range c.nodes {
		_ = n.conn.Close()
	}
}

// dumpLines is how many log lines per node a failed test prints.
const dumpLines = 150

// logTail returns the last lines of node i's log file.
func (c *Cluster) logTail(i, lines int) string {
	data, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	data = bytes.TrimRight(data, "\n")
	cut := len(data)
	for range lines {
		j := bytes.LastIndexByte(data[:cut], '\n')
		if j < 0 {
			return string(data)
		}
		cut = j
	}
	return string(data[cut+1:])
}
