package vfs

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Op names the kind of operation a FaultFS injector or latency function is
// consulted for.
type Op int

const (
	OpCreate   Op = iota // FS.Create
	OpOpen               // FS.Open and FS.OpenReadWrite
	OpRead               // File.ReadAt
	OpWrite              // File.WriteAt
	OpSync               // File.Sync
	OpTruncate           // File.Truncate
	OpRemove             // FS.Remove and FS.RemoveAll
	OpRename             // FS.Rename, once for each of oldname and newname
	OpMkdir              // FS.MkdirAll
	OpReadDir            // FS.ReadDir
	OpStat               // FS.Stat and FS.DiskUsage
	OpSyncDir            // FS.SyncDir
)

var opNames = [...]string{
	OpCreate:   "create",
	OpOpen:     "open",
	OpRead:     "read",
	OpWrite:    "write",
	OpSync:     "sync",
	OpTruncate: "truncate",
	OpRemove:   "remove",
	OpRename:   "rename",
	OpMkdir:    "mkdir",
	OpReadDir:  "readdir",
	OpStat:     "stat",
	OpSyncDir:  "syncdir",
}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// FailOnce returns an injector that fails the first call of op on a path
// containing pathContains with err, and nothing after. It is safe for
// concurrent use: of racing matching calls exactly one fails.
func FailOnce(op Op, pathContains string, err error) func(Op, string) error {
	var fired atomic.Bool
	return func(o Op, path string) error {
		if o != op || !strings.Contains(path, pathContains) {
			return nil
		}
		if fired.CompareAndSwap(false, true) {
			return err
		}
		return nil
	}
}

// FailAlways returns an injector that fails every call of op on a path
// containing pathContains with err.
func FailAlways(op Op, pathContains string, err error) func(Op, string) error {
	return func(o Op, path string) error {
		if o == op && strings.Contains(path, pathContains) {
			return err
		}
		return nil
	}
}
