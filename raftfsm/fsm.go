package raftfsm

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
)

// Message is a stored message.
type Message = store.Message

// fsm is the Raft state machine over the store. Raft calls ApplyBatch,
// Snapshot and Restore from its single FSM goroutine; Persist of a snapshot
// runs concurrently with ApplyBatch.
//
// The FSM is persistent: the store survives restarts and records the Raft
// index of every message, so entries at or below Store.LastRaftIndex are
// skipped when Raft replays its log after a restart
// (NoSnapshotRestoreOnStart is set: snapshots only bootstrap followers).
type fsm struct {
	n *Node
}

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.BatchingFSM = (*fsm)(nil)
)

// Apply applies one entry.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in order. Each request of a
// produce entry is checked on its own (topic table, producer sequences):
// a refused request fails alone and a duplicate is not stored again. The
// accepted requests of consecutive produce entries become one
// store.Append (one CommitLog write); each entry returns a []reqOutcome.
// A store error while applying fails the node: a replica that cannot
// apply what was committed must stop rather than diverge.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	n := f.n
	n.applyStarted()
	defer n.applyEnded()
	out := make([]any, len(logs))
	if err := n.waitDurable(logs); err != nil {
		for i := range out {
			out[i] = err
		}
		return out
	}
	st := n.Store()
	last := st.LastRaftIndex()
	var pend produceBatch
	for i, l := range logs {
		if err := n.failedErr(); err != nil {
			out[i] = err // the store failed earlier in this batch
			continue
		}
		if l.Type != raft.LogCommand || l.Index <= last {
			continue // configuration entries; or replayed and already in the store
		}
		c, err := decodeCommand(l.Data)
		if errors.Is(err, errNewerCommand) {
			// Written by a newer release: skipping it would leave this
			// replica's CommitLog behind its peers'. Stop instead; an
			// upgraded binary applies it on restart.
			pend.flush(f, st, out)
			out[i] = n.fail(fmt.Errorf("raft entry %d: %w (upgrade this node)", l.Index, err))
			continue
		}
		if err != nil {
			// Malformed in a way every replica of this release sees alike:
			// refused the same way everywhere.
			n.log.Error("undecodable raft entry", "index", l.Index, "err", err)
			out[i] = err
			continue
		}
		if c.typ == cmdProduce {
			pend.add(n, out, i, l.Index, c)
			continue
		}
		pend.flush(f, st, out)
		out[i] = f.applySystem(st, l.Index, c)
	}
	pend.flush(f, st, out)
	if len(logs) > 0 && n.failedErr() == nil {
		n.appliedIndex.Store(logs[len(logs)-1].Index)
	}
	n.notifyApplied()
	return out
}

// reqOutcome is the FSM's answer for one request of a produce entry
// (ApplyBatch returns a []reqOutcome per produce entry): its messages'
// results, or the request applied earlier that it duplicates, or why it
// was refused.
type reqOutcome struct {
	res []store.AppendResult
	dup seqSlot // count > 0: a duplicate of the request stored there
	err error
}

// produceBatch gathers the accepted requests of consecutive produce
// entries into one Append.
type produceBatch struct {
	msgs []*Message
	reqs []pendingReq
	dups []pendingDup
}

// pendingReq is one accepted request in msgs.
type pendingReq struct {
	outs []reqOutcome
	r    int // index in outs
	n    int // messages
	req  *ProduceRequest
}

// pendingDup is a duplicate of a request of the same batch: it gets that
// request's results once appended.
type pendingDup struct {
	outs []reqOutcome
	r    int
	of   int // index in reqs
}

// add checks each request of a produce entry on its own, against the topic
// table and the producer table: a refused request fails alone, a
// duplicate gets the original's results, the others join the batch.
func (p *produceBatch) add(n *Node, out []any, i int, index uint64, c command) {
	outs := make([]reqOutcome, len(c.reqs))
	out[i] = outs
	n.tablesMu.RLock()
	defer n.tablesMu.RUnlock()
	for r := range c.reqs {
		req := &c.reqs[r]
		if err := n.tables.checkProduce(req.Msgs); err != nil {
			outs[r].err = err
			continue
		}
		if req.Idempotent {
			v, s := n.producers.check(req.ProducerID, req.Seq, len(req.Msgs), c.storeTS)
			switch v {
			case seqTooOld:
				outs[r].err = fmt.Errorf("%w: producer %x sequence %d", ErrSequenceTooOld, req.ProducerID, req.Seq)
				continue
			case seqMismatch:
				outs[r].err = fmt.Errorf("%w: producer %x sequence %d had %d messages, not %d", ErrSequenceReused, req.ProducerID, req.Seq, s.count, len(req.Msgs))
				continue
			case seqDuplicate:
				if s.first < 0 {
					p.dups = append(p.dups, pendingDup{outs: outs, r: r, of: int(-s.first - 1)})
				} else {
					outs[r].dup = s
				}
				continue
			}
			n.producers.record(req.ProducerID, req.Seq, len(req.Msgs), c.storeTS, -int64(len(p.reqs))-1)
		}
		for _, m := range req.Msgs {
			m.StoreTimestamp, m.RaftIndex = c.storeTS, index
		}
		p.msgs = append(p.msgs, req.Msgs...)
		p.reqs = append(p.reqs, pendingReq{outs: outs, r: r, n: len(req.Msgs), req: req})
	}
}

func (p *produceBatch) flush(f *fsm, st *store.Store, out []any) {
	if len(p.msgs) == 0 {
		*p = produceBatch{}
		return
	}
	res, err := st.Append(p.msgs)
	if err != nil {
		err = f.n.fail(err)
	}
	for k, q := range p.reqs {
		if err != nil {
			q.outs[q.r].err = err
			continue
		}
		q.outs[q.r].res = res[:q.n:q.n]
		if q.req.Idempotent {
			f.n.producers.settle(q.req.ProducerID, q.req.Seq, k, res[0].CommitLogOffset)
		}
		res = res[q.n:]
	}
	for _, d := range p.dups {
		o := p.reqs[d.of].outs[p.reqs[d.of].r]
		if d.outs[d.r].err = o.err; o.err == nil {
			d.outs[d.r].dup = seqSlot{first: o.res[0].CommitLogOffset, count: uint32(len(o.res))}
		}
	}
	*p = produceBatch{}
}

// applySystem applies a topic or offset command: the tables change and a
// record of the command goes to the CommitLog (so it survives restarts
// without a snapshot).
func (f *fsm) applySystem(st *store.Store, index uint64, c command) any {
	n := f.n
	n.tablesMu.RLock()
	err := n.tables.check(c)
	n.tablesMu.RUnlock()
	if err != nil {
		return err
	}
	body := encodeSystem(c)
	if len(body) > store.MaxSystemBodySize {
		// Refused the same way on every replica (the limit is a format
		// constant, not configuration); Node never proposes one.
		return fmt.Errorf("%w: system command of %d bytes, at most %d", ErrBadCommand, len(body), store.MaxSystemBodySize)
	}
	topic := SysTopicTopics
	if c.typ == cmdCommitOffsets {
		topic = SysTopicOffsets
	}
	// The CommitLog first, then the tables: readers never see state that
	// was not written.
	_, err = st.Append([]*Message{{Topic: topic, Body: body, RaftIndex: index, StoreTimestamp: st.LastStoreTimestamp()}})
	if err != nil {
		return n.fail(err)
	}
	n.tablesMu.Lock()
	_ = n.tables.apply(c) // checked above
	n.tablesMu.Unlock()
	return nil
}

// encodeSystem re-encodes a system command for its CommitLog record.
func encodeSystem(c command) []byte {
	switch c.typ {
	case cmdCommitOffsets:
		return encodeCommitOffsets(c.commits)
	case cmdCreateTopic:
		return encodeCreateTopic(c.topic)
	default:
		return encodeDeleteTopic(c.topic.Name)
	}
}

// Snapshot captures the tables and the CommitLog end. It is cheap: the
// CommitLog is not copied; Persist fsyncs the store up to that end, so the
// snapshot never claims more than what is durable.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	n := f.n
	n.tablesMu.RLock()
	t := n.tables.clone()
	n.tablesMu.RUnlock()
	st := n.Store()
	queues := map[string]map[uint32]uint64{}
	for _, topic := range st.Topics() {
		qs := map[uint32]uint64{}
		for _, id := range st.QueueIDs(topic) {
			qs[id] = st.MaxOffset(topic, id)
		}
		queues[topic] = qs
	}
	return &fsmSnapshot{st: st, ll: n.leaderLog, meta: snapMeta{Kind: kindLocal, Tables: t, CLEnd: st.MaxCommitLogOffset(),
		SegmentSize: st.SegmentSize(), Queues: queues, Producers: n.producers.clone()}}, nil
}

type fsmSnapshot struct {
	st   *store.Store
	ll   *leaderLog // nil with the serial leader append
	meta snapMeta
}

// Persist makes the store durable up to the snapshot's end and writes the
// small snapshot description. It first waits until this node's own Raft
// log holds the snapshot's last entry durably: a leader may have applied
// it on its followers' copies alone (followerAcks), and a snapshot ahead of
// the log would leave, after a power loss, a log that ends below the
// snapshot, which raft-wal cannot append to.
func (s *fsmSnapshot) Persist(out raft.SnapshotSink) error {
	// hashicorp/raft saves the snapshot under the index of the last entry
	// its FSM loop handled, no-op and barrier entries included (they never
	// reach ApplyBatch): the index our snapshot store's sink was created
	// with, which is what to wait for.
	if k, ok := out.(*sink); ok && s.ll != nil {
		index := k.meta.Raft.Index
		if err := s.ll.waitOwn(index); err != nil {
			out.Cancel()
			return fmt.Errorf("raftfsm: snapshot at %d waits for the raft log: %w", index, err)
		}
	}
	if err := s.st.Sync(); err != nil {
		out.Cancel()
		return fmt.Errorf("raftfsm: sync store for snapshot: %w", err)
	}
	if err := writeStreamHeader(out, s.meta); err != nil {
		out.Cancel()
		return err
	}
	return out.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore installs a snapshot received from the leader. The snapshot store
// has already staged the leader's CommitLog segments while receiving; the
// stream here only names the staged snapshot.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	meta, err := readStreamHeader(rc)
	if err != nil {
		return err
	}
	if meta.Kind != kindStaged {
		return errors.New("raftfsm: restoring a snapshot that was not received from a leader is not supported")
	}
	return f.n.installStaged(meta.ID)
}
