package vfs

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// node is a file or a directory of a MemFS. A node has an identity: Rename
// moves the node from one entry to another, so its contents follow it. All
// fields are guarded by the owning MemFS's mu.
type node struct {
	isDir bool

	// Directories.
	children map[string]*node // current entries
	synced   map[string]*node // entries as of the last SyncDir

	// Files.
	data    []byte   // current contents
	durable []byte   // contents as of the last File.Sync
	log     []fileOp // unsynced operations since the last Sync, in order
	nlink   int      // entries naming this file in the current namespace
}

func newDir() *node {
	return &node{isDir: true, children: map[string]*node{}, synced: map[string]*node{}}
}

func newFile() *node { return &node{} }

// sortedNames returns the names of the current entries of dir, sorted.
func (n *node) sortedNames() []string {
	return slices.Sorted(maps.Keys(n.children))
}

// fileOp is one unsynced change to a file's contents: a write of data at off,
// or a truncate to size off.
type fileOp struct {
	truncate bool
	off      int64
	data     []byte
}

// apply returns b with op applied; it may reuse b's storage.
func (op fileOp) apply(b []byte) []byte {
	if op.truncate {
		return resizeBytes(b, op.off)
	}
	return writeBytes(b, op.data, op.off)
}

// writeBytes copies p into b at off, growing b with zeros as needed. A
// zero-length write changes nothing, as with pwrite(2).
func writeBytes(b, p []byte, off int64) []byte {
	if len(p) == 0 {
		return b
	}
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resizeBytes(b, end)
	}
	copy(b[off:], p)
	return b
}

// resizeBytes returns b cut or zero-extended to size.
func resizeBytes(b []byte, size int64) []byte {
	old := int64(len(b))
	if size <= old {
		return b[:size]
	}
	b = slices.Grow(b, int(size-old))[:size]
	clear(b[old:]) // capacity may hold bytes from before a shrink
	return b
}

// splitPath cleans name and returns its components below the root. The
// working directory is the root and ".." never climbs above it.
func splitPath(name string) []string {
	var parts []string
	for _, s := range strings.Split(filepath.Clean(name), string(filepath.Separator)) {
		switch s {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, s)
		}
	}
	return parts
}

// isPrefix reports whether the path components pre lead to or equal full.
func isPrefix(pre, full []string) bool {
	return len(pre) <= len(full) && slices.Equal(pre, full[:len(pre)])
}
