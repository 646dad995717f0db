package vfs

import (
	"fmt"
	"strings"
	"time"
)

// DiskKind is how a DiskFaultFS behaves (see DiskMode).
type DiskKind int

const (
	// DiskNormal forwards every call.
	DiskNormal DiskKind = iota
	// DiskSlow sleeps DiskMode.Delay before every WriteAt, Sync, Truncate
	// and SyncDir.
	DiskSlow
	// DiskStall blocks every WriteAt, Sync, Truncate, SyncDir, Create,
	// Rename, Remove and MkdirAll until the mode changes; reads go on.
	DiskStall
	// DiskLazy keeps WriteAt's bytes in memory until the file's Sync (or
	// Truncate, or the close of the handle that wrote them), so a crash of
	// the process loses exactly what was never synced.
	DiskLazy
	// DiskFail fails every WriteAt, Sync, Truncate, SyncDir, Create,
	// Rename, Remove and MkdirAll with EIO, as a dying disk does; reads go
	// on.
	DiskFail
	// DiskFull reports the file system as full (DiskUsage: no free
	// bytes) while writes still succeed, as on a disk past the store's
	// hard limit but short of ENOSPC.
	DiskFull
)

var diskKindNames = [...]string{DiskNormal: "normal", DiskSlow: "slow", DiskStall: "stall", DiskLazy: "lazy", DiskFail: "fail", DiskFull: "full"}

func (k DiskKind) String() string {
	if k >= 0 && int(k) < len(diskKindNames) {
		return diskKindNames[k]
	}
	return fmt.Sprintf("DiskKind(%d)", int(k))
}

// DiskMode is the mode of a DiskFaultFS.
type DiskMode struct {
	Kind DiskKind
	// Delay is slept before each write-side call in DiskSlow.
	Delay time.Duration
}

func (m DiskMode) String() string {
	if m.Kind == DiskSlow {
		return fmt.Sprintf("slow %v", m.Delay)
	}
	return m.Kind.String()
}

// ParseDiskMode parses what DiskMode.String prints: "normal", "stall",
// "lazy", "fail", "full" or "slow <duration>" (e.g. "slow 20ms"). Surrounding space is
// ignored; an empty string is "normal".
func ParseDiskMode(s string) (DiskMode, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return DiskMode{}, nil
	}
	for k, name := range diskKindNames {
		if f[0] != name {
			continue
		}
		m := DiskMode{Kind: DiskKind(k)}
		if m.Kind != DiskSlow {
			if len(f) != 1 {
				return DiskMode{}, fmt.Errorf("vfs: disk mode %q takes no argument", s)
			}
			return m, nil
		}
		if len(f) != 2 {
			return DiskMode{}, fmt.Errorf("vfs: disk mode %q: want \"slow <duration>\"", s)
		}
		d, err := time.ParseDuration(f[1])
		if err != nil || d <= 0 {
			return DiskMode{}, fmt.Errorf("vfs: disk mode %q: want a positive duration", s)
		}
		m.Delay = d
		return m, nil
	}
	return DiskMode{}, fmt.Errorf("vfs: unknown disk mode %q (want normal, slow <duration>, stall, lazy, fail or full)", s)
}
