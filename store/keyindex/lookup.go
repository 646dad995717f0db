package keyindex

// Lookup returns the CommitLog offsets of entries whose key hash is hash
// and whose store time may lie in [begin, end] (unix ms, inclusive), newest
// first, at most limit of them (limit <= 0 means no limit).
//
// Times are kept at one-second granularity, so results may include entries
// up to a second outside the range, and hash collisions are returned too:
// the caller reads each record and re-checks its key and timestamp. Files
// whose [beginTimestamp, endTimestamp] does not overlap the range are
// skipped; the index assumes store times do not go backwards across files.
//
// Lookup is safe to call concurrently with the writer. A chain that points
// out of range or forwards is ErrCorrupt naming the file.
func (x *Index) Lookup(hash uint32, begin, end int64, limit int) ([]int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, ErrClosed
	}
	var out []int64
	buf := make([]byte, entrySize)
	for i := len(x.files) - 1; i >= 0; i-- {
		f := x.files[i]
		if f.count == 0 || f.endTime < begin || f.beginTime > end {
			continue
		}
		var err error
		if out, err = f.lookup(hash, begin, end, limit, out, buf); err != nil {
			return out, err
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// lookup walks f's chain for hash, appending matches to out. The caller
// holds Index.mu for reading.
func (x *indexFile) lookup(hash uint32, begin, end int64, limit int, out []int64, buf []byte) ([]int64, error) {
	slot := hash % uint32(x.opts.Slots)
	next, err := x.readSlot(hash, buf)
	if err != nil {
		return out, err
	}
	if next > x.count {
		return out, x.corruptf("slot %d points at entry %d of %d", slot, int64(next)-1, x.count)
	}
	for next != 0 {
		no := next - 1
		e, err := x.readEntry(no, buf)
		if err != nil {
			return out, err
		}
		if e.hash%uint32(x.opts.Slots) != slot {
			return out, x.corruptf("entry %d with hash %#x found in the chain of slot %d", no, e.hash, slot)
		}
		if e.hash == hash {
			if lo, hi := timeSpan(x.beginTime, e.delta); hi >= begin && lo <= end {
				out = append(out, e.phys)
				if limit > 0 && len(out) >= limit {
					return out, nil
				}
			}
		}
		if e.prev > no {
			return out, x.corruptf("entry %d has prev pointer %d, not below itself", no, int64(e.prev)-1)
		}
		next = e.prev
	}
	return out, nil
}
