package keyindex

import (
	"slices"
	"sort"
)

// Truncate drops every entry with Phys >= phys; the store calls it when
// the CommitLog tail is cut after a crash. Files beginning at or after phys
// are deleted, the last remaining file is trimmed (and unsealed if it was
// sealed; its slot table is rebuilt in memory), and covered becomes
// min(covered, phys), persisted by a header write before any file is
// removed, so a crash part way leaves a state the next Open finishes. If no
// entry survives and covered is above 0, an empty file named by covered is
// kept to carry it.
//
// Lookups wait while Truncate runs. After an error the Index should be
// closed and reopened.
func (x *Index) Truncate(phys int64) error {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.isClosed() {
		return ErrClosed
	}
	phys = max(phys, 0)
	return x.truncateLocked(phys, min(x.marked, phys))
}

// truncateLocked drops entries with Phys >= phys and makes the durable
// covered value at most cov (cov <= phys). The order of the disk writes
// keeps every crash point recoverable, because Open takes covered from
// the last file present and truncates to it:
//
//  1. the last file's header is rewritten with covered lowered to cov;
//  2. the surviving file is trimmed and its header written with cov;
//  3. doomed files are removed oldest first, so the last one to go is the
//     one whose covered was lowered in step 1.
func (x *Index) truncateLocked(phys, cov int64) error {
	x.marked = min(x.marked, cov)
	n := len(x.files)
	if n == 0 {
		return nil
	}
	last := x.files[n-1]
	if last.covered > cov {
		if err := persist(last, cov); err != nil {
			return err
		}
	}
	cut := sort.Search(n, func(i int) bool { return x.files[i].beginPhys >= phys })
	if cut > 0 {
		if err := x.trimSurvivor(x.files[cut-1], phys, cov, cut < n); err != nil {
			return err
		}
	}
	if cut == 0 && cov > 0 {
		// Nothing survives, but covered must: keep an empty file named
		// cov as its carrier, before removing anything.
		if err := x.keepCarrier(cov); err != nil {
			return err
		}
		cut, n = 1, len(x.files) // the carrier is now files[0]
	}
	if cut < n {
		doomed := slices.Clone(x.files[cut:])
		x.mu.Lock()
		x.files = slices.Clip(x.files[:cut])
		x.mu.Unlock()
		for _, f := range doomed {
			f.slots = nil
			if err := x.removeFile(f); err != nil {
				return err
			}
		}
		if err := x.fs.SyncDir(x.dir); err != nil {
			return err
		}
	}
	x.lastPhys = x.computeLastPhys()
	durable := int64(0)
	if len(x.files) > 0 {
		durable = x.files[len(x.files)-1].covered
	}
	x.setDurable(durable)
	return nil
}

// keepCarrier makes the first file an empty, unsealed file named cov whose
// header says covered = cov: the first file itself if it is named cov,
// otherwise a new file inserted in front. Every later file is then doomed.
// A carrier is replaced by a properly named file on the next Add.
func (x *Index) keepCarrier(cov int64) error {
	slots := x.files[len(x.files)-1].slots
	if slots == nil {
		slots = make([]uint32, x.opts.Slots)
	}
	clear(slots)
	if first := x.files[0]; first.beginPhys == cov {
		x.mu.Lock()
		if first != x.files[len(x.files)-1] {
			x.files[len(x.files)-1].slots = nil
		}
		first.count, first.sealed, first.slots = 0, false, slots
		first.endPhys, first.endTime = first.beginPhys, first.beginTime
		x.mu.Unlock()
		return persist(first, cov)
	}
	c, err := createFile(x.fs, x.dir, x.opts, cov, 0, cov)
	if err != nil {
		return err
	}
	x.mu.Lock()
	x.files[len(x.files)-1].slots = nil
	c.slots = slots
	x.files = append([]*indexFile{c}, x.files...)
	x.mu.Unlock()
	return nil
}

// trimSurvivor trims s, the newest file that keeps entries, to the entries
// below phys and writes its header. If later files are going away
// (hasDoomed), s is about to become the last file and its header must
// carry cov even when nothing is trimmed.
func (x *Index) trimSurvivor(s *indexFile, phys, cov int64, hasDoomed bool) error {
	k, err := s.countBelow(phys)
	if err != nil {
		return err
	}
	if k == s.count && (!hasDoomed || s.covered == cov) {
		return nil
	}
	if k < s.count {
		slots := s.slots
		if slots == nil {
			if last := x.files[len(x.files)-1]; last.slots != nil && last != s {
				slots = last.slots
			} else {
				slots = make([]uint32, x.opts.Slots)
			}
		}
		x.mu.Lock()
		s.count, s.sealed, s.slots = k, false, slots
		endPhys, endTime, err := s.rebuildSlots(slots, k)
		s.endPhys, s.endTime = endPhys, endTime
		x.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if !hasDoomed {
		cov = min(cov, s.covered)
	}
	return persist(s, cov)
}

// persist syncs an unsealed file's entries and writes its header.
func persist(f *indexFile, covered int64) error {
	if !f.sealed {
		if err := f.f.Sync(); err != nil {
			return err
		}
	}
	return f.writeHeader(covered)
}

// DeleteBefore deletes sealed files whose last entry is below phys
// (retention), oldest first, and syncs the directory. The last file is
// never deleted, sealed or not: it carries the covered value. It returns
// the number of files deleted.
func (x *Index) DeleteBefore(phys int64) (files int, err error) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.isClosed() {
		return 0, ErrClosed
	}
	cut := 0
	for cut < len(x.files)-1 && x.files[cut].sealed && x.files[cut].endPhys < phys {
		cut++
	}
	if cut == 0 {
		return 0, nil
	}
	doomed := slices.Clone(x.files[:cut])
	x.mu.Lock()
	x.files = slices.Clone(x.files[cut:])
	x.mu.Unlock()
	for i, f := range doomed {
		if err := x.removeFile(f); err != nil {
			return i, err
		}
	}
	return cut, x.fs.SyncDir(x.dir)
}
