package cqueue

import (
	"fmt"
	"io"
	"sync"
)

// readBufs holds Get's byte buffers between calls.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// Get appends the entries at queue offsets [from, min(from+max, MaxOffset))
// to buf[:0] and returns the result, reading each file touched with one
// positioned read. from == MaxOffset (or max <= 0) gives an empty slice.
// from below MinOffset gives ErrOffset wrapped with the current minimum;
// from beyond MaxOffset gives ErrOffset. An unwritten entry or a short file
// inside the range gives ErrCorrupt. Get never returns an entry at or past
// the MaxOffset published when it was called, and is safe to call from many
// goroutines while the writer works.
func (q *Queue) Get(from uint64, max int, buf []Entry) ([]Entry, error) {
	out := buf[:0]
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed.Load() {
		return out, ErrClosed
	}
	lo, hi := q.min.Load(), q.max.Load()
	switch {
	case from < lo:
		return out, fmt.Errorf("%w: %d is below the minimum %d", ErrOffset, from, lo)
	case from > hi:
		return out, fmt.Errorf("%w: %d is beyond the maximum %d", ErrOffset, from, hi)
	case from == hi || max <= 0:
		return out, nil
	}
	end := hi
	if uint64(max) < hi-from {
		end = from + uint64(max)
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for off := from; off < end; {
		idx := off / q.epf
		stop := min(end, (idx+1)*q.epf)
		var err error
		if out, err = q.readEntries(idx, off, stop, bp, out); err != nil {
			return out, err
		}
		off = stop
	}
	return out, nil
}

// readEntries appends the entries [off, stop) of file idx to out with one
// ReadAt into *bp. The caller holds q.mu shared.
func (q *Queue) readEntries(idx, off, stop uint64, bp *[]byte, out []Entry) ([]Entry, error) {
	n := int(stop-off) * EntrySize
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	b := (*bp)[:n]
	h, err := q.acquire(idx)
	if err != nil {
		return out, err
	}
	got, err := h.f.ReadAt(b, int64((off-idx*q.epf)*EntrySize))
	q.hdls.release(h)
	if got < n {
		if err == nil || err == io.EOF {
			return out, fmt.Errorf("%w: %s ends before queue offset %d", ErrCorrupt, q.path(idx), stop)
		}
		return out, fmt.Errorf("cqueue: read %s: %w", q.path(idx), err)
	}
	for i := 0; i < n; i += EntrySize {
		e := DecodeEntry(b[i:])
		if e.Size == 0 {
			return out, fmt.Errorf("%w: queue offset %d in %s is not written",
				ErrCorrupt, off+uint64(i/EntrySize), q.path(idx))
		}
		out = append(out, e)
	}
	return out, nil
}

// Search returns the smallest queue offset in [MinOffset, MaxOffset) whose
// entry satisfies pred, or MaxOffset if none does, by binary search reading
// one entry per probe. pred must be monotone over the queue: false for a
// prefix, true for the rest (for example "stored at or after time T",
// answered from the CommitLog). An error from pred is returned as is.
// Search does not hold locks while pred runs; if retention or Truncate move
// the bounds meanwhile, a probe may fail with ErrOffset and the search can
// be retried.
func (q *Queue) Search(pred func(Entry) (bool, error)) (uint64, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	lo, hi := q.MinOffset(), q.MaxOffset()
	var one [1]Entry
	for lo < hi {
		mid := lo + (hi-lo)/2
		es, err := q.Get(mid, 1, one[:0])
		if err != nil {
			return 0, err
		}
		if len(es) == 0 {
			return 0, fmt.Errorf("%w: queue offset %d vanished during search", ErrOffset, mid)
		}
		ok, err := pred(es[0])
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// SearchPhys returns the first queue offset whose message is at CommitLog
// offset phys or later (CommitLog offsets increase along a queue), or
// MaxOffset if there is none.
func (q *Queue) SearchPhys(phys int64) (uint64, error) {
	return q.Search(func(e Entry) (bool, error) { return e.Offset >= phys, nil })
}
