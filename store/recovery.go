package store

import (
	"fmt"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
)

// Recovery after an unclean stop (recover):
//
//  1. ConsumeQueue entries for records at or past the checkpoint's
//     Dispatched offset are not trusted and are cut off; the key index
//     trusts only what its own last header covers.
//  2. The CommitLog is scanned from the lower of those two points. Every
//     record's CRC is verified. Records are re-dispatched one whole batch
//     at a time (a batch ends with a FlagBatchEnd record), so a batch torn
//     by the crash is dropped entirely.
//  3. The scan stops at the first invalid record or the end of the data.
//     If that is inside the region the checkpoint reported durable
//     (Flushed), data that was acknowledged is damaged: Open fails with
//     ErrCorrupt naming the file and offset, unless Options.Repair asks to
//     truncate there. Past Flushed it is a torn tail and is truncated.

type recoveredRecord struct {
	m    record.Message
	size int
}

// recover rebuilds the in-memory state and derived data after an unclean
// stop, or when no checkpoint exists.
func (s *Store) recover(ck checkpoint, found bool) error {
	minOff := s.cl.minOffset()
	start, durableEnd := minOff, int64(0)
	if found {
		start, durableEnd = max(ck.Dispatched, minOff), ck.Flushed
	}
	durableEnd = max(durableEnd, s.opts.KnownDurable)
	idxFrom := max(s.idx.Covered(), minOff)
	scanFrom := min(start, idxFrom)
	if err := s.truncateQueues(start); err != nil {
		return err
	}
	s.log.Info("recovering", "from", scanFrom, "dispatched", start, "durable", durableEnd, "index_covered", idxFrom)

	sc := newScanner(s.cl, scanFrom)
	var (
		pending []recoveredRecord
		blanks  int
		count   int64
		end     = scanFrom
		ri, ts  = ck.LastRaftIndex, ck.LastStoreTS
	)
	for {
		m, n, ok := sc.next(&blanks)
		if !ok {
			break
		}
		count++
		m.Body = nil // aliases the scan buffer; not needed
		pending = append(pending, recoveredRecord{m, n})
		if m.Flags&record.FlagBatchEnd == 0 {
			continue
		}
		if err := s.redispatch(pending, start, idxFrom); err != nil {
			return err
		}
		pending = pending[:0]
		end, ri, ts = sc.pos, m.RaftIndex, m.StoreTimestamp
	}
	s.recoveredRecords = count
	if sc.stop == stopIO {
		return fmt.Errorf("store: recovery read failed: %w", sc.reason)
	}
	if end < durableEnd {
		where := fmt.Sprintf("%s at file offset %d (log offset %d)", s.segPath(sc.pos), sc.pos-s.segBase(sc.pos), sc.pos)
		why := "data missing"
		if sc.stop == stopBad {
			why = sc.reason.Error()
		}
		if !s.opts.Repair {
			reason := sc.reason
			if sc.stop != stopBad {
				reason = errDataMissing
			}
			cerr := &CorruptError{Path: s.segPath(sc.pos), Offset: sc.pos, End: durableEnd, Reason: reason}
			return fmt.Errorf("%w (file offset %d), inside the region reported durable; Repair truncates at %d",
				cerr, sc.pos-s.segBase(sc.pos), end)
		}
		s.log.Error("REPAIR: truncating durable data", "where", where, "why", why, "truncate_at", end, "durable", durableEnd)
	} else if sc.stop == stopBad {
		// Past what the store (and Options.KnownDurable) vouch for: a
		// torn tail, or damage to bytes nobody was promised; the caller
		// re-appends what followed (Raft replays its log).
		s.log.Warn("truncating torn tail at a bad record past the durable end", "at", end, "bad_record", sc.pos,
			"reason", sc.reason, "dropped_records", len(pending))
	}
	if err := s.cl.truncate(end); err != nil {
		return fmt.Errorf("store: truncate commitlog at %d: %w", end, err)
	}
	// The recovered tail may still be only in the page cache (the process
	// died, the machine did not): make it durable before anything claims
	// it is, since the flusher starts with everything below end durable.
	if err := s.syncCommitLog(min(durableEnd, end, scanFrom), end); err != nil {
		return fmt.Errorf("store: sync recovered commitlog: %w", err)
	}
	if end < start {
		if err := s.truncateQueues(end); err != nil {
			return err
		}
	}
	if end < s.idx.Covered() {
		if err := s.idx.Truncate(end); err != nil {
			return fmt.Errorf("store: truncate key index at %d: %w", end, err)
		}
	}
	s.written.Store(end)
	s.raftIdx.Store(ri)
	s.storeTS.Store(ts)
	if live := s.cl.live(); live != nil {
		live.maxStoreTS.Store(ts)
	}
	s.log.Info("recovered", "end", end, "records_scanned", count, "blanks", blanks)
	return s.trimQueues(minOff)
}

func (s *Store) segBase(off int64) int64 {
	if seg := s.cl.find(off); seg != nil {
		return seg.base
	}
	return 0
}

// truncateQueues cuts every ConsumeQueue back to its entries below phys.
func (s *Store) truncateQueues(phys int64) error {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	for k, q := range s.queues {
		off, err := q.SearchPhys(phys)
		if err != nil {
			return fmt.Errorf("store: search queue %s/%d: %w", k.topic, k.id, err)
		}
		if off < q.MaxOffset() {
			if err := q.Truncate(off); err != nil {
				return fmt.Errorf("store: truncate queue %s/%d: %w", k.topic, k.id, err)
			}
		}
	}
	return nil
}

// redispatch writes one recovered batch to the ConsumeQueues (records at or
// past dispatchFrom) and the key index (records at or past indexFrom).
func (s *Store) redispatch(batch []recoveredRecord, dispatchFrom, indexFrom int64) error {
	var items []keyindex.Item
	for i := range batch {
		r := &batch[i]
		m := &r.m
		if m.CommitLogOffset >= dispatchFrom {
			q, err := s.queue(m.Topic, m.QueueID, true)
			if err != nil {
				return err
			}
			if q.MaxOffset() == 0 && m.QueueOffset > 0 {
				// A queue whose first messages were deleted by retention
				// before this replica's CommitLog began (installed from a
				// snapshot, or rebuilt after its files were removed).
				if err := q.Reset(m.QueueOffset); err != nil {
					return fmt.Errorf("store: rebuild queue %s/%d: %w", m.Topic, m.QueueID, err)
				}
			}
			if m.QueueOffset != q.MaxOffset() {
				return fmt.Errorf("%w: record at log offset %d (%s) has queue offset %d but queue %s/%d continues at %d",
					ErrCorrupt, m.CommitLogOffset, s.segPath(m.CommitLogOffset), m.QueueOffset, m.Topic, m.QueueID, q.MaxOffset())
			}
			e := cqueue.Entry{Offset: m.CommitLogOffset, Size: uint32(r.size), TagHash: record.TagHash(m.Tags)}
			if err := q.Put(m.QueueOffset, []cqueue.Entry{e}); err != nil {
				return fmt.Errorf("store: rebuild queue %s/%d: %w", m.Topic, m.QueueID, err)
			}
		}
		if m.CommitLogOffset >= indexFrom {
			items = appendIndexItems(items, m)
		}
	}
	if len(items) > 0 {
		if err := s.idx.Add(items); err != nil {
			return fmt.Errorf("store: rebuild key index: %w", err)
		}
	}
	return nil
}
