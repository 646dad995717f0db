package vfs

import (
	"fmt"
	"maps"
	"math/rand/v2"
)

// CrashMode says what MemFS.Crash does with data that was not synced.
type CrashMode int

const (
	// DropUnsynced loses everything not synced: files revert to their
	// bytes as of their last File.Sync.
	DropUnsynced CrashMode = iota
	// TearUnsynced keeps, for each file, its synced bytes followed by a
	// random-length prefix of its unsynced writes and truncates replayed in
	// order; the last replayed write may be cut short at a random byte.
	TearUnsynced
)

func (c CrashMode) String() string {
	switch c {
	case DropUnsynced:
		return "DropUnsynced"
	case TearUnsynced:
		return "TearUnsynced"
	}
	return fmt.Sprintf("CrashMode(%d)", int(c))
}

// Crash simulates a power cut and restart. Every directory reverts to its
// entries as of its last SyncDir; every file still reachable from the root
// reverts as mode says, and the result becomes its durable state. Handles
// opened before Crash fail every call with ErrCrashed. rng drives
// TearUnsynced (it may be nil for DropUnsynced); files are visited in sorted
// path order so that a seed replays a crash exactly.
func (m *MemFS) Crash(rng *rand.Rand, mode CrashMode) {
	if mode == TearUnsynced && rng == nil {
		panic("vfs: Crash(TearUnsynced) needs a *rand.Rand")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.used = 0
	m.crashDirLocked(m.root, rng, mode, map[*node]bool{})
}

// crashDirLocked reverts dir and everything reachable from it. A directory
// reached a second time (possible when a renamed directory's old and new
// parents were synced at different moments) is dropped from the later
// parent, so the tree stays a tree; a file reached again gains a link.
func (m *MemFS) crashDirLocked(dir *node, rng *rand.Rand, mode CrashMode, seen map[*node]bool) {
	seen[dir] = true
	dir.children = maps.Clone(dir.synced)
	for _, name := range dir.sortedNames() {
		c := dir.children[name]
		switch {
		case c.isDir && seen[c]:
			delete(dir.children, name)
		case c.isDir:
			m.crashDirLocked(c, rng, mode, seen)
		case seen[c]:
			c.nlink++
		default:
			seen[c] = true
			m.crashFileLocked(c, rng, mode)
		}
	}
	dir.synced = maps.Clone(dir.children)
}

// crashFileLocked reverts file n to what survives the crash.
func (m *MemFS) crashFileLocked(n *node, rng *rand.Rand, mode CrashMode) {
	data := append([]byte(nil), n.durable...)
	if mode == TearUnsynced {
		data = tear(data, n.log, rng)
	}
	n.data = data
	n.durable = append([]byte(nil), data...)
	n.log = nil
	n.nlink = 1
	m.used += int64(len(data))
}

// tear replays a random-length prefix of log onto b; with probability 1/2
// the last replayed write is cut short at a random byte.
func tear(b []byte, log []fileOp, rng *rand.Rand) []byte {
	k := rng.IntN(len(log) + 1)
	for i, op := range log[:k] {
		if i == k-1 && !op.truncate && len(op.data) > 0 && rng.IntN(2) == 0 {
			op.data = op.data[:rng.IntN(len(op.data))]
		}
		b = op.apply(b)
	}
	return b
}
