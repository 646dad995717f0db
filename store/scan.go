package store

import (
	"errors"
	"fmt"
	"io"

	"github.com/raftmq/raftmq/store/record"
)

// scanChunk is how much of a segment the scanner reads at once.
const scanChunk = 1 << 20

// scanStop says why a scan stopped.
type scanStop int

const (
	// stopEnd: no more data (end of the last segment's bytes, or zeros).
	stopEnd scanStop = iota + 1
	// stopBad: the bytes at pos are not a valid record (torn or corrupt).
	stopBad
	// stopIO: reading failed; nothing is known about the bytes at pos.
	stopIO
)

// scanner reads CommitLog records in order from an offset, verifying each.
// It is used by recovery and by the verifier; it never modifies files.
type scanner struct {
	cl  *commitLog
	pos int64
	seg *segment
	buf []byte
	// bufOff is the log offset of buf[0]; buf holds [bufOff, bufOff+len).
	bufOff int64
	eof    bool // the current segment file has no bytes past the buffer
	// limit, when positive, ends the scan there (stopEnd): bytes past it
	// may be being written.
	limit int64

	stop   scanStop
	reason error // for stopBad
}

func newScanner(cl *commitLog, from int64) *scanner {
	return &scanner{cl: cl, pos: from, seg: cl.find(from), bufOff: from}
}

// next returns the next message record and true, or false when the scan
// stopped; sc.stop and sc.reason say why and sc.pos where. Blank records are
// skipped (blanks counts them).
func (sc *scanner) next(blanks *int) (record.Message, int, bool) {
	for {
		if sc.seg == nil || (sc.limit > 0 && sc.pos >= sc.limit) {
			sc.stop = stopEnd
			return record.Message{}, 0, false
		}
		segEnd := sc.seg.base + sc.cl.segSize
		if sc.pos >= segEnd {
			if !sc.advance() {
				return record.Message{}, 0, false
			}
			continue
		}
		hdr, err := sc.peek(record.HeaderPeek)
		if err != nil {
			return sc.ioErr(err)
		}
		if len(hdr) == 0 || allZero(hdr) {
			sc.stop = stopEnd
			return record.Message{}, 0, false
		}
		if len(hdr) < record.HeaderPeek {
			return sc.bad(fmt.Errorf("short header: %w", record.ErrShort))
		}
		h, err := record.DecodeHeader(hdr)
		if err != nil {
			return sc.bad(err)
		}
		if h.Magic == record.MagicBlank {
			if int64(h.Size) != segEnd-sc.pos {
				return sc.bad(fmt.Errorf("blank of %d bytes does not reach the segment end (%d left): %w", h.Size, segEnd-sc.pos, record.ErrLength))
			}
			b, err := sc.peek(h.Size)
			if err != nil {
				return sc.ioErr(err)
			}
			if len(b) < h.Size {
				return sc.bad(fmt.Errorf("torn blank: %w", record.ErrShort))
			}
			if _, err := record.DecodeTrailer(b[h.Size-record.TrailerSize:]); err != nil {
				return sc.bad(fmt.Errorf("blank trailer: %w", err))
			}
			*blanks++
			sc.pos = segEnd
			continue
		}
		if int64(h.Size) > segEnd-sc.pos-record.MinBlankSize {
			return sc.bad(fmt.Errorf("record of %d bytes overruns the segment: %w", h.Size, record.ErrLength))
		}
		b, err := sc.peek(h.Size)
		if err != nil {
			return sc.ioErr(err)
		}
		m, n, err := record.Decode(b)
		if err != nil {
			return sc.bad(err)
		}
		if m.CommitLogOffset != sc.pos {
			return sc.bad(fmt.Errorf("record claims offset %d: %w", m.CommitLogOffset, record.ErrFormat))
		}
		sc.pos += int64(n)
		return m, n, true
	}
}

func (sc *scanner) bad(err error) (record.Message, int, bool) {
	sc.stop, sc.reason = stopBad, err
	return record.Message{}, 0, false
}

func (sc *scanner) ioErr(err error) (record.Message, int, bool) {
	sc.stop, sc.reason = stopIO, err
	return record.Message{}, 0, false
}

// advance moves to the next segment; false when there is none.
func (sc *scanner) advance() bool {
	next := sc.cl.find(sc.seg.base + sc.cl.segSize)
	if next == nil {
		sc.stop = stopEnd
		sc.seg = nil
		return false
	}
	sc.seg, sc.pos, sc.bufOff, sc.buf, sc.eof = next, next.base, next.base, sc.buf[:0], false
	return true
}

// peek returns up to n bytes at sc.pos (fewer only at the end of the
// file's data), reading the segment in chunks.
func (sc *scanner) peek(n int) ([]byte, error) {
	start := int(sc.pos - sc.bufOff)
	if start >= 0 && start+n <= len(sc.buf) {
		return sc.buf[start : start+n], nil
	}
	if start >= 0 && start <= len(sc.buf) && sc.eof {
		return sc.buf[start:], nil
	}
	want := max(n, scanChunk)
	want = int(min(int64(want), sc.seg.base+sc.cl.segSize-sc.pos))
	if cap(sc.buf) < want {
		sc.buf = make([]byte, want)
	}
	sc.buf = sc.buf[:want]
	got, err := sc.seg.f.ReadAt(sc.buf, sc.pos-sc.seg.base)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s at %d: %w", sc.seg.path, sc.pos-sc.seg.base, err)
	}
	sc.buf, sc.bufOff, sc.eof = sc.buf[:got], sc.pos, got < want
	return sc.buf[:min(n, got)], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ScanMessages calls fn for each message record from CommitLog offset
// from (a record start; a segment base always is) up to the written end
// at the call, in log order, verifying every record, until fn returns
// false. Blank records are skipped. It reads concurrently with appends
// and never modifies files. A range the store no longer holds (retention)
// gives ErrNotFound; a damaged record a *CorruptError.
func (s *Store) ScanMessages(from int64, fn func(m *Message) bool) error {
	end := s.written.Load()
	if from < s.cl.minOffset() || from > end {
		return fmt.Errorf("%w: offset %d outside [%d, %d]", ErrNotFound, from, s.cl.minOffset(), end)
	}
	sc := newScanner(s.cl, from)
	sc.limit = end
	var blanks int
	for {
		m, _, ok := sc.next(&blanks)
		if !ok {
			break
		}
		m.Flags &^= record.FlagBatchEnd
		if !fn(&m) {
			return nil
		}
	}
	switch {
	case sc.stop == stopIO:
		if sc.pos < s.cl.minOffset() {
			return fmt.Errorf("%w: offset %d deleted by retention during the scan", ErrNotFound, sc.pos)
		}
		return fmt.Errorf("store: scan: %w", sc.reason)
	case sc.stop == stopBad:
		return &CorruptError{Path: s.segPath(sc.pos), Offset: sc.pos, End: end, Reason: sc.reason}
	case sc.pos < end && sc.pos >= s.cl.minOffset():
		return &CorruptError{Path: s.segPath(sc.pos), Offset: sc.pos, End: end, Reason: errDataMissing}
	}
	return nil
}
