package keyindex

import "errors"

var (
	// ErrCorrupt is returned by Open, Lookup and Truncate when an index file
	// holds bytes that cannot be right: both header copies invalid on a file
	// that once had a valid header, a size that does not match the Options,
	// a slot or prev pointer out of range, a chain that does not go strictly
	// backwards, or entries out of CommitLog order. The error names the
	// file. Retrying does not help; the index is derived data, so the
	// remedy is to remove the directory and rebuild it from the CommitLog.
	ErrCorrupt = errors.New("keyindex: corrupt index file")

	// ErrClosed is returned by every method called after Close. Retrying
	// does not help; open the index again.
	ErrClosed = errors.New("keyindex: index closed")

	// ErrOrder is returned by Add when an item's Phys is negative, below
	// the Phys of the last item added (equal is allowed: one record may
	// carry several keys), or below the
	// value given to MarkCovered (which says every record below it was
	// already offered). The whole batch is rejected and nothing is written,
	// so the caller may retry with a corrected batch.
	ErrOrder = errors.New("keyindex: phys offsets out of order")
)
