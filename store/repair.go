package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

// Detecting and repairing damaged CommitLog bytes.
//
// Every record carries a CRC32C, and replicas of one Raft group write
// byte-identical CommitLogs (same offsets, leader-chosen timestamps,
// deterministic blanks and trailers). So a record that fails its checksum
// on one replica is repaired by copying the same byte range from another
// replica, after checking those bytes record by record:
//
//   - reads never return a damaged record: they fail with a *CorruptError
//     (ErrCorrupt) and report it to Options.OnCorrupt;
//   - Scrub checks every record below the written end in the background;
//   - ReadVerified returns a byte range (for a replica, a snapshot
//     stream) only if every record in it is valid here, so damage never
//     spreads;
//   - RepairCommitLog (open store) and RepairDir (closed store) take such
//     a range and rewrite only the local records that are damaged; a
//     local record that is valid must equal the replica's bytes exactly,
//     else nothing is written (ErrDiverged). The rewritten segment is
//     fsynced before they return.

var errDataMissing = errors.New("data missing (zeros or end of file where records were durable)")

// claimsOffset reports whether the record bytes in b name off as their own
// CommitLog offset.
func claimsOffset(b []byte, off int64) bool {
	c, ok := record.ClaimedOffset(b)
	return ok && c == off
}

// corrupt builds the error for a damaged record at off and reports it.
func (s *Store) corrupt(off int64, reason error) error {
	e := &CorruptError{Path: s.segPath(off), Offset: off, End: s.written.Load(), Reason: reason}
	s.reportCorrupt(e)
	return e
}

func (s *Store) reportCorrupt(e *CorruptError) {
	s.log.Error("CORRUPT commitlog record; not served", "path", e.Path, "offset", e.Offset, "reason", e.Reason)
	if s.opts.OnCorrupt != nil {
		s.opts.OnCorrupt(e)
	}
}

// Scrub verifies the checksum of every CommitLog record below the current
// written end, segment by segment, and returns a *CorruptError for the
// first damaged one (also reported to Options.OnCorrupt), or nil. It reads
// concurrently with appends and never modifies files.
func (s *Store) Scrub() error {
	end := s.written.Load()
	from := s.cl.minOffset()
	sc := newScanner(s.cl, from)
	sc.limit = end
	var blanks int
	for {
		if _, _, ok := sc.next(&blanks); !ok {
			break
		}
	}
	switch {
	case sc.stop == stopIO:
		if sc.pos < s.cl.minOffset() {
			return nil // retention deleted the segment under the scan
		}
		return fmt.Errorf("store: scrub: %w", sc.reason)
	case sc.stop == stopBad:
		e := &CorruptError{Path: s.segPath(sc.pos), Offset: sc.pos, End: end, Reason: sc.reason}
		s.reportCorrupt(e)
		return e
	case sc.pos < end && sc.pos >= s.cl.minOffset():
		e := &CorruptError{Path: s.segPath(sc.pos), Offset: sc.pos, End: end, Reason: errDataMissing}
		s.reportCorrupt(e)
		return e
	}
	return nil
}

// ReadVerified returns the raw CommitLog bytes [off, off+n), cut at the
// written end and at the end of off's segment, after checking that they
// are whole valid records starting at off. off must be a record start (a
// segment base always is). A damaged record gives a *CorruptError, not
// reported to Options.OnCorrupt: off comes from the caller, and bytes that
// are no record start are not damage (the caller reports what it knows to
// be a record start). A range the store does not hold gives ErrNotFound.
func (s *Store) ReadVerified(off int64, n int) ([]byte, error) {
	end := min(s.written.Load(), off+int64(n), off-off%s.opts.SegmentSize+s.opts.SegmentSize)
	if off < s.cl.minOffset() || off >= end {
		return nil, fmt.Errorf("%w: range [%d, %d) outside [%d, %d)", ErrNotFound, off, off+int64(n), s.cl.minOffset(), s.written.Load())
	}
	buf := make([]byte, end-off)
	if err := s.cl.readAt(buf, off); err != nil {
		return nil, err
	}
	good, err := validRecords(buf, off, s.opts.SegmentSize)
	if err != nil {
		var e *CorruptError
		if errors.As(err, &e) {
			e.Path, e.End = s.segPath(e.Offset), s.written.Load()
		}
		return nil, err
	}
	return buf[:good], nil
}

// validRecords checks that b, the CommitLog bytes at off, is a sequence of
// valid records (messages at their own offsets; blanks reaching the
// segment end with a valid trailer) and returns how many bytes of whole
// records it holds. A record cut by the end of b ends the sequence.
func validRecords(b []byte, off, segSize int64) (int, error) {
	pos := 0
	segEnd := off - off%segSize + segSize
	for pos < len(b) {
		at := off + int64(pos)
		h, err := record.DecodeHeader(b[pos:])
		if errors.Is(err, record.ErrShort) {
			return pos, nil
		}
		if err != nil {
			return pos, &CorruptError{Offset: at, Reason: err}
		}
		if h.Magic == record.MagicBlank {
			if int64(h.Size) != segEnd-at {
				return pos, &CorruptError{Offset: at, Reason: fmt.Errorf("blank of %d bytes does not reach the segment end: %w", h.Size, record.ErrLength)}
			}
			if pos+h.Size > len(b) {
				return pos, nil
			}
			if _, err := record.DecodeTrailer(b[pos+h.Size-record.TrailerSize : pos+h.Size]); err != nil {
				return pos, &CorruptError{Offset: at, Reason: err}
			}
			pos += h.Size
			continue
		}
		if int64(h.Size) > segEnd-at-record.MinBlankSize {
			return pos, &CorruptError{Offset: at, Reason: fmt.Errorf("record of %d bytes overruns the segment: %w", h.Size, record.ErrLength)}
		}
		if pos+h.Size > len(b) {
			return pos, nil
		}
		m, _, err := record.Decode(b[pos : pos+h.Size])
		if err == nil && m.CommitLogOffset != at {
			err = fmt.Errorf("record claims offset %d: %w", m.CommitLogOffset, record.ErrFormat)
		}
		if err != nil {
			return pos, &CorruptError{Offset: at, Reason: err}
		}
		pos += h.Size
	}
	return pos, nil
}

// RepairCommitLog rewrites the damaged local records in [off,
// off+len(good)) with the bytes good, read from a replica (ReadVerified
// there). good must be whole valid records starting at off and lie below
// the written end, in one segment. Local records that are valid must equal
// good byte for byte (ErrDiverged otherwise, and nothing is written). It
// returns how many records it rewrote; the segment is fsynced first.
// Readers may run concurrently; they see either the damaged record
// (refused) or the repaired one.
func (s *Store) RepairCommitLog(off int64, good []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if off < s.cl.minOffset() || off+int64(len(good)) > s.written.Load() {
		return 0, fmt.Errorf("%w: repair range [%d, %d) outside [%d, %d)", ErrNotFound, off, off+int64(len(good)), s.cl.minOffset(), s.written.Load())
	}
	seg := s.cl.find(off)
	if seg == nil {
		return 0, fmt.Errorf("%w: no segment holds %d", ErrNotFound, off)
	}
	n, err := patchRecords(seg.f, seg.base, s.opts.SegmentSize, off, good)
	if n > 0 {
		s.log.Warn("repaired commitlog records from a replica", "path", seg.path, "from", off, "to", off+int64(len(good)), "records", n)
	}
	return n, err
}

// RepairDir is RepairCommitLog for a closed store in dir (on fs; nil means
// the operating system's): the repair Open needs when recovery met a
// damaged record (a *CorruptError). good may reach past the local data.
func RepairDir(fs vfs.FS, dir string, segSize, off int64, good []byte) (int, error) {
	if fs == nil {
		fs = vfs.OS()
	}
	path := filepath.Join(dir, commitLogDir, segmentName(off-off%segSize))
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return patchRecords(f, off-off%segSize, segSize, off, good)
}

// patchRecords does the work of RepairCommitLog on one segment file.
func patchRecords(f vfs.File, base, segSize, off int64, good []byte) (int, error) {
	if off < base || off+int64(len(good)) > base+segSize {
		return 0, fmt.Errorf("%w: repair range [%d, %d) crosses segment %d", ErrNotFound, off, off+int64(len(good)), base)
	}
	n, err := validRecords(good, off, segSize)
	if err != nil {
		return 0, fmt.Errorf("store: replica bytes for repair: %w", err)
	}
	if n != len(good) {
		return 0, fmt.Errorf("%w: replica bytes for repair end inside a record at %d", ErrCorrupt, off+int64(n))
	}
	type patch struct {
		at  int64
		rec []byte
	}
	var patches []patch
	local := make([]byte, len(good))
	got, err := f.ReadAt(local, off-base)
	if err != nil && got < len(local) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	local = local[:got]
	for pos := 0; pos < len(good); {
		h, _ := record.DecodeHeader(good[pos:]) // validated above
		rec := good[pos : pos+h.Size]
		at := off + int64(pos)
		pos += h.Size
		var mine []byte
		if pos <= len(local) {
			mine = local[pos-h.Size : pos]
		}
		if bytes.Equal(mine, rec) {
			continue
		}
		if mine != nil {
			if k, err := validRecords(mine, at, segSize); err == nil && k == len(mine) {
				return 0, fmt.Errorf("%w: at log offset %d", ErrDiverged, at)
			}
		}
		patches = append(patches, patch{at, rec})
	}
	for _, p := range patches {
		if _, err := f.WriteAt(p.rec, p.at-base); err != nil {
			return 0, fmt.Errorf("store: repair write at %d: %w", p.at, err)
		}
	}
	if len(patches) > 0 {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("store: repair fsync: %w", err)
		}
	}
	return len(patches), nil
}
