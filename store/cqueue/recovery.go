package cqueue

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// nameLen is the length of a file name: 20 decimal digits. Format.
const nameLen = 20

// scanChunk is how many entries Open reads at a time while scanning.
const scanChunk = 4096

// parseNames turns the directory listing into sorted, contiguous file
// indices.
func (q *Queue) parseNames(names []string) ([]uint64, error) {
	fileBytes := q.epf * EntrySize
	idxs := make([]uint64, 0, len(names))
	for _, name := range names {
		start, err := parseName(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, q.dir, err)
		}
		if start%fileBytes != 0 {
			return nil, fmt.Errorf("%w: %s/%s does not start on a %d-entry file boundary (EntriesPerFile changed?)",
				ErrCorrupt, q.dir, name, q.epf)
		}
		idxs = append(idxs, start/fileBytes)
	}
	slices.Sort(idxs)
	for i := 1; i < len(idxs); i++ {
		if idxs[i] != idxs[i-1]+1 {
			return nil, fmt.Errorf("%w: gap in %s between %s and %s",
				ErrCorrupt, q.dir, q.path(idxs[i-1]), q.path(idxs[i]))
		}
	}
	return idxs, nil
}

// parseName parses a 20-digit file name into its starting byte offset.
func parseName(name string) (uint64, error) {
	if len(name) != nameLen {
		return 0, fmt.Errorf("file name %q is not %d digits", name, nameLen)
	}
	for _, c := range []byte(name) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("file name %q is not %d digits", name, nameLen)
		}
	}
	v, err := strconv.ParseUint(name, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("file name %q: %w", name, err)
	}
	return v, nil
}

// recover sets MinOffset and MaxOffset from the files and cuts off what
// lies past MaxOffset, syncing the repair.
func (q *Queue) recover() error {
	if q.first == q.end {
		return nil // a new queue
	}
	maxOff := q.first * q.epf
	for idx := q.end; idx > q.first; idx-- {
		n, err := q.scanFile(idx - 1)
		if err != nil {
			return err
		}
		if n > 0 {
			maxOff = (idx-1)*q.epf + n
			break
		}
	}
	q.min.Store(q.first * q.epf)
	q.max.Store(maxOff)
	if err := q.cutTail(maxOff); err != nil {
		return err
	}
	return q.syncWriter()
}

// scanFile counts the entries written at the start of file idx: up to the
// first zero-size entry, the end of the file, or EntriesPerFile.
func (q *Queue) scanFile(idx uint64) (uint64, error) {
	h, err := q.acquire(idx)
	if err != nil {
		return 0, err
	}
	defer q.hdls.release(h)
	buf := make([]byte, scanChunk*EntrySize)
	var n uint64
	for n < q.epf {
		want := min(q.epf-n, scanChunk) * EntrySize
		got, err := h.f.ReadAt(buf[:want], int64(n*EntrySize))
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("cqueue: scan %s: %w", q.path(idx), err)
		}
		for i := 0; i+EntrySize <= got; i += EntrySize {
			if DecodeEntry(buf[i:]).Size == 0 {
				return n, nil
			}
			n++
		}
		if uint64(got) < want {
			return n, nil // end of file; a trailing partial entry is ignored
		}
	}
	return n, nil
}

// cutTail removes every file after the one holding queue offset qo (newest
// first, each removal synced) and cuts that file to end just before qo. The
// cut file is left dirty for the next Sync.
func (q *Queue) cutTail(qo uint64) error {
	idx := qo / q.epf
	for q.end > idx+1 {
		if err := q.removeFile(q.end - 1); err != nil {
			return err
		}
		q.end--
	}
	if idx < q.first || idx >= q.end {
		return nil // qo is at the end of the last file: nothing to cut
	}
	h, err := q.acquire(idx)
	if err != nil {
		return err
	}
	keep := int64((qo - idx*q.epf) * EntrySize)
	size, err := h.f.Size()
	if err == nil && size > keep {
		err = h.f.Truncate(keep)
		if err == nil {
			q.markDirty(idx, h)
			return nil
		}
	}
	q.hdls.release(h)
	if err != nil {
		return fmt.Errorf("cqueue: cut %s to %d bytes: %w", q.path(idx), keep, err)
	}
	return nil
}
