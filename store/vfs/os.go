package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// OS returns the operating system's file system.
func OS() FS { return osFS{} }

type osFS struct{}

var _ FS = osFS{}

type osFile struct{ *os.File }

var _ File = osFile{}

func (f osFile) Sync() error {
	// fdatasync: the data and the metadata needed to read it back (size),
	// not timestamps.
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.File.Name(), Err: err}
			}
			return nil
		}
	}
}

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f osFile) Preallocate(size int64) error {
	if size <= 0 {
		return nil
	}
	// FALLOC_FL_KEEP_SIZE: reserve blocks, keep the logical size, so the
	// file's size still tells how far it was written.
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, size)
	if err == nil || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINTR) {
		return nil
	}
	return &os.PathError{Op: "fallocate", Path: f.File.Name(), Err: err}
}

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenReadWrite(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error {
	return os.MkdirAll(dir, perm)
}

func (osFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) Stat(name string) (FileInfo, error) {
	st, err := os.Stat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Size: st.Size(), IsDir: st.IsDir()}, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	// (*os.File).Sync already returns an *os.PathError naming dir.
	return d.Sync()
}

func (osFS) DiskUsage(path string) (DiskUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return DiskUsage{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	// Block counts are in units of the fragment size (statvfs(3)), which
	// equals Bsize on most file systems but not all.
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	// Report what df's Use% reports: blocks in use against blocks in use
	// plus those an unprivileged writer can still get. Blocks reserved for
	// root (or otherwise unavailable) are left out of both, so the ratio
	// says how close the store is to ENOSPC.
	used := (st.Blocks - min(st.Bfree, st.Blocks)) * bs
	avail := st.Bavail * bs
	return DiskUsage{TotalBytes: used + avail, FreeBytes: avail}, nil
}

// Lock takes an exclusive advisory lock (flock) on the named file, creating
// it if needed, so that two processes never open the same store. The lock
// is released by closing the returned Closer or by the process exiting.
func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: name, Err: err}
	}
	return f, nil
}

// Locker is implemented by file systems that can lock a file against other
// processes (OS does; MemFS lives in one process and does not need to).
type Locker interface {
	Lock(name string) (io.Closer, error)
}

var _ Locker = osFS{}
