package store

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Each says when it is returned and whether
// retrying the same call can succeed. Test with errors.Is: most are wrapped
// with the file, offset or name they concern.
var (
	// ErrClosed is returned by every call on a closed store. Not retryable.
	ErrClosed = errors.New("store: closed")

	// ErrInvalidTopic is returned when a topic name is empty, longer than
	// MaxTopicLen or has characters outside [%|a-zA-Z0-9_-]. Not retryable.
	ErrInvalidTopic = errors.New("store: invalid topic name")

	// ErrMessageTooLarge is returned when a message's body exceeds
	// Options.MaxMessageSize. Not retryable.
	ErrMessageTooLarge = errors.New("store: message too large")

	// ErrPropertiesTooLarge is returned when a message's keys, tags and
	// properties do not fit Options.MaxPropertiesSize. Not retryable.
	ErrPropertiesTooLarge = errors.New("store: properties too large")

	// ErrInvalidMessage is returned for other malformed input: an empty
	// batch, a queue id above MaxQueueID, a key or property name with a
	// control character. Not retryable.
	ErrInvalidMessage = errors.New("store: invalid message")

	// ErrDiskFull is returned by Append when the disk holding the store is
	// used above Options.DiskHardLimitRatio, or when a write failed with
	// ENOSPC. Nothing of the batch was made visible. Retryable once
	// retention or an operator frees space; a store that hit ENOSPC mid-write
	// must be reopened (see ErrFailed).
	ErrDiskFull = errors.New("store: disk full")

	// ErrFailed is returned by Append after an I/O error (EIO, ENOSPC, a
	// failed fsync) left the CommitLog in a state the store cannot vouch
	// for. The store refuses every further append; reads of data that was
	// visible before keep working. Recover by closing and reopening the
	// store, which rescans and truncates the unsynced tail. Not retryable
	// on the same Store.
	ErrFailed = errors.New("store: failed after I/O error; reopen to recover")

	// ErrCorrupt is returned by Open, reads and Verify when a record inside
	// the region the store reported durable fails its checksum or is
	// malformed, or a derived file disagrees with the CommitLog. The error
	// names the file and offset. Not retryable; Options.Repair truncates
	// the CommitLog at the first bad record instead (losing what follows).
	ErrCorrupt = errors.New("store: corrupt data")

	// ErrDiverged is returned by RepairCommitLog when a replica's bytes
	// hold a valid record that differs from the local valid record at the
	// same offset: the replicas are not byte-identical, which is a bug.
	// Nothing is written. Not retryable.
	ErrDiverged = errors.New("store: replica bytes differ from a valid local record")

	// ErrNotFound is returned by reads of a CommitLog offset that holds no
	// message (never written, deleted by retention, or not the start of a
	// record). Not retryable.
	ErrNotFound = errors.New("store: message not found")

	// ErrOffsetTooSmall is returned (wrapped) by GetMessages when the queue
	// offset asked for was deleted by retention; GetResult.MinOffset holds
	// the earliest available offset. Retry from that offset.
	ErrOffsetTooSmall = errors.New("store: offset below earliest available")

	// ErrOffsetTooLarge is returned when a queue offset is beyond the end
	// of the queue. Retry from GetResult.MaxOffset.
	ErrOffsetTooLarge = errors.New("store: offset beyond end of queue")

	// ErrLocked is returned by Open when another process holds the store's
	// directory. Retryable once that process exits.
	ErrLocked = errors.New("store: directory locked by another process")
)

// CorruptError describes a CommitLog record that failed its checksum or is
// malformed inside the region the store vouches for. It wraps ErrCorrupt
// and the record package's reason (record.ErrCRC, ...).
type CorruptError struct {
	// Path is the segment file holding the record.
	Path string
	// Offset is the CommitLog offset where the bad record starts.
	Offset int64
	// End is the end of the region that must hold valid records: the
	// written end for a read or scrub, the durable end at Open.
	End int64
	// Reason says what is wrong with the bytes.
	Reason error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: %s: record at log offset %d (valid data expected up to %d): %v",
		ErrCorrupt, e.Path, e.Offset, e.End, e.Reason)
}

// Unwrap returns ErrCorrupt and the reason.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Reason} }
