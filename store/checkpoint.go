package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/raftmq/raftmq/store/vfs"
)

// Checkpoint format constants: must not change without a version bump.
const (
	checkpointMagic   uint32 = 0x524D5143 // "RMQC"
	checkpointVersion uint32 = 1
	checkpointSize           = 80
	checkpointName           = "checkpoint"
)

// checkpoint is what the store knows to be durable, written atomically
// (temporary file, fsync, rename, fsync of the directory).
//
// Invariants (a checkpoint never claims more than what is fsynced):
//   - Dispatched <= Flushed <= the durable end of the CommitLog.
//   - Every ConsumeQueue entry for a record below Dispatched is fsynced.
//   - LastRaftIndex and LastStoreTS are those of the last record below
//     Dispatched (0 if none).
//   - Clean is set only by Close, after everything above was synced; then
//     Dispatched == Flushed == the end of the log, and Open trusts it
//     without scanning.
type checkpoint struct {
	SegmentSize   int64
	Flushed       int64
	Dispatched    int64
	LastRaftIndex uint64
	LastStoreTS   int64
	Clean         bool
	// Geometry of derived files, fixed when the store is created.
	QueueEntriesPerFile int
	IndexSlots          int
	IndexEntriesPerFile int
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode lays the checkpoint out as:
//
//	0  magic u32 | 4 version u32 | 8 segment size i64 | 16 flushed i64
//	24 dispatched i64 | 32 last raft index u64 | 40 last store ts i64
//	48 clean u8 | 49..51 zero | 52 queue entries per file u32
//	56 index slots u32 | 60 index entries per file u32 | 64..75 zero
//	76 crc32c of bytes [0, 76) u32
func (c checkpoint) encode() []byte {
	b := make([]byte, checkpointSize)
	be := binary.BigEndian
	be.PutUint32(b[0:], checkpointMagic)
	be.PutUint32(b[4:], checkpointVersion)
	be.PutUint64(b[8:], uint64(c.SegmentSize))
	be.PutUint64(b[16:], uint64(c.Flushed))
	be.PutUint64(b[24:], uint64(c.Dispatched))
	be.PutUint64(b[32:], c.LastRaftIndex)
	be.PutUint64(b[40:], uint64(c.LastStoreTS))
	if c.Clean {
		b[48] = 1
	}
	be.PutUint32(b[52:], uint32(c.QueueEntriesPerFile))
	be.PutUint32(b[56:], uint32(c.IndexSlots))
	be.PutUint32(b[60:], uint32(c.IndexEntriesPerFile))
	be.PutUint32(b[76:], crc32.Checksum(b[:76], castagnoli))
	return b
}

// decodeCheckpoint parses and checks an encoded checkpoint.
func decodeCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) != checkpointSize {
		return c, fmt.Errorf("%w: checkpoint is %d bytes, want %d", ErrCorrupt, len(b), checkpointSize)
	}
	be := binary.BigEndian
	if be.Uint32(b[0:]) != checkpointMagic {
		return c, fmt.Errorf("%w: checkpoint magic", ErrCorrupt)
	}
	if v := be.Uint32(b[4:]); v != checkpointVersion {
		return c, fmt.Errorf("%w: checkpoint version %d unsupported", ErrCorrupt, v)
	}
	if crc32.Checksum(b[:76], castagnoli) != be.Uint32(b[76:]) {
		return c, fmt.Errorf("%w: checkpoint checksum", ErrCorrupt)
	}
	c.SegmentSize = int64(be.Uint64(b[8:]))
	c.Flushed = int64(be.Uint64(b[16:]))
	c.Dispatched = int64(be.Uint64(b[24:]))
	c.LastRaftIndex = be.Uint64(b[32:])
	c.LastStoreTS = int64(be.Uint64(b[40:]))
	c.QueueEntriesPerFile = int(be.Uint32(b[52:]))
	c.IndexSlots = int(be.Uint32(b[56:]))
	c.IndexEntriesPerFile = int(be.Uint32(b[60:]))
	switch b[48] {
	case 0:
	case 1:
		c.Clean = true
	default:
		return c, fmt.Errorf("%w: checkpoint clean flag %d", ErrCorrupt, b[48])
	}
	if c.SegmentSize <= 0 || c.Flushed < 0 || c.Dispatched < 0 || c.Dispatched > c.Flushed ||
		c.QueueEntriesPerFile <= 0 || c.IndexSlots <= 0 || c.IndexEntriesPerFile <= 0 {
		return c, fmt.Errorf("%w: checkpoint fields out of range (%+v)", ErrCorrupt, c)
	}
	return c, nil
}

// readCheckpoint loads dir's checkpoint; found is false if there is none.
func readCheckpoint(fs vfs.FS, dir string) (c checkpoint, found bool, err error) {
	f, err := fs.Open(filepath.Join(dir, checkpointName))
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	defer f.Close()
	b := make([]byte, checkpointSize+1)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return c, false, err
	}
	c, err = decodeCheckpoint(b[:n])
	if err != nil {
		return c, false, fmt.Errorf("%s: %w", filepath.Join(dir, checkpointName), err)
	}
	return c, true, nil
}

// writeCheckpoint replaces dir's checkpoint atomically and durably.
func writeCheckpoint(fs vfs.FS, dir string, c checkpoint) error {
	return vfs.WriteFileAtomic(fs, filepath.Join(dir, checkpointName), c.encode())
}
