package keyindex

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/raftmq/raftmq/store/vfs"
)

// scanChunk is how many entries a slot-table rebuild reads per ReadAt.
const scanChunk = 4096

// indexFile is one open index file.
//
// The fields under "reader-visible" are read by Lookup under Index.mu
// (read lock) and changed only by the writer under Index.mu (write lock).
// The fields under "writer-only" are touched only by the writer, which
// holds Index.wmu.
type indexFile struct {
	f    vfs.File
	path string
	opts Options

	// reader-visible
	count     uint32   // entries [0, count) are live
	beginTime int64    // unix ms of entry 0; base of every timeDelta
	endTime   int64    // unix ms upper bound of every live entry's time
	beginPhys int64    // CommitLog offset of entry 0 (and the file's name)
	endPhys   int64    // CommitLog offset of entry count-1
	sealed    bool     // full, slot table on disk, never written again
	slots     []uint32 // in-memory slot table; only the active file has one

	// writer-only
	seq      uint64 // sequence of the newest valid header copy
	cur      int    // which copy (0 or 1) holds it; -1 if none
	covered  int64  // covered value of the newest valid header copy
	hdrCount uint32 // entry count of the newest valid header copy
}

func (x *indexFile) String() string { return x.path }

func (x *indexFile) corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, x.path, fmt.Sprintf(format, args...))
}

// loadFile opens an existing file and reads its header copies. It reports
// neverValid=true (and a nil error) when neither copy is valid and the
// file cannot ever have held a durable header: copy 0, which the first
// header write of every file goes to, is invalid and copy 1 is all zeros.
func loadFile(fs vfs.FS, dir, name string, phys int64, opts Options) (x *indexFile, neverValid bool, err error) {
	path := filepath.Join(dir, name)
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		return nil, false, err
	}
	x = &indexFile{f: f, path: path, opts: opts, cur: -1}
	neverValid, err = x.readHeaders(phys)
	if err != nil || neverValid {
		return nil, neverValid, errors.Join(err, f.Close())
	}
	return x, false, nil
}

func (x *indexFile) readHeaders(phys int64) (neverValid bool, err error) {
	buf := make([]byte, slotsOffset)
	n, err := x.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	clear(buf[n:])
	var best header
	for c := 0; c < headerCopies; c++ {
		h, ok, err := decodeHeader(buf[c*headerSize : (c+1)*headerSize])
		if err != nil {
			return false, x.corruptf("header copy %d: %v", c, err)
		}
		if ok && (x.cur < 0 || h.sequence > best.sequence) {
			best, x.cur = h, c
		}
	}
	if x.cur < 0 {
		if bytes.Count(buf[headerSize:], []byte{0}) == headerSize {
			return true, nil
		}
		return false, x.corruptf("both header copies invalid")
	}
	return false, x.adopt(best, phys)
}

// adopt checks a header against the file's name and size and takes its fields.
func (x *indexFile) adopt(h header, phys int64) error {
	size, err := x.f.Size()
	if err != nil {
		return err
	}
	if size != x.opts.fileSize() {
		return x.corruptf("size %d, want %d for Options %+v (were the Options changed?)",
			size, x.opts.fileSize(), x.opts)
	}
	switch {
	case h.beginPhys != phys:
		return x.corruptf("header beginPhys %d does not match the name", h.beginPhys)
	case int64(h.count) > int64(x.opts.EntriesPerFile):
		return x.corruptf("entry count %d > %d", h.count, x.opts.EntriesPerFile)
	case h.sealed && int64(h.count) != int64(x.opts.EntriesPerFile):
		return x.corruptf("sealed with %d of %d entries", h.count, x.opts.EntriesPerFile)
	}
	x.count, x.sealed = h.count, h.sealed
	x.beginTime, x.endTime = h.beginTime, h.endTime
	x.beginPhys, x.endPhys = h.beginPhys, h.endPhys
	x.seq, x.covered, x.hdrCount = h.sequence, h.covered, h.count
	return nil
}

// createFile creates the file for entries starting at phys, stored at
// unix ms storeTime, with its first header (copy 0, sequence 1) durable and
// its directory entry synced.
func createFile(fs vfs.FS, dir string, opts Options, phys, storeTime, covered int64) (*indexFile, error) {
	path := filepath.Join(dir, fileName(phys))
	f, err := fs.Create(path)
	if err != nil {
		return nil, err
	}
	x := &indexFile{
		f: f, path: path, opts: opts, cur: -1,
		beginTime: storeTime, endTime: storeTime, beginPhys: phys, endPhys: phys,
	}
	err = f.Truncate(opts.fileSize())
	if err == nil {
		err = x.writeHeader(covered)
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	if err != nil {
		return nil, errors.Join(err, f.Close(), fs.Remove(path))
	}
	return x, nil
}

// writeHeader writes the file's current fields with the given covered
// value to the header copy that does not hold the newest valid header, then
// syncs. A torn write therefore never destroys the last good copy. The
// caller must have synced every entry the header counts.
func (x *indexFile) writeHeader(covered int64) error {
	h := header{
		sealed: x.sealed, sequence: x.seq + 1,
		beginTime: x.beginTime, endTime: x.endTime,
		beginPhys: x.beginPhys, endPhys: x.endPhys,
		covered: covered, count: x.count,
	}
	target := 0
	if x.cur == 0 {
		target = 1
	}
	var buf [headerSize]byte
	h.encode(buf[:])
	if _, err := x.f.WriteAt(buf[:], int64(target*headerSize)); err != nil {
		return err
	}
	if err := x.f.Sync(); err != nil {
		return err
	}
	x.seq, x.cur, x.covered, x.hdrCount = h.sequence, target, covered, h.count
	return nil
}

// readEntry reads entry number n into buf (entrySize bytes).
func (x *indexFile) readEntry(n uint32, buf []byte) (entry, error) {
	if _, err := x.f.ReadAt(buf[:entrySize], x.opts.entryOffset(n)); err != nil {
		return entry{}, fmt.Errorf("keyindex: %s: read entry %d: %w", x.path, n, err)
	}
	return decodeEntry(buf), nil
}

// readSlot returns the slot value for hash: from memory for the active
// file, from disk for a sealed one.
func (x *indexFile) readSlot(hash uint32, buf []byte) (uint32, error) {
	s := hash % uint32(x.opts.Slots)
	if x.slots != nil {
		return x.slots[s], nil
	}
	off := slotsOffset + int64(s)*slotSize
	if _, err := x.f.ReadAt(buf[:slotSize], off); err != nil {
		return 0, fmt.Errorf("keyindex: %s: read slot %d: %w", x.path, s, err)
	}
	return uint32(buf[0])<<24 | uint32(buf[1])<<16 | uint32(buf[2])<<8 | uint32(buf[3]), nil
}

// countBelow is the number of live entries with phys < limit (entries are
// sorted by phys).
func (x *indexFile) countBelow(limit int64) (uint32, error) {
	var buf [entrySize]byte
	var rerr error
	n := sort.Search(int(x.count), func(i int) bool {
		if rerr != nil {
			return true
		}
		e, err := x.readEntry(uint32(i), buf[:])
		rerr = err
		return err == nil && e.phys >= limit
	})
	return uint32(n), rerr
}

// rebuildSlots fills slots (len Slots, cleared here) from entries [0, n)
// and checks every entry's prev pointer, order and slot. It returns the
// phys of the last entry and the upper bound of the entries' store times.
func (x *indexFile) rebuildSlots(slots []uint32, n uint32) (endPhys, endTime int64, err error) {
	clear(slots)
	buf := make([]byte, scanChunk*entrySize)
	endPhys, endTime = x.beginPhys, x.beginTime
	for start := uint32(0); start < n; start += scanChunk {
		k := min(n-start, scanChunk)
		if _, err := x.f.ReadAt(buf[:k*entrySize], x.opts.entryOffset(start)); err != nil {
			return 0, 0, fmt.Errorf("keyindex: %s: read entries: %w", x.path, err)
		}
		for j := uint32(0); j < k; j++ {
			no := start + j
			e := decodeEntry(buf[j*entrySize:])
			s := e.hash % uint32(len(slots))
			switch {
			case no == 0 && e.phys != x.beginPhys:
				return 0, 0, x.corruptf("entry 0 phys %d, want %d", e.phys, x.beginPhys)
			case no > 0 && e.phys < endPhys:
				return 0, 0, x.corruptf("entry %d phys %d below %d", no, e.phys, endPhys)
			case e.prev != slots[s]:
				return 0, 0, x.corruptf("entry %d prev %d, want %d", no, e.prev, slots[s])
			}
			slots[s] = no + 1
			endPhys = e.phys
			_, hi := timeSpan(x.beginTime, e.delta)
			endTime = max(endTime, hi)
		}
	}
	return endPhys, endTime, nil
}
