package vfs

import (
	"errors"
	"syscall"
)

// ErrCrashed is returned by every method of a MemFS File handle that was
// opened before MemFS.Crash. The handle belongs to the process that
// "died"; retrying on the same handle always fails, reopen the file instead.
var ErrCrashed = errors.New("vfs: file system crashed")

// ErrNoSpace is the errno a full file system reports (ENOSPC). MemFS returns
// it, wrapped in *os.PathError, from a WriteAt or Truncate that would exceed
// its capacity; the operation changed nothing, so a retry is safe once space
// was freed. It is exported for building FaultFS injectors.
var ErrNoSpace = syscall.ENOSPC

// ErrIO is the errno of a failed device (EIO). Nothing here returns it on its
// own; it is exported for building FaultFS injectors. Whether a retry is safe
// depends on the caller: after a failed Sync the data written since the last
// good Sync must be treated as lost (fsyncgate), so retrying the Sync is not.
var ErrIO = syscall.EIO

// errNegativeOffset is wrapped in *os.PathError when ReadAt or WriteAt get
// an offset below zero, as *os.File does. Retrying never helps.
var errNegativeOffset = errors.New("vfs: negative offset")
