package testcluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"

	"github.com/raftmq/raftmq/store/vfs"
)

// Disk faults (Options.DiskFaults) use the daemon's test hook: every node
// runs with RAFTMQ_TEST_FAULTFS naming its own control file, and its
// store's file system follows the vfs.DiskMode written there (normal,
// "slow <d>", stall, lazy; see cmd/raftmq/internal/daemon's doc). The
// daemon re-reads the file every 50ms; SetDisk waits until the node
// logged the change.

// faultFSEnv is the daemon's test hook variable.
const faultFSEnv = "RAFTMQ_TEST_FAULTFS"

// modeLogged is what the daemon logs when the hook changes the mode.
var modeLogged = []byte("test hook: disk fault mode set")

// diskControl returns node i's control file.
func (c *Cluster) diskControl(i int) string {
	return filepath.Join(filepath.Dir(c.nodes[i].dataDir), "disk-mode")
}

// SetDisk sets node i's disk mode. When the node is running and not paused
// it waits (up to Options.StartTimeout) until the node logged the change;
// otherwise the mode applies when the node starts or resumes. The mode
// survives restarts until it is set again.
func (c *Cluster) SetDisk(i int, m vfs.DiskMode) {
	c.t.Helper()
	if !c.opts.DiskFaults {
		c.t.Fatal("testcluster: SetDisk needs Options.DiskFaults")
	}
	n := c.nodes[i]
	if n.disk == m {
		return
	}
	before := c.countLogged(i)
	path := c.diskControl(i)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(m.String()+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // never a half-written mode
		c.t.Fatal(err)
	}
	n.disk = m
	if !c.live(i) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StartTimeout)
	defer cancel()
	if err := poll(ctx, func() bool { return c.countLogged(i) > before }); err != nil {
		c.t.Fatalf("testcluster: %s did not log disk mode %v: %v", n.id, m, err)
	}
}

// Disk returns the disk mode last set for node i.
func (c *Cluster) Disk(i int) vfs.DiskMode { return c.nodes[i].disk }

// countLogged counts the mode changes in node i's log.
func (c *Cluster) countLogged(i int) int {
	data, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return 0
	}
	return bytes.Count(data, modeLogged)
}

// diskEnv returns the environment of node i's process.
func (c *Cluster) diskEnv(i int) []string {
	if !c.opts.DiskFaults {
		return nil
	}
	return append(os.Environ(), faultFSEnv+"="+c.diskControl(i))
}
