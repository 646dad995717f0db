package keyindex

import (
	"encoding/binary"
	"fmt"
)

// sealChunk bounds the buffer used to write a slot table when sealing.
const sealChunk = 1 << 20

// Add appends items to the index. Phys must be non-decreasing across
// all calls and not below the MarkCovered value, or the whole batch is
// rejected with ErrOrder before anything is written.
//
// Entries go to the active file with one WriteAt per file touched; they are
// not synced (Flush does that). When the active file is full it is sealed
// (slot table written, fdatasync, header with sealed=1, fdatasync) and the
// next file is created, named by the first Phys that goes into it.
func (x *Index) Add(items []Item) error {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.isClosed() {
		return ErrClosed
	}
	if err := x.checkOrder(items); err != nil {
		return err
	}
	for len(items) > 0 {
		f, err := x.activeFor(items[0])
		if err != nil {
			return err
		}
		n := min(uint32(x.opts.EntriesPerFile)-f.count, uint32(len(items)))
		if err := x.appendLocked(f, items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func (x *Index) checkOrder(items []Item) error {
	prev := x.lastPhys
	for i, it := range items {
		if it.Phys < 0 || it.Phys < prev || it.Phys < x.marked {
			return fmt.Errorf("%w: item %d has phys %d after %d (covered mark %d)",
				ErrOrder, i, it.Phys, prev, x.marked)
		}
		prev = it.Phys
	}
	return nil
}

// activeFor returns the unsealed, not full file that it goes into next,
// sealing and creating files as needed.
func (x *Index) activeFor(it Item) (*indexFile, error) {
	var slots []uint32
	if n := len(x.files); n > 0 && !x.files[n-1].sealed {
		last := x.files[n-1]
		switch {
		case last.count == 0 && last.beginPhys == it.Phys:
			x.mu.Lock()
			last.beginTime, last.endTime = it.StoreTime, it.StoreTime
			x.mu.Unlock()
			return last, nil
		case last.count == 0:
			// An empty file (a crash left it, or it carries covered after a
			// Truncate) named below it.Phys: create the file for it first,
			// then remove the empty one, so a file with covered always exists.
			return x.replaceEmpty(last, it)
		case last.count < uint32(x.opts.EntriesPerFile):
			return last, nil
		default:
			var err error
			if slots, err = x.seal(last); err != nil {
				return nil, err
			}
		}
	}
	f, err := createFile(x.fs, x.dir, x.opts, it.Phys, it.StoreTime, x.marked)
	if err != nil {
		return nil, err
	}
	if slots == nil {
		slots = make([]uint32, x.opts.Slots)
	}
	clear(slots)
	x.mu.Lock()
	f.slots = slots
	x.files = append(x.files, f)
	x.durable = x.marked
	x.mu.Unlock()
	return f, nil
}

// replaceEmpty creates the file for it after the empty last file, then
// removes the empty one. Its name is below it.Phys: an empty file is named
// at or below the covered mark, and Add refuses items below the mark.
func (x *Index) replaceEmpty(empty *indexFile, it Item) (*indexFile, error) {
	if it.Phys < empty.beginPhys {
		// Not reachable through the API; refuse rather than misorder files.
		return nil, empty.corruptf("empty file named above the next item %d", it.Phys)
	}
	f, err := createFile(x.fs, x.dir, x.opts, it.Phys, it.StoreTime, x.marked)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	f.slots, empty.slots = empty.slots, nil
	clear(f.slots)
	x.files[len(x.files)-1] = f
	x.durable = x.marked
	x.mu.Unlock()
	if err := x.removeFile(empty); err != nil {
		return nil, err
	}
	return f, x.fs.SyncDir(x.dir)
}

// seal writes f's slot table and a sealed header, both synced, and hands
// back the in-memory slot table for the next file to reuse.
func (x *Index) seal(f *indexFile) ([]uint32, error) {
	buf := make([]byte, min(sealChunk, len(f.slots)*slotSize))
	per := len(buf) / slotSize
	for start := 0; start < len(f.slots); start += per {
		part := f.slots[start:min(start+per, len(f.slots))]
		for i, v := range part {
			binary.BigEndian.PutUint32(buf[i*slotSize:], v)
		}
		off := slotsOffset + int64(start)*slotSize
		if _, err := f.f.WriteAt(buf[:len(part)*slotSize], off); err != nil {
			return nil, err
		}
	}
	if err := f.f.Sync(); err != nil {
		return nil, err
	}
	x.mu.Lock()
	slots := f.slots
	f.sealed, f.slots = true, nil
	x.mu.Unlock()
	if err := f.writeHeader(x.marked); err != nil {
		x.mu.Lock()
		f.sealed, f.slots = false, slots
		x.mu.Unlock()
		return nil, err
	}
	x.setDurable(x.marked)
	return slots, nil
}

// appendLocked writes items as entries count.. of f with one WriteAt and
// publishes them. The slot table and count change together under mu, so a
// reader never sees a slot pointing past count.
func (x *Index) appendLocked(f *indexFile, items []Item) error {
	need := len(items) * entrySize
	if cap(x.scratch) < need {
		x.scratch = make([]byte, need)
	}
	buf := x.scratch[:need]
	x.mu.Lock()
	defer x.mu.Unlock()
	base := f.count
	endTime := f.endTime
	for j, it := range items {
		s := it.Hash % uint32(x.opts.Slots)
		e := entry{hash: it.Hash, phys: it.Phys, delta: timeDelta(f.beginTime, it.StoreTime), prev: f.slots[s]}
		e.encode(buf[j*entrySize:])
		f.slots[s] = base + uint32(j) + 1
		endTime = max(endTime, it.StoreTime)
	}
	if _, err := f.f.WriteAt(buf, x.opts.entryOffset(base)); err != nil {
		for j := len(items) - 1; j >= 0; j-- {
			e := decodeEntry(buf[j*entrySize:])
			f.slots[e.hash%uint32(x.opts.Slots)] = e.prev
		}
		return err
	}
	f.count += uint32(len(items))
	f.endPhys = items[len(items)-1].Phys
	f.endTime = endTime
	x.lastPhys = f.endPhys
	return nil
}
