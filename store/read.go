package store

import (
	"errors"
	"fmt"
	"slices"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
)

// maxScanEntries bounds how many ConsumeQueue entries one GetMessages call
// examines when a tag filter skips most of them.
const maxScanEntries = 4096

// GetRequest asks for messages of one queue.
type GetRequest struct {
	Topic   string
	QueueID uint32
	Offset  uint64 // first queue offset wanted
	// MaxMessages and MaxBytes bound the result; at least one message is
	// returned when one is available, even if it alone exceeds MaxBytes.
	MaxMessages int
	MaxBytes    int
	// Tags, when non-empty, keeps only messages with one of these tags;
	// entries are skipped by the tag hash in the ConsumeQueue without
	// reading the CommitLog, and the tag itself is re-checked on read.
	Tags []string
}

// GetResult is what GetMessages found.
type GetResult struct {
	Messages []Message
	// NextOffset is the queue offset to ask for next.
	NextOffset uint64
	// MinOffset and MaxOffset are the queue's first available and next
	// unwritten offsets.
	MinOffset, MaxOffset uint64
}

// GetMessages reads messages of a queue from req.Offset on. An offset
// below the earliest available one gives ErrOffsetTooSmall and one beyond
// the end ErrOffsetTooLarge, with MinOffset and MaxOffset filled in; an
// offset equal to the end gives no messages and no error. A queue never
// written to is empty.
func (s *Store) GetMessages(req GetRequest) (GetResult, error) {
	res := GetResult{NextOffset: req.Offset}
	if err := ValidateTopic(req.Topic); err != nil {
		return res, err
	}
	q, err := s.queue(req.Topic, req.QueueID, false)
	if err != nil || q == nil {
		if req.Offset > 0 {
			return res, fmt.Errorf("%w: queue %s/%d is empty", ErrOffsetTooLarge, req.Topic, req.QueueID)
		}
		return res, err
	}
	res.MinOffset, res.MaxOffset = q.MinOffset(), q.MaxOffset()
	switch {
	case req.Offset < res.MinOffset:
		return res, fmt.Errorf("%w: %d < %d", ErrOffsetTooSmall, req.Offset, res.MinOffset)
	case req.Offset > res.MaxOffset:
		return res, fmt.Errorf("%w: %d > %d", ErrOffsetTooLarge, req.Offset, res.MaxOffset)
	}
	maxMsgs := max(req.MaxMessages, 1)
	var hashes []uint64
	for _, t := range req.Tags {
		hashes = append(hashes, record.TagHash(t))
	}
	entries, err := q.Get(req.Offset, min(maxScanEntries, max(maxMsgs, 32)), nil)
	if err != nil {
		return res, s.queueReadErr(err, q, &res)
	}
	bytes := 0
	for i, e := range entries {
		off := req.Offset + uint64(i)
		if len(hashes) > 0 && !slices.Contains(hashes, e.TagHash) {
			res.NextOffset = off + 1
			continue
		}
		if len(res.Messages) > 0 && (len(res.Messages) >= maxMsgs || (req.MaxBytes > 0 && bytes+int(e.Size) > req.MaxBytes)) {
			break
		}
		m, err := s.readEntry(e)
		if err != nil {
			if errors.Is(err, ErrNotFound) && e.Offset < s.cl.minOffset() {
				// Deleted by retention while we read: skip ahead.
				res.NextOffset = off + 1
				continue
			}
			return res, err
		}
		res.NextOffset = off + 1
		if len(req.Tags) > 0 && !slices.Contains(req.Tags, m.Tags) {
			continue // tag hash collision
		}
		res.Messages = append(res.Messages, m)
		bytes += int(e.Size)
	}
	return res, nil
}

func (s *Store) queueReadErr(err error, q *cqueue.Queue, res *GetResult) error {
	res.MinOffset, res.MaxOffset = q.MinOffset(), q.MaxOffset()
	if errors.Is(err, cqueue.ErrOffset) {
		return fmt.Errorf("%w: %w", ErrOffsetTooSmall, err)
	}
	return err
}

// readEntry reads and verifies the record a ConsumeQueue entry points to.
func (s *Store) readEntry(e cqueue.Entry) (Message, error) {
	buf := make([]byte, e.Size)
	if err := s.cl.readAt(buf, e.Offset); err != nil {
		return Message{}, err
	}
	m, n, err := record.Decode(buf)
	if err == nil && n != len(buf) {
		err = fmt.Errorf("record of %d bytes, consume queue says %d: %w", n, len(buf), record.ErrLength)
	}
	if err != nil {
		return Message{}, s.corrupt(e.Offset, err)
	}
	if m.CommitLogOffset != e.Offset {
		return Message{}, s.corrupt(e.Offset, fmt.Errorf("record claims offset %d: %w", m.CommitLogOffset, record.ErrFormat))
	}
	m.Flags &^= record.FlagBatchEnd
	return m, nil
}

func (s *Store) segPath(off int64) string {
	if seg := s.cl.find(off); seg != nil {
		return seg.path
	}
	return "no segment"
}

// ReadMessage reads the message stored at a CommitLog offset (the offset
// part of a message id). An offset that does not start a message gives
// ErrNotFound.
func (s *Store) ReadMessage(off int64) (Message, error) {
	end := s.written.Load()
	if off < s.cl.minOffset() || off >= end {
		return Message{}, fmt.Errorf("%w: offset %d outside [%d, %d)", ErrNotFound, off, s.cl.minOffset(), end)
	}
	var hdr [record.HeaderPeek]byte
	if err := s.cl.readAt(hdr[:], off); err != nil {
		return Message{}, err
	}
	h, err := record.DecodeHeader(hdr[:])
	// A message id is untrusted input: never allocate more than the
	// largest record this store can hold.
	if err != nil || h.Magic != record.MagicMessage || off+int64(h.Size) > end || h.Size > s.maxRecordSize() {
		return Message{}, fmt.Errorf("%w: no message starts at offset %d", ErrNotFound, off)
	}
	buf := make([]byte, h.Size)
	if err := s.cl.readAt(buf, off); err != nil {
		return Message{}, err
	}
	m, _, err := record.Decode(buf)
	if err != nil && claimsOffset(buf, off) {
		// A record that names this offset as its own but fails its
		// checksum: damaged bytes, never served.
		return Message{}, s.corrupt(off, err)
	}
	if err != nil || m.CommitLogOffset != off {
		// The bytes at off are not a record start; a message id never
		// points there.
		return Message{}, fmt.Errorf("%w: no valid message at offset %d", ErrNotFound, off)
	}
	m.Flags &^= record.FlagBatchEnd
	return m, nil
}

// maxRecordSize is the largest record Append accepts.
func (s *Store) maxRecordSize() int {
	return recordOverhead + MaxTopicLen + s.opts.MaxPropertiesSize + max(s.opts.MaxMessageSize, MaxSystemBodySize)
}

// QueryByKey returns up to limit messages of topic with the given key (or
// unique key property) whose store timestamp lies in [begin, end] (unix
// ms), newest first.
func (s *Store) QueryByKey(topic, key string, begin, end int64, limit int) ([]Message, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 32
	}
	// Ask the index for more than limit: hash collisions are filtered here.
	offs, err := s.idx.Lookup(keyindex.KeyHash(topic, key), begin, end, limit*4)
	if err != nil {
		return nil, err
	}
	var out []Message
	for i, off := range offs {
		if len(out) >= limit {
			break
		}
		if i > 0 && off == offs[i-1] {
			continue // two keys of one message in the same chain
		}
		m, err := s.ReadMessage(off)
		if errors.Is(err, ErrNotFound) {
			continue // deleted by retention
		}
		if err != nil {
			return out, err
		}
		if m.Topic != topic || m.StoreTimestamp < begin || m.StoreTimestamp > end {
			continue
		}
		if slices.Contains(m.Keys, key) || m.Properties[UniqueKeyProperty] == key {
			out = append(out, m)
		}
	}
	return out, nil
}

// OffsetForTimestamp returns the first queue offset whose message was
// stored at or after ts (unix ms), or the queue's end if there is none.
func (s *Store) OffsetForTimestamp(topic string, queueID uint32, ts int64) (uint64, error) {
	q, err := s.queue(topic, queueID, false)
	if err != nil || q == nil {
		return 0, err
	}
	return q.Search(func(e cqueue.Entry) (bool, error) {
		m, err := s.readEntry(e)
		if err != nil {
			return false, err
		}
		return m.StoreTimestamp >= ts, nil
	})
}

// MinOffset and MaxOffset return a queue's first available and next
// unwritten queue offsets (0, 0 for a queue never written).
func (s *Store) MinOffset(topic string, queueID uint32) uint64 {
	if q, _ := s.queue(topic, queueID, false); q != nil {
		return q.MinOffset()
	}
	return 0
}

// MaxOffset: see MinOffset.
func (s *Store) MaxOffset(topic string, queueID uint32) uint64 {
	if q, _ := s.queue(topic, queueID, false); q != nil {
		return q.MaxOffset()
	}
	return 0
}

// Topics lists the topics that have at least one queue, sorted.
func (s *Store) Topics() []string {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	var out []string
	for k := range s.queues {
		out = append(out, k.topic)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueueIDs lists the queue ids of topic that hold or held messages, sorted.
func (s *Store) QueueIDs(topic string) []uint32 {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	var out []uint32
	for k := range s.queues {
		if k.topic == topic {
			out = append(out, k.id)
		}
	}
	slices.Sort(out)
	return out
}

// MinCommitLogOffset is the first CommitLog offset still held.
func (s *Store) MinCommitLogOffset() int64 { return s.cl.minOffset() }

// MaxCommitLogOffset is the end of the CommitLog: the offset the next
// message will get.
func (s *Store) MaxCommitLogOffset() int64 { return s.written.Load() }

// DurableOffset is how far the CommitLog is fsynced: every byte below it
// survives a crash.
func (s *Store) DurableOffset() int64 { return s.fl.durable.Load() }

// Sync fsyncs everything appended so far and returns once it is durable.
func (s *Store) Sync() error { return s.fl.syncAll() }

// LastRaftIndex is the RaftIndex of the last message appended (or
// recovered), 0 for an empty store.
func (s *Store) LastRaftIndex() uint64 { return s.raftIdx.Load() }

// Stats are counters for tests, metrics and the CLI.
type Stats struct {
	// RecoveredRecords is how many records Open scanned to recover.
	RecoveredRecords int64
	// Segments is the number of CommitLog segment files.
	Segments int
	// Syncs counts CommitLog fsync rounds (group commits).
	Syncs int64
	// Queues is the number of ConsumeQueues.
	Queues int
}

// Stats returns current counters.
func (s *Store) Stats() Stats {
	s.qmu.RLock()
	nq := len(s.queues)
	s.qmu.RUnlock()
	return Stats{
		RecoveredRecords: s.recoveredRecords,
		Segments:         len(s.cl.segments()),
		Syncs:            s.fl.syncs.Load(),
		Queues:           nq,
	}
}
