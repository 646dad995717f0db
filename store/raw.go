package store

import "fmt"

// Raw CommitLog access for replication: a Raft snapshot sent to a follower
// carries the CommitLog bytes themselves, segment by segment, so the
// follower ends up with identical files.

// SegmentSize is the size of every CommitLog segment of this store.
func (s *Store) SegmentSize() int64 { return s.opts.SegmentSize }

// ReadCommitLog reads len(p) raw CommitLog bytes at offset off, which must
// lie below MaxCommitLogOffset and within one segment.
func (s *Store) ReadCommitLog(p []byte, off int64) error {
	if off < s.cl.minOffset() || off+int64(len(p)) > s.written.Load() {
		return fmt.Errorf("%w: raw read [%d, %d) outside [%d, %d)", ErrNotFound, off, off+int64(len(p)), s.cl.minOffset(), s.written.Load())
	}
	return s.cl.readAt(p, off)
}

// QueueOffsetAt returns the first queue offset of topic/queueID whose
// message lies at or after CommitLog offset phys (MaxOffset if none).
func (s *Store) QueueOffsetAt(topic string, queueID uint32, phys int64) (uint64, error) {
	q, err := s.queue(topic, queueID, false)
	if err != nil || q == nil {
		return 0, err
	}
	return q.SearchPhys(phys)
}

// LastStoreTimestamp is the store timestamp of the last record written
// (or recovered), 0 for an empty store. Replicas with identical logs agree
// on it.
func (s *Store) LastStoreTimestamp() int64 {
	return s.storeTS.Load()
}

// Options returns the store's effective options (defaults applied).
func (s *Store) Options() Options { return s.opts }

// ResetQueue positions a queue that holds no messages on this replica so
// that its next message gets queue offset next. A replica installed from a
// snapshot whose CommitLog no longer holds any message of a queue uses it
// to continue that queue's offsets where the leader's are. It fails if the
// queue has entries.
func (s *Store) ResetQueue(topic string, queueID uint32, next uint64) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	q, err := s.queue(topic, queueID, true)
	if err != nil {
		return err
	}
	if q.MaxOffset() == next {
		return nil
	}
	if err := q.Reset(next); err != nil {
		return fmt.Errorf("store: reset queue %s/%d to %d: %w", topic, queueID, next, err)
	}
	return nil
}
