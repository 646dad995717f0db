package raftfsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/raftmq/raftmq/store"
)

// Idempotent produce. A producer tags each request with its id and a
// sequence number it never reuses; a retry after an unknown outcome
// carries the same pair. The FSM remembers, per producer, the sequences
// it applied recently and where their messages went, and answers a
// duplicate with the original's offsets instead of appending it again.
//
// Every decision below depends only on the table and the entry being
// applied (its requests and the leader's store timestamp), never on a
// replica's clock, so every replica decides the same. The table changes
// only when an idempotent request is appended, and such a request leaves
// its mark in the CommitLog (the first record carries flagProducerSeq and
// ProducerSeqProperty), so replaying the marks in log order rebuilds the
// table exactly (see doc.go, "Idempotent produce").
//
// These limits are part of what replicas must agree on: changing one
// changes decisions, so they are constants, not configuration.
const (
	// producerWindow is how many consecutive sequence numbers, ending at
	// the highest one applied, a producer's entry remembers. A sequence
	// below that window that is not remembered is refused
	// (ErrSequenceTooOld): the FSM can no longer tell whether it was
	// applied. The client keeps fewer requests outstanding than this.
	producerWindow = 256
	// producerExpiryMs is how long (in entry timestamps) a producer with
	// no applied request is remembered.
	producerExpiryMs = 10 * 60 * 1000
	// maxProducers bounds the table; the producer used least recently is
	// forgotten first.
	maxProducers = 1024

	// flagProducerSeq is the record flag of the first record of an
	// idempotent request (format: a record flag bit; the store owns only
	// record.FlagBatchEnd).
	flagProducerSeq uint32 = 1 << 30
)

// ProducerSeqProperty is the property that the first message of an
// idempotent request carries: "<producer id, hex>:<sequence>:<message
// count>". Only records that also carry flagProducerSeq are trusted.
const ProducerSeqProperty = "PRODUCER_SEQ"

// MarkOverhead is the most the producer mark adds to the encoded
// properties of a request's first message: the property's key and value
// with their 4 bytes of lengths (value: 16 hex digits, 20 and 10 decimal
// digits, two colons).
const MarkOverhead = 4 + len(ProducerSeqProperty) + 16 + 1 + 20 + 1 + 10

func markValue(pid, seq uint64, count int) string {
	return strconv.FormatUint(pid, 16) + ":" + strconv.FormatUint(seq, 10) + ":" + strconv.Itoa(count)
}

// parseMark reads a record's producer mark.
func parseMark(m *Message) (pid, seq uint64, count int, ok bool) {
	if m.Flags&flagProducerSeq == 0 {
		return 0, 0, 0, false
	}
	a, rest, ok1 := strings.Cut(m.Properties[ProducerSeqProperty], ":")
	b, c, ok2 := strings.Cut(rest, ":")
	var err1, err2, err3 error
	pid, err1 = strconv.ParseUint(a, 16, 64)
	seq, err2 = strconv.ParseUint(b, 10, 64)
	count, err3 = strconv.Atoi(c)
	return pid, seq, count, ok1 && ok2 && err1 == nil && err2 == nil && err3 == nil && count > 0
}

// markRequests returns reqs with the first message of every idempotent
// request replaced by a marked copy; the caller's messages are untouched.
func markRequests(reqs []ProduceRequest) []ProduceRequest {
	out := make([]ProduceRequest, len(reqs))
	copy(out, reqs)
	for i := range out {
		r := &out[i]
		if !r.Idempotent || len(r.Msgs) == 0 {
			continue
		}
		msgs := make([]*Message, len(r.Msgs))
		copy(msgs, r.Msgs)
		first := *msgs[0]
		first.Flags |= flagProducerSeq
		first.Properties = maps.Clone(first.Properties)
		if first.Properties == nil {
			first.Properties = make(map[string]string, 1)
		}
		first.Properties[ProducerSeqProperty] = markValue(r.ProducerID, r.Seq, len(msgs))
		msgs[0] = &first
		r.Msgs = msgs
	}
	return out
}

// checkMark refuses a decoded request whose records' marks disagree with
// its header: exactly the first record of an idempotent request is
// marked, with the request's producer id, sequence and count.
func checkMark(r ProduceRequest) error {
	for i, m := range r.Msgs {
		marked := m.Flags&flagProducerSeq != 0
		if marked != (r.Idempotent && i == 0) {
			return fmt.Errorf("%w: message %d: producer mark does not match its request", ErrBadCommand, i)
		}
		if marked && m.Properties[ProducerSeqProperty] != markValue(r.ProducerID, r.Seq, len(r.Msgs)) {
			return fmt.Errorf("%w: producer mark %q does not match its request", ErrBadCommand, m.Properties[ProducerSeqProperty])
		}
	}
	return nil
}

// seqSlot is one remembered request: where its first message went and how
// many messages it had. first < 0 means the request is being appended by
// the current ApplyBatch: it is entry -first-1 of the pending batch.
type seqSlot struct {
	seq   uint64
	first int64
	count uint32 // 0: empty slot
}

// producer is one producer's entry: its recent sequences in a ring
// indexed by seq % producerWindow, and its place in the use order.
type producer struct {
	id      uint64
	lastUse int64 // table clock at its last applied request
	maxSeq  uint64
	slots   []seqSlot
	prev    *producer
	next    *producer
}

// producerTable is the FSM's deduplication table. It is owned by the FSM
// goroutine (ApplyBatch, Snapshot, Restore) and by Open before Raft starts.
type producerTable struct {
	window int
	expiry int64
	max    int

	// clock is the newest entry timestamp of an applied idempotent
	// request; it never goes back, so the use order is also lastUse order.
	clock int64
	byID  map[uint64]*producer
	// head is the least recently used producer, tail the most recent.
	head, tail *producer
}

func newProducerTable() *producerTable {
	return &producerTable{window: producerWindow, expiry: producerExpiryMs, max: maxProducers, byID: map[uint64]*producer{}}
}

// verdict is what check decides for one idempotent request.
type verdict int

const (
	seqNew verdict = iota
	seqDuplicate
	seqTooOld
	seqMismatch // the sequence was applied with another message count
)

// check decides a request at entry timestamp ts without changing the
// table; for a duplicate it returns the remembered slot.
func (t *producerTable) check(pid, seq uint64, count int, ts int64) (verdict, seqSlot) {
	p := t.live(pid, max(t.clock, ts))
	if p == nil || seq > p.maxSeq {
		return seqNew, seqSlot{}
	}
	if p.maxSeq-seq >= uint64(t.window) {
		return seqTooOld, seqSlot{}
	}
	s := p.slots[seq%uint64(t.window)]
	switch {
	case s.count == 0 || s.seq != seq:
		return seqNew, seqSlot{}
	case int(s.count) != count:
		return seqMismatch, s
	}
	return seqDuplicate, s
}

// live returns pid's entry unless it is absent or expired at now.
func (t *producerTable) live(pid uint64, now int64) *producer {
	p := t.byID[pid]
	if p == nil || t.expired(p, now) {
		return nil
	}
	return p
}

func (t *producerTable) expired(p *producer, now int64) bool { return p.lastUse < now-t.expiry }

// record remembers an applied request (check said seqNew). Expired
// producers are dropped first; a new producer beyond the cap evicts the
// least recently used one. Dropping an expired entry early or late never
// changes a decision (check treats it as absent, and eviction removes
// expired entries before counting), which is why replaying only the
// applied requests rebuilds an equivalent table.
func (t *producerTable) record(pid, seq uint64, count int, ts int64, first int64) {
	now := max(t.clock, ts)
	t.clock = now
	for t.head != nil && t.expired(t.head, now) {
		t.remove(t.head)
	}
	p := t.byID[pid]
	if p == nil {
		if len(t.byID) >= t.max {
			t.remove(t.head)
		}
		p = &producer{id: pid, maxSeq: seq, slots: make([]seqSlot, t.window)}
		t.byID[pid] = p
	} else {
		t.unlink(p)
	}
	p.maxSeq = max(p.maxSeq, seq)
	p.slots[seq%uint64(t.window)] = seqSlot{seq: seq, first: first, count: uint32(count)}
	p.lastUse = now
	t.pushTail(p)
}

// settle sets where pending request k's first message went, if the
// table still remembers that request (not a later one with the same
// producer and sequence, after the first was expired or evicted).
func (t *producerTable) settle(pid, seq uint64, k int, first int64) {
	p := t.byID[pid]
	if p == nil {
		return
	}
	s := &p.slots[seq%uint64(t.window)]
	if s.seq == seq && s.count > 0 && s.first == -int64(k)-1 {
		s.first = first
	}
}

func (t *producerTable) remove(p *producer) {
	t.unlink(p)
	delete(t.byID, p.id)
}

func (t *producerTable) unlink(p *producer) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		t.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		t.tail = p.prev
	}
	p.prev, p.next = nil, nil
}

func (t *producerTable) pushTail(p *producer) {
	p.prev = t.tail
	if t.tail != nil {
		t.tail.next = p
	} else {
		t.head = p
	}
	t.tail = p
}

// replay applies a CommitLog record to the table when it is the marked
// first record of an idempotent request (rebuild at open).
func (t *producerTable) replay(m *Message) {
	if pid, seq, count, ok := parseMark(m); ok {
		t.record(pid, seq, count, m.StoreTimestamp, m.CommitLogOffset)
	}
}

// producerJSON is one producer in a snapshot: its remembered requests as
// packed big-endian (seq u64 | first i64 | count u32) triples.
type producerJSON struct {
	ID      uint64 `json:"id"`
	LastUse int64  `json:"last_use"`
	MaxSeq  uint64 `json:"max_seq"`
	Seqs    []byte `json:"seqs"`
}

type tableJSON struct {
	Clock     int64          `json:"clock"`
	Producers []producerJSON `json:"producers"` // least recently used first
}

const slotBytes = 8 + 8 + 4

// MarshalJSON writes the table for a snapshot meta, in use order.
func (t *producerTable) MarshalJSON() ([]byte, error) {
	out := tableJSON{Clock: t.clock, Producers: make([]producerJSON, 0, len(t.byID))}
	for p := t.head; p != nil; p = p.next {
		pj := producerJSON{ID: p.id, LastUse: p.lastUse, MaxSeq: p.maxSeq}
		for _, s := range p.slots {
			if s.count == 0 || s.first < 0 || p.maxSeq-s.seq >= uint64(t.window) {
				continue // empty, or behind the window (never consulted again)
			}
			pj.Seqs = binary.BigEndian.AppendUint64(pj.Seqs, s.seq)
			pj.Seqs = binary.BigEndian.AppendUint64(pj.Seqs, uint64(s.first))
			pj.Seqs = binary.BigEndian.AppendUint32(pj.Seqs, s.count)
		}
		out.Producers = append(out.Producers, pj)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a table written by MarshalJSON.
func (t *producerTable) UnmarshalJSON(b []byte) error {
	var in tableJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*t = *newProducerTable()
	t.clock = in.Clock
	for _, pj := range in.Producers {
		if len(pj.Seqs)%slotBytes != 0 || t.byID[pj.ID] != nil {
			return fmt.Errorf("raftfsm: snapshot producer %x is malformed", pj.ID)
		}
		p := &producer{id: pj.ID, lastUse: pj.LastUse, maxSeq: pj.MaxSeq, slots: make([]seqSlot, t.window)}
		for b := pj.Seqs; len(b) > 0; b = b[slotBytes:] {
			s := seqSlot{seq: binary.BigEndian.Uint64(b), first: int64(binary.BigEndian.Uint64(b[8:])), count: binary.BigEndian.Uint32(b[16:])}
			if s.count == 0 || s.first < 0 || s.seq > p.maxSeq {
				return fmt.Errorf("raftfsm: snapshot producer %x has a bad sequence entry", pj.ID)
			}
			if p.maxSeq-s.seq >= uint64(t.window) {
				continue // behind the window: never consulted (older snapshots hold such slots)
			}
			p.slots[s.seq%uint64(t.window)] = s
		}
		t.byID[p.id] = p
		t.pushTail(p)
	}
	return nil
}

// clone copies the table (Snapshot runs Persist concurrently with
// ApplyBatch). Pending slots cannot exist between ApplyBatch calls.
func (t *producerTable) clone() *producerTable {
	c := newProducerTable()
	c.window, c.expiry, c.max, c.clock = t.window, t.expiry, t.max, t.clock
	for p := t.head; p != nil; p = p.next {
		q := &producer{id: p.id, lastUse: p.lastUse, maxSeq: p.maxSeq, slots: append([]seqSlot(nil), p.slots...)}
		c.byID[q.id] = q
		c.pushTail(q)
	}
	return c
}

// readRequest reads back the messages of a request applied earlier: count
// message records from CommitLog offset first. The leader answers a
// duplicate with them.
func readRequest(st *store.Store, first int64, count int) ([]Message, error) {
	out := make([]Message, 0, count)
	err := st.ScanMessages(first, func(m *Message) bool {
		out = append(out, *m)
		return len(out) < count
	})
	if err != nil {
		return nil, err
	}
	if len(out) < count {
		return nil, fmt.Errorf("raftfsm: duplicate's original at %d has %d of %d messages", first, len(out), count)
	}
	return out, nil
}

// rebuildProducers returns the producer table at the store's end: a copy
// of n.producers (the newest local snapshot's, at CommitLog offset from)
// with the marked requests of the CommitLog tail [from, end) replayed in
// log order. n.producers is not changed, so a failed attempt can be
// retried.
func (n *Node) rebuildProducers(st *store.Store, from int64) (*producerTable, error) {
	t := n.producers.clone()
	if lo := st.MinCommitLogOffset(); from < lo {
		n.log.Warn("commitlog before the producer table's start was deleted; deduplication forgets those requests", "from", from, "min", lo)
		from = lo
	}
	if from >= st.MaxCommitLogOffset() {
		return t, nil
	}
	if err := st.ScanMessages(from, func(m *Message) bool { t.replay(m); return true }); err != nil {
		return nil, fmt.Errorf("raftfsm: rebuild producer table: %w", err)
	}
	return t, nil
}

// StripProducerMark removes the producer mark (flag and property) of an
// idempotent request's first record, so readers see the message as it was
// sent. The caller's message is changed; its Properties map is replaced,
// not written to.
func StripProducerMark(m *Message) {
	if m.Flags&flagProducerSeq == 0 {
		return
	}
	m.Flags &^= flagProducerSeq
	if _, ok := m.Properties[ProducerSeqProperty]; !ok {
		return
	}
	props := maps.Clone(m.Properties)
	delete(props, ProducerSeqProperty)
	if len(props) == 0 {
		props = nil
	}
	m.Properties = props
}
