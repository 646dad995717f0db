package cqueue

import "encoding/binary"

// EntrySize is the size of one encoded entry in bytes. Format.
const EntrySize = 20

// Entry is one ConsumeQueue entry: where a message of the queue lives in the
// CommitLog, and the hash of its tag for server-side tag filtering.
type Entry struct {
	// Offset is the CommitLog offset of the message's record.
	Offset int64
	// Size is the size of the record in bytes; 0 is reserved for "not
	// written" and never valid in a stored entry.
	Size uint32
	// TagHash is the hash of the message's tag (0 when it has none).
	TagHash uint64
}

// AppendTo appends the 20-byte big-endian encoding of e to b and returns the
// extended slice.
func (e Entry) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(e.Offset))
	b = binary.BigEndian.AppendUint32(b, e.Size)
	return binary.BigEndian.AppendUint64(b, e.TagHash)
}

// DecodeEntry decodes the entry at the start of b, which must hold at least
// EntrySize bytes (it panics otherwise, like a slice index).
func DecodeEntry(b []byte) Entry {
	_ = b[EntrySize-1]
	return Entry{
		Offset:  int64(binary.BigEndian.Uint64(b[0:8])),
		Size:    binary.BigEndian.Uint32(b[8:12]),
		TagHash: binary.BigEndian.Uint64(b[12:20]),
	}
}
