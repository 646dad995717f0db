package store

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

// segment is one CommitLog file: the bytes [base, base+size) of the log.
type segment struct {
	base int64
	path string
	f    vfs.File
	// maxStoreTS is the newest store timestamp in the segment: read from
	// the trailer for sealed segments, tracked by the writer for the live
	// one. Guarded by commitLog.mu.
	maxStoreTS atomic.Int64
}

// commitLog is the segmented, append-only log. One writer (the Store's
// Append, under Store.wmu) appends; readers read concurrently below the
// published write offset.
type commitLog struct {
	fs      vfs.FS
	dir     string
	segSize int64

	mu sync.RWMutex // guards segs (the slice is replaced, never mutated in place)
	// segs are ordered by base and contiguous; the last one is live.
	segs []*segment
}

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// openCommitLog lists and opens the segments in dir.
func openCommitLog(fs vfs.FS, dir string, segSize int64) (*commitLog, error) {
	cl := &commitLog{fs: fs, dir: dir, segSize: segSize}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil || len(name) != 20 || base < 0 {
			if filepath.Ext(name) == ".tmp" {
				continue
			}
			return nil, fmt.Errorf("%w: unexpected file %s in %s", ErrCorrupt, name, dir)
		}
		if n := len(cl.segs); n > 0 && cl.segs[n-1].base+segSize != base {
			cl.closeAll()
			return nil, fmt.Errorf("%w: segment %s does not follow %s (segment size %d; was SegmentSize changed?)",
				ErrCorrupt, name, segmentName(cl.segs[n-1].base), segSize)
		}
		if base%segSize != 0 {
			cl.closeAll()
			return nil, fmt.Errorf("%w: segment %s is not a multiple of the segment size %d (was SegmentSize changed?)",
				ErrCorrupt, name, segSize)
		}
		path := filepath.Join(dir, name)
		f, err := fs.OpenReadWrite(path)
		if err != nil {
			cl.closeAll()
			return nil, err
		}
		cl.segs = append(cl.segs, &segment{base: base, path: path, f: f})
	}
	// Sealed segments end with a trailer naming their newest timestamp.
	for i := 0; i+1 < len(cl.segs); i++ {
		s := cl.segs[i]
		var t [record.TrailerSize]byte
		if _, err := s.f.ReadAt(t[:], segSize-record.TrailerSize); err != nil && !errors.Is(err, io.EOF) {
			cl.closeAll()
			return nil, err
		}
		ts, err := record.DecodeTrailer(t[:])
		if err != nil {
			// Not fatal: the segment may be sealed by recovery or the
			// verifier will name it; retention treats it as old as its
			// successor allows.
			ts = -1
		}
		s.maxStoreTS.Store(ts)
	}
	return cl, nil
}

func (cl *commitLog) closeAll() {
	for _, s := range cl.segs {
		s.f.Close()
	}
}

// segments returns the current segment list; callers must not modify it.
func (cl *commitLog) segments() []*segment {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	return cl.segs
}

// live returns the last segment, or nil if there is none.
func (cl *commitLog) live() *segment {
	segs := cl.segments()
	if len(segs) == 0 {
		return nil
	}
	return segs[len(segs)-1]
}

// minOffset is the first offset still held.
func (cl *commitLog) minOffset() int64 {
	segs := cl.segments()
	if len(segs) == 0 {
		return 0
	}
	return segs[0].base
}

// find returns the segment holding offset off, or nil.
func (cl *commitLog) find(off int64) *segment {
	segs := cl.segments()
	if len(segs) == 0 || off < segs[0].base {
		return nil
	}
	i := int((off - segs[0].base) / cl.segSize)
	if i >= len(segs) {
		return nil
	}
	return segs[i]
}

// create adds a new live segment starting at base and makes its directory
// entry durable: a segment whose name can vanish in a crash would take
// fsynced records with it.
func (cl *commitLog) create(base int64) (*segment, error) {
	path := filepath.Join(cl.dir, segmentName(base))
	f, err := cl.fs.Create(path)
	if err != nil {
		return nil, err
	}
	if err := f.Preallocate(cl.segSize); err != nil {
		f.Close()
		return nil, err
	}
	if err := cl.fs.SyncDir(cl.dir); err != nil {
		f.Close()
		return nil, err
	}
	s := &segment{base: base, path: path, f: f}
	cl.mu.Lock()
	segs := make([]*segment, len(cl.segs), len(cl.segs)+1)
	copy(segs, cl.segs)
	cl.segs = append(segs, s)
	cl.mu.Unlock()
	return s, nil
}

// readAt reads len(p) bytes at log offset off, which must lie in one
// segment.
func (cl *commitLog) readAt(p []byte, off int64) error {
	s := cl.find(off)
	if s == nil {
		return fmt.Errorf("%w: offset %d not in the commitlog", ErrNotFound, off)
	}
	if off-s.base+int64(len(p)) > cl.segSize {
		return fmt.Errorf("%w: read of %d bytes at %d crosses a segment end", ErrNotFound, len(p), off)
	}
	n, err := s.f.ReadAt(p, off-s.base)
	if n == len(p) {
		return nil
	}
	if off < cl.minOffset() {
		// Retention removed (and closed) the segment while we read.
		return fmt.Errorf("%w: offset %d deleted by retention", ErrNotFound, off)
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: offset %d beyond the end of %s", ErrNotFound, off, s.path)
	}
	return err
}

// truncate cuts the log at end: later segments are removed and the segment
// holding end is truncated to it (the bytes after end are a torn tail or
// were declared lost by a repair).
func (cl *commitLog) truncate(end int64) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	keep := cl.segs[:0:0]
	var removed bool
	for _, s := range cl.segs {
		if s.base > end || (s.base == end && s.base != cl.segs[0].base) {
			s.f.Close()
			if err := cl.fs.Remove(s.path); err != nil {
				return err
			}
			removed = true
			continue
		}
		keep = append(keep, s)
	}
	cl.segs = keep
	if removed {
		if err := cl.fs.SyncDir(cl.dir); err != nil {
			return err
		}
	}
	if len(keep) == 0 {
		return nil
	}
	last := keep[len(keep)-1]
	if err := last.f.Truncate(end - last.base); err != nil {
		return err
	}
	return last.f.Sync()
}

// removeBefore deletes whole segments that end at or before off, never the
// live one, and returns how many it deleted.
func (cl *commitLog) removeBefore(off int64) (int, error) {
	cl.mu.Lock()
	var gone []*segment
	for len(cl.segs) > 1 && cl.segs[0].base+cl.segSize <= off {
		gone = append(gone, cl.segs[0])
		cl.segs = cl.segs[1:]
	}
	cl.mu.Unlock()
	for _, s := range gone {
		// Readers holding s may still be in ReadAt; on POSIX an unlinked
		// file stays readable through an open descriptor, and a read on a
		// closed one fails and is reported as not found.
		if err := cl.fs.Remove(s.path); err != nil {
			return 0, err
		}
	}
	if len(gone) > 0 {
		if err := cl.fs.SyncDir(cl.dir); err != nil {
			return len(gone), err
		}
		for _, s := range gone {
			s.f.Close()
		}
	}
	return len(gone), nil
}

func (cl *commitLog) close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var first error
	for _, s := range cl.segs {
		if err := s.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	cl.segs = nil
	return first
}
