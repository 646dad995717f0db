package cqueue

import "fmt"

// DefaultEntriesPerFile is RocketMQ's default: 300000 entries, 6,000,000
// bytes per file.
const DefaultEntriesPerFile = 300000

// maxEntriesPerFile keeps one file under 2 GiB.
const maxEntriesPerFile = (1 << 31) / EntrySize

// Options configures a Queue. Start from DefaultOptions.
type Options struct {
	// EntriesPerFile is how many entries each file holds. It is format for
	// an existing queue (see the package doc): keep it fixed for the life
	// of the store. Must be in [1, 107374182].
	EntriesPerFile int
}

// DefaultOptions returns the production configuration.
func DefaultOptions() Options {
	return Options{EntriesPerFile: DefaultEntriesPerFile}
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.EntriesPerFile < 1 || o.EntriesPerFile > maxEntriesPerFile {
		return fmt.Errorf("cqueue: EntriesPerFile %d must be in [1, %d]", o.EntriesPerFile, maxEntriesPerFile)
	}
	return nil
}
