package vfs

import (
	"io"
	"os"
)

// File is an open file. ReadAt and WriteAt are positioned and may be called
// concurrently from several goroutines; Sync, Truncate and Close must not
// race with writes to the same region.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes every completed WriteAt durable (fdatasync).
	Sync() error
	// Truncate changes the file's size. Bytes past the new size are gone;
	// growing fills with zeros.
	Truncate(size int64) error
	// Size reports the current size of the file.
	Size() (int64, error)
	// Preallocate reserves disk blocks for [0, size) without changing the
	// reported size where the platform allows it; it is an optimisation and
	// implementations may do nothing.
	Preallocate(size int64) error
	// Name is the path the file was opened with.
	Name() string
}

// FS is a file system.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string) (File, error)
	// OpenReadWrite opens the named file for reading and writing, creating
	// it if it does not exist, without truncating it.
	OpenReadWrite(name string) (File, error)
	// Open opens the named file read-only. A missing file gives an error
	// satisfying errors.Is(err, os.ErrNotExist).
	Open(name string) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a path and everything under it.
	RemoveAll(name string) error
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists the names in dir, sorted. A missing directory gives an
	// error satisfying errors.Is(err, os.ErrNotExist).
	ReadDir(dir string) ([]string, error)
	// Stat reports whether name exists, whether it is a directory, and its size.
	Stat(name string) (FileInfo, error)
	// SyncDir makes creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// DiskUsage reports the capacity and use of the file system holding path.
	DiskUsage(path string) (DiskUsage, error)
}

// FileInfo is what Stat reports.
type FileInfo struct {
	Size  int64
	IsDir bool
}

// DiskUsage describes the file system that holds a path.
type DiskUsage struct {
	TotalBytes uint64 // bytes in use plus bytes still available (as df counts)
	FreeBytes  uint64 // available to unprivileged users
}

// UsedRatio is the fraction of the file system in use, in [0, 1].
func (d DiskUsage) UsedRatio() float64 {
	if d.TotalBytes == 0 {
		return 0
	}
	return float64(d.TotalBytes-min(d.FreeBytes, d.TotalBytes)) / float64(d.TotalBytes)
}
