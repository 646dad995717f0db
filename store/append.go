package store

import (
	"fmt"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
)

const syscallENOSPC = syscall.ENOSPC

// diskCheckEvery bounds how often Append asks the file system for its use.
const diskCheckEvery = 250 * time.Millisecond

// Append writes a batch of messages to the CommitLog in one write per
// segment touched, assigns each its CommitLog offset and queue offset (set
// in the messages and returned), and dispatches them to their
// ConsumeQueues and the key index. Each run of consecutive messages with
// the same RaftIndex (one Raft entry; the whole call when all share one)
// is atomic across a crash: after recovery it is either wholly present or
// wholly absent. A record's bytes depend only on the message and its run,
// never on how runs were grouped into calls, so replicas that apply the
// same entries in different Append calls write identical bytes.
//
// In FlushSync mode Append returns once the batch is fsynced; in
// FlushAsync mode once it is written (DurableOffset tells how far is
// durable). Messages must carry their StoreTimestamp and RaftIndex: the
// store never reads the clock into a record, so replicas appending the
// same batch write identical bytes.
//
// Messages become readable as soon as they are written, before they are
// durable in async mode.
func (s *Store) Append(msgs []*Message) ([]AppendResult, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrInvalidMessage)
	}
	for _, m := range msgs {
		if err := ValidateMessage(m, s.opts); err != nil {
			return nil, err
		}
	}
	res := make([]AppendResult, len(msgs))
	s.wmu.Lock()
	end, err := s.appendLocked(msgs, res)
	s.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	if s.opts.FlushMode == FlushSync {
		if err := s.fl.waitDurable(end); err != nil {
			return nil, err
		}
	} else {
		s.fl.maybeKick(s.opts.FlushDirtyBytes)
	}
	return res, nil
}

func (s *Store) appendLocked(msgs []*Message, res []AppendResult) (int64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	if !s.opts.SkipDiskCheck {
		if err := s.CheckDisk(); err != nil {
			return 0, err
		}
	}
	seg := s.cl.live()
	pos := s.written.Load()
	bufStart := pos
	buf := s.wbuf[:0]
	// lastTS is the store timestamp of the last record written; a sealed
	// segment's trailer records that of its last record, a value every
	// replica derives from identical bytes.
	lastTS := s.storeTS.Load()
	for i, m := range msgs {
		size := int64(record.Size(m))
		if pos-seg.base+size+record.MinBlankSize > s.opts.SegmentSize {
			// The writer reserves MinBlankSize at every segment's end, so
			// the gap is never smaller than a blank (recovery never cuts a
			// log at a segment boundary: a blank is always followed by
			// records of its batch).
			if gap := seg.base + s.opts.SegmentSize - pos; gap >= record.MinBlankSize {
				buf = record.AppendBlank(buf, int(gap), lastTS)
			} else if gap != 0 {
				return 0, s.fail(fmt.Errorf("%w: %d bytes left in %s, less than a blank", ErrCorrupt, gap, seg.path))
			}
			if err := s.writeAt(seg, buf, bufStart); err != nil {
				return 0, err
			}
			seg.maxStoreTS.Store(lastTS)
			next, err := s.cl.create(seg.base + s.opts.SegmentSize)
			if err != nil {
				return 0, s.fail(err)
			}
			seg, pos, bufStart, buf = next, next.base, next.base, buf[:0]
		}
		q, err := s.queue(m.Topic, m.QueueID, true)
		if err != nil {
			return 0, s.fail(err)
		}
		m.QueueOffset = s.pendLocked(q, cqueue.Entry{Offset: pos, Size: uint32(size), TagHash: record.TagHash(m.Tags)})
		m.CommitLogOffset = pos
		flags := m.Flags
		if i == len(msgs)-1 || msgs[i+1].RaftIndex != m.RaftIndex {
			// The end of a Raft entry, not of this call: replicas group
			// entries into Appends differently, and must still write
			// identical bytes.
			m.Flags |= record.FlagBatchEnd
		}
		buf = record.Append(buf, m)
		m.Flags = flags
		res[i] = AppendResult{CommitLogOffset: pos, QueueOffset: m.QueueOffset, Size: int32(size)}
		lastTS = m.StoreTimestamp
		pos += size
	}
	if err := s.writeAt(seg, buf, bufStart); err != nil {
		return 0, err
	}
	s.wbuf = buf[:0]
	if cap(s.wbuf) > 8<<20 {
		s.wbuf = nil // do not pin one huge batch's buffer forever
	}
	// Publish the bytes before dispatching, so that ConsumeQueue entries
	// never point past the written end.
	s.written.Store(pos)
	last := msgs[len(msgs)-1]
	s.raftIdx.Store(last.RaftIndex)
	s.storeTS.Store(lastTS)
	return pos, s.dispatchLocked(msgs)
}

// writeAt writes buf at log offset off inside seg, failing the store on
// error: a partial write may have left bytes that no reader must trust.
func (s *Store) writeAt(seg *segment, buf []byte, off int64) error {
	if len(buf) == 0 {
		return nil
	}
	if _, err := seg.f.WriteAt(buf, off-seg.base); err != nil {
		return s.fail(fmt.Errorf("write %s at %d: %w", seg.path, off-seg.base, err))
	}
	return nil
}

// pendLocked reserves the next queue offset of q for entry e.
func (s *Store) pendLocked(q *cqueue.Queue, e cqueue.Entry) uint64 {
	p := s.pend[q]
	if p == nil {
		if n := len(s.pendFree); n > 0 {
			p, s.pendFree = s.pendFree[n-1], s.pendFree[:n-1]
		} else {
			p = &pendingQueue{}
		}
		p.q, p.first, p.entries = q, q.MaxOffset(), p.entries[:0]
		s.pend[q] = p
	}
	p.entries = append(p.entries, e)
	return p.first + uint64(len(p.entries)) - 1
}

// dispatchLocked writes the batch's ConsumeQueue entries (one write per
// queue) and key index entries. Derived data is not fsynced here; the
// checkpoint does that.
func (s *Store) dispatchLocked(msgs []*Message) error {
	var firstErr error
	for q, p := range s.pend {
		if err := q.Put(p.first, p.entries); err != nil && firstErr == nil {
			firstErr = err
		}
		delete(s.pend, q)
		s.pendFree = append(s.pendFree, p)
	}
	if firstErr != nil {
		return s.fail(fmt.Errorf("dispatch to consume queue: %w", firstErr))
	}
	items := s.idxItems[:0]
	for _, m := range msgs {
		items = appendIndexItems(items, m)
	}
	s.idxItems = items[:0]
	if len(items) > 0 {
		if err := s.idx.Add(items); err != nil {
			return s.fail(fmt.Errorf("dispatch to key index: %w", err))
		}
	}
	return nil
}

// appendIndexItems adds m's keys and unique key to items.
func appendIndexItems(items []keyindex.Item, m *Message) []keyindex.Item {
	for _, k := range m.Keys {
		items = append(items, keyindex.Item{Hash: keyindex.KeyHash(m.Topic, k), Phys: m.CommitLogOffset, StoreTime: m.StoreTimestamp})
	}
	if u := m.Properties[UniqueKeyProperty]; u != "" {
		items = append(items, keyindex.Item{Hash: keyindex.KeyHash(m.Topic, u), Phys: m.CommitLogOffset, StoreTime: m.StoreTimestamp})
	}
	return items
}

// CheckDisk returns ErrDiskFull while the disk is used above
// DiskHardLimitRatio. The answer is cached for diskCheckEvery or until
// another diskCheckBytes were written, whichever comes first; a check that
// is due asks the file system (statfs), so the caller may wait for it. It
// does not wait for writers.
func (s *Store) CheckDisk() error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	written := s.written.Load()
	if now := time.Now(); now.Sub(s.diskCheckedAt) >= diskCheckEvery || written-s.diskCheckedOff >= s.diskCheckBytes() {
		s.diskCheckedAt, s.diskCheckedOff = now, written
		u, err := s.fs.DiskUsage(s.dir)
		if err != nil {
			s.log.Warn("disk usage unknown", "err", err)
		} else {
			full := u.UsedRatio() >= s.opts.DiskHardLimitRatio
			if full != s.LastDiskState().Full {
				s.log.Warn("disk hard limit", "full", full, "used", u.UsedRatio(), "limit", s.opts.DiskHardLimitRatio)
			}
			s.diskState.Store(&DiskState{Full: full, Used: u.UsedRatio()})
		}
	}
	if s.LastDiskState().Full {
		return fmt.Errorf("%w: disk of %s used above %.0f%%", ErrDiskFull, s.dir, 100*s.opts.DiskHardLimitRatio)
	}
	return nil
}

// DiskState is what the latest disk check found (CheckDisk).
type DiskState struct {
	// Full is set while the disk is used above DiskHardLimitRatio.
	Full bool
	// Used is the fraction of the file system in use, in [0, 1]; 0 when
	// no check has succeeded yet.
	Used float64
}

// LastDiskState returns what the latest CheckDisk found, without asking
// the file system: status reports call it, and must not hang on a disk
// whose statfs hangs.
func (s *Store) LastDiskState() DiskState {
	if d := s.diskState.Load(); d != nil {
		return *d
	}
	return DiskState{}
}

// diskCheckBytes is how many bytes may be written between disk checks.
func (s *Store) diskCheckBytes() int64 { return min(4<<20, s.opts.SegmentSize/16) }

// syncCommitLog fsyncs every segment holding bytes in [from, upto).
func (s *Store) syncCommitLog(from, upto int64) error {
	if upto <= from {
		return nil
	}
	for _, seg := range s.cl.segments() {
		if seg.base+s.opts.SegmentSize <= from || seg.base >= upto {
			continue
		}
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", seg.path, err)
		}
	}
	return nil
}
