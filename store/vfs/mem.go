package vfs

import (
	"os"
	"sync"
	"syscall"
)

// DefaultMemCapacity is the capacity of a new MemFS: 1 TiB.
const DefaultMemCapacity int64 = 1 << 40

// MemFS is an in-memory FS that models POSIX durability for crash tests;
// the model is described in the package documentation. It is safe for
// concurrent use. Create one with NewMem.
type MemFS struct {
	// mu guards the whole tree (every node and its fields), every open
	// memFile's closed flag, and the fields below.
	mu           sync.Mutex
	root         *node
	gen          uint64 // crash generation; handles from an older one fail
	capacity     int64
	used         int64 // sum of sizes of files with nlink > 0
	syncs        int64 // File.Sync calls that succeeded
	bytesWritten int64 // bytes written by WriteAt
}

var _ FS = (*MemFS)(nil)

// NewMem returns an empty MemFS holding only its root directory, with a
// capacity of DefaultMemCapacity.
func NewMem() *MemFS {
	return &MemFS{root: newDir(), capacity: DefaultMemCapacity}
}

// SetCapacity sets the size of the file system in bytes. Writes that would
// grow the total size of all files past it fail with ENOSPC. Lowering it
// below the current use does not remove anything.
func (m *MemFS) SetCapacity(bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = bytes
}

// SyncCount reports how many File.Sync calls succeeded.
func (m *MemFS) SyncCount() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncs
}

// BytesWritten reports how many bytes WriteAt calls wrote.
func (m *MemFS) BytesWritten() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytesWritten
}

// lookupLocked returns the node named by parts, or an errno.
func (m *MemFS) lookupLocked(parts []string) (*node, error) {
	n := m.root
	for _, p := range parts {
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[p]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = c
	}
	return n, nil
}

// parentLocked returns the directory that holds the last of parts (which
// must not be empty) and that last name.
func (m *MemFS) parentLocked(parts []string) (*node, string, error) {
	dir, err := m.lookupLocked(parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !dir.isDir {
		return nil, "", syscall.ENOTDIR
	}
	return dir, parts[len(parts)-1], nil
}

// resizeLocked accounts for file n changing its size to size, failing with
// ENOSPC if that would take the total use past the capacity. Files no entry
// names (removed while open) are not counted.
func (m *MemFS) resizeLocked(n *node, size int64) error {
	if n.nlink == 0 {
		return nil
	}
	grow := size - int64(len(n.data))
	if grow > 0 && m.used+grow > m.capacity {
		return syscall.ENOSPC
	}
	m.used += grow
	return nil
}

// linkLocked records a new entry naming n.
func (m *MemFS) linkLocked(n *node) {
	if n.isDir {
		return
	}
	n.nlink++
	if n.nlink == 1 {
		m.used += int64(len(n.data))
	}
}

// unlinkLocked records that an entry naming n is gone. For a directory it
// removes every entry below it, as RemoveAll does.
func (m *MemFS) unlinkLocked(n *node) {
	if n.isDir {
		for _, c := range n.children {
			m.unlinkLocked(c)
		}
		clear(n.children)
		return
	}
	n.nlink--
	if n.nlink == 0 {
		m.used -= int64(len(n.data))
	}
}

// Create creates or truncates the named file.
func (m *MemFS) Create(name string) (File, error) {
	return m.open(name, true, true, true)
}

// OpenReadWrite opens the named file for reading and writing, creating it if
// needed.
func (m *MemFS) OpenReadWrite(name string) (File, error) {
	return m.open(name, true, false, true)
}

// Open opens the named file read-only.
func (m *MemFS) Open(name string) (File, error) {
	return m.open(name, false, false, false)
}

func (m *MemFS) open(name string, create, trunc, writable bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	dir, base, err := m.parentLocked(parts)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	n, ok := dir.children[base]
	switch {
	case ok && n.isDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case !ok && !create:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	case !ok:
		n = newFile()
		dir.children[base] = n
		m.linkLocked(n)
	case trunc && len(n.data) > 0:
		m.truncateLocked(n, 0) // shrinking cannot fail
	}
	return &memFile{fs: m, n: n, name: name, gen: m.gen, writable: writable}, nil
}

// Remove removes a file or an empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := splitPath(name)
	if len(parts) == 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	dir, base, err := m.parentLocked(parts)
	if err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	n, ok := dir.children[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	}
	if n.isDir && len(n.children) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(dir.children, base)
	m.unlinkLocked(n)
	return nil
}

// RemoveAll removes name and everything below it. A missing name is not an
// error.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := splitPath(name)
	if len(parts) == 0 {
		return &os.PathError{Op: "RemoveAll", Path: name, Err: syscall.EINVAL}
	}
	dir, base, err := m.parentLocked(parts)
	if err == syscall.ENOENT {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "RemoveAll", Path: name, Err: err}
	}
	if n, ok := dir.children[base]; ok {
		delete(dir.children, base)
		m.unlinkLocked(n)
	}
	return nil
}

// Rename moves oldname to newname, replacing a file at newname. Like
// os.Rename it refuses to replace a directory (EEXIST).
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.renameLocked(splitPath(oldname), splitPath(newname)); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (m *MemFS) renameLocked(op, np []string) error {
	if len(op) == 0 || len(np) == 0 {
		return syscall.EBUSY
	}
	odir, obase, err := m.parentLocked(op)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return syscall.ENOENT
	}
	ndir, nbase, err := m.parentLocked(np)
	if err != nil {
		return err
	}
	target, exists := ndir.children[nbase]
	switch {
	case exists && target == n:
		return nil // same node (or same name): nothing to do
	case n.isDir && isPrefix(op, np):
		return syscall.EINVAL // into its own subtree; Linux checks this first
	case exists && target.isDir:
		return syscall.EEXIST
	case exists && n.isDir:
		return syscall.ENOTDIR
	}
	delete(odir.children, obase)
	if exists {
		m.unlinkLocked(target)
	}
	ndir.children[nbase] = n
	return nil
}

// MkdirAll creates dir and its missing parents; perm is ignored. The new
// directories are durable only once their parents are synced with SyncDir.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range splitPath(dir) {
		c, ok := n.children[p]
		if !ok {
			c = newDir()
			n.children[p] = c
		} else if !c.isDir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		n = c
	}
	return nil
}

// ReadDir lists the current entries of dir, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(splitPath(dir))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if !n.isDir {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: syscall.ENOTDIR}
	}
	return n.sortedNames(), nil
}

// Stat reports on name. Directories report size 0.
func (m *MemFS) Stat(name string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(splitPath(name))
	if err != nil {
		return FileInfo{}, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	return FileInfo{Size: int64(len(n.data)), IsDir: n.isDir}, nil
}

// SyncDir makes the current entries of dir durable. It fails with ENOTDIR
// on a file (the OS would fsync the file; here that is a caller bug).
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(splitPath(dir))
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if !n.isDir {
		return &os.PathError{Op: "fsync", Path: dir, Err: syscall.ENOTDIR}
	}
	clear(n.synced)
	for name, c := range n.children {
		n.synced[name] = c
	}
	return nil
}

// DiskUsage reports the capacity and the capacity minus the current size of
// all files. path must exist.
func (m *MemFS) DiskUsage(path string) (DiskUsage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lookupLocked(splitPath(path)); err != nil {
		return DiskUsage{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	total := max(m.capacity, 0)
	free := max(total-m.used, 0)
	return DiskUsage{TotalBytes: uint64(total), FreeBytes: uint64(free)}, nil
}
