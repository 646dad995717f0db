package cqueue

import "errors"

// Errors returned by a Queue. Test with errors.Is: most are wrapped with the
// offset or file they concern.
var (
	// ErrOffset is returned when a queue offset is outside what the call
	// accepts: Get and Search below MinOffset (wrapped with the current
	// minimum) or beyond MaxOffset, Put outside [MinOffset, MaxOffset].
	// Retrying with an offset inside the range succeeds; a reader that lost
	// a race with retention may retry from MinOffset.
	ErrOffset = errors.New("cqueue: offset out of range")

	// ErrInvalidEntry is returned by Put when an entry has Size 0, which the
	// format reserves for "not written". Nothing of the batch was written.
	// Not retryable with the same entries.
	ErrInvalidEntry = errors.New("cqueue: invalid entry")

	// ErrCorrupt is returned by Open when a file name does not parse or does
	// not fall on a file boundary, or the files leave a gap; and by reads
	// that find an unwritten entry or a short file below MaxOffset (a hole
	// left by a crash that re-dispatch has not filled yet). Not retryable;
	// the store should re-dispatch from its checkpoint or Remove the queue
	// and rebuild it from the CommitLog.
	ErrCorrupt = errors.New("cqueue: corrupt consume queue")

	// ErrClosed is returned by every call on a closed Queue (Remove
	// excepted). Not retryable.
	ErrClosed = errors.New("cqueue: closed")
)
