package keyindex

import "fmt"

// Limits on Options. Slot values and prev pointers are uint32 entry
// numbers + 1, and both tables must fit comfortably in memory and on disk.
const (
	// MaxSlots is the largest accepted Options.Slots (a 1 GiB slot table).
	MaxSlots = 1 << 28
	// MaxEntriesPerFile is the largest accepted Options.EntriesPerFile
	// (a 5 GiB entry area).
	MaxEntriesPerFile = 1 << 28
)

// Options is the geometry of the index files. It is part of the on-disk
// layout: every file in a directory must be opened with the Options it was
// created with. Open detects a change by the file size and reports ErrCorrupt.
type Options struct {
	// Slots is the number of hash slots per file. More slots give shorter
	// chains; the active file's slot table (4 bytes per slot) is the only
	// table held in memory. Default 5,000,000 (20 MB).
	Slots int
	// EntriesPerFile is the number of entries a file holds before it is
	// sealed and the next file is started. Each entry is 20 bytes on disk.
	// Default 20,000,000 (400 MB).
	EntriesPerFile int
}

// DefaultOptions returns the RocketMQ IndexFile geometry: 5,000,000 slots
// and 20,000,000 entries per file (about 420 MB per file).
func DefaultOptions() Options {
	return Options{Slots: 5_000_000, EntriesPerFile: 20_000_000}
}

// Validate checks that every field is in range.
func (o Options) Validate() error {
	if o.Slots < 1 || o.Slots > MaxSlots {
		return fmt.Errorf("keyindex: Slots %d out of range [1, %d]", o.Slots, MaxSlots)
	}
	if o.EntriesPerFile < 1 || o.EntriesPerFile > MaxEntriesPerFile {
		return fmt.Errorf("keyindex: EntriesPerFile %d out of range [1, %d]",
			o.EntriesPerFile, MaxEntriesPerFile)
	}
	return nil
}

// fileSize is the exact size of every index file with these options.
func (o Options) fileSize() int64 {
	return slotsOffset + int64(o.Slots)*slotSize + int64(o.EntriesPerFile)*entrySize
}

// entryOffset is the file offset of entry number n.
func (o Options) entryOffset(n uint32) int64 {
	return slotsOffset + int64(o.Slots)*slotSize + int64(n)*entrySize
}
