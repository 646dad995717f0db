package store

import (
	"fmt"
	"time"

	"github.com/raftmq/raftmq/store/cqueue"
)

// writeCheckpoint makes the ConsumeQueues and key index durable and then
// records, atomically, how far the CommitLog and the derived data are
// durable. Ordering: the CommitLog is fsynced up to Dispatched before the
// derived data that points into it, and both before the checkpoint that
// claims them.
func (s *Store) writeCheckpoint(clean bool) error {
	s.ckmu.Lock()
	defer s.ckmu.Unlock()
	s.wmu.Lock()
	d, ri, ts := s.written.Load(), s.raftIdx.Load(), s.storeTS.Load()
	s.wmu.Unlock()
	if err := s.fl.waitDurable(d); err != nil {
		return err
	}
	if err := s.syncDerived(); err != nil {
		return s.fail(err)
	}
	ck := checkpoint{
		SegmentSize:   s.opts.SegmentSize,
		Flushed:       max(s.fl.durable.Load(), d),
		Dispatched:    d,
		LastRaftIndex: ri,
		LastStoreTS:   ts,
		Clean:         clean && s.fl.durable.Load() == d,

		QueueEntriesPerFile: s.opts.ConsumeQueue.EntriesPerFile,
		IndexSlots:          s.opts.KeyIndex.Slots,
		IndexEntriesPerFile: s.opts.KeyIndex.EntriesPerFile,
	}
	if err := writeCheckpoint(s.fs, s.dir, ck); err != nil {
		return s.fail(fmt.Errorf("write checkpoint: %w", err))
	}
	return nil
}

// syncDerived fsyncs every ConsumeQueue and flushes the key index, which
// then covers everything written so far. The ConsumeQueue fsyncs run
// outside wmu (each queue hands its dirty files over first), so appends do
// not wait for them; the key index flush (one file) runs under wmu.
func (s *Store) syncDerived() error {
	s.wmu.Lock()
	s.qmu.RLock()
	batches := make([]*cqueue.SyncBatch, 0, len(s.queues))
	for _, q := range s.queues {
		batches = append(batches, q.TakeDirty())
	}
	s.qmu.RUnlock()
	s.wmu.Unlock()
	var first error
	for _, b := range batches {
		if err := b.Sync(); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.idx.MarkCovered(s.written.Load())
	if err := s.idx.Flush(); err != nil {
		return fmt.Errorf("flush key index: %w", err)
	}
	return nil
}

// checkpointLoop writes a checkpoint every CheckpointInterval while there
// are new appends, bounding the rescan after a crash.
func (s *Store) checkpointLoop() {
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	last := s.written.Load()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if w := s.written.Load(); w != last && s.Err() == nil {
			if err := s.writeCheckpoint(false); err != nil {
				s.log.Error("checkpoint failed", "err", err)
				continue
			}
			last = w
		}
	}
}

// retentionLoop runs DeleteExpired every RetentionInterval.
func (s *Store) retentionLoop() {
	t := time.NewTicker(s.opts.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if n, err := s.DeleteExpired(now); err != nil {
				s.log.Error("retention failed", "err", err)
			} else if n > 0 {
				s.log.Info("retention deleted segments", "segments", n, "min_offset", s.cl.minOffset())
			}
		}
	}
}

// DeleteExpired applies retention as of now: it deletes whole CommitLog
// segments, oldest first, whose newest message is older than
// RetentionTime, or, whatever their age, while the disk is used above
// DiskCleanRatio. The live segment, segments not yet durable and segments
// at or above Options.RetentionFloor are never deleted. ConsumeQueue and index files that only point into deleted
// segments follow. It returns the number of segments deleted.
func (s *Store) DeleteExpired(now time.Time) (int, error) {
	segs := s.cl.segments()
	durable := s.fl.durable.Load()
	cutoff := now.Add(-s.opts.RetentionTime).UnixMilli()
	usage, err := s.fs.DiskUsage(s.dir)
	if err != nil {
		return 0, err
	}
	used := float64(usage.TotalBytes) * usage.UsedRatio()
	newMin := int64(-1)
	floor := durable
	if s.opts.RetentionFloor != nil {
		floor = min(floor, s.opts.RetentionFloor())
	}
	for _, seg := range segs[:max(len(segs)-1, 0)] {
		end := seg.base + s.opts.SegmentSize
		if end > floor {
			break
		}
		expired := s.opts.RetentionTime > 0 && seg.maxStoreTS.Load() < cutoff
		pressure := usage.TotalBytes > 0 && used/float64(usage.TotalBytes) > s.opts.DiskCleanRatio
		if !expired && !pressure {
			break
		}
		newMin = end
		used -= float64(s.opts.SegmentSize)
	}
	if newMin < 0 {
		return 0, nil
	}
	return s.deleteBefore(newMin)
}

// deleteBefore removes everything below CommitLog offset off: derived data
// first, so that no ConsumeQueue entry ever points at a deleted segment.
func (s *Store) deleteBefore(off int64) (int, error) {
	s.wmu.Lock()
	err := s.trimQueues(off)
	if err == nil {
		_, err = s.idx.DeleteBefore(off)
	}
	s.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	return s.cl.removeBefore(off)
}
