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

// ApplyBatch applies committed entries in order. Consecutive produce
// entries become one store.Append (one CommitLog write); each returns its
// own results. A store error while applying fails the node: a replica
// that cannot apply what was committed must stop rather than diverge.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	n := f.n
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
		if err != nil {
			n.log.Error("undecodable raft entry", "index", l.Index, "err", err)
			out[i] = err
			continue
		}
		if c.typ == cmdProduce {
			n.tablesMu.RLock()
			err := n.tables.checkProduce(c.msgs)
			n.tablesMu.RUnlock()
			if err != nil {
				out[i] = err
				continue
			}
			pend.add(i, l.Index, c)
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

// produceBatch gathers consecutive produce entries into one Append.
type produceBatch struct {
	msgs []*Message
	idx  []int // out index per entry
	cnt  []int // messages per entry
}

func (p *produceBatch) add(i int, index uint64, c command) {
	for _, m := range c.msgs {
		m.StoreTimestamp, m.RaftIndex = c.storeTS, index
	}
	p.msgs = append(p.msgs, c.msgs...)
	p.idx = append(p.idx, i)
	p.cnt = append(p.cnt, len(c.msgs))
}

func (p *produceBatch) flush(f *fsm, st *store.Store, out []any) {
	if len(p.msgs) == 0 {
		return
	}
	res, err := st.Append(p.msgs)
	if err != nil {
		err = f.n.fail(err)
		for _, i := range p.idx {
			out[i] = err
		}
	} else {
		for k, i := range p.idx {
			out[i] = res[:p.cnt[k]:p.cnt[k]]
			res = res[p.cnt[k]:]
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
	return &fsmSnapshot{st: st, meta: snapMeta{Kind: kindLocal, Tables: t, CLEnd: st.MaxCommitLogOffset(),
		SegmentSize: st.SegmentSize(), Queues: queues}}, nil
}

type fsmSnapshot struct {
	st   *store.Store
	meta snapMeta
}

// Persist makes the store durable up to the snapshot's end and writes the
// small snapshot description.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.st.Sync(); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftfsm: sync store for snapshot: %w", err)
	}
	if err := writeStreamHeader(sink, s.meta); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
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
