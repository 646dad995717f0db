package raftfsm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store"
)

// produceOne produces msgs as one plain request and returns its results
// or its error.
func produceOne(ctx context.Context, n *Node, msgs []*Message) ([]store.AppendResult, error) {
	res, err := n.Produce(ctx, []ProduceRequest{{Msgs: msgs}})
	if err != nil {
		return nil, err
	}
	return res[0].Results, res[0].Err
}

// applier drives the FSM directly, without Raft: entries get consecutive
// indexes and the timestamps the test chooses.
type applier struct {
	t     *testing.T
	n     *Node
	f     *fsm
	index uint64
}

func newApplier(t *testing.T, dir string) *applier {
	t.Helper()
	st, err := store.Open(dir, store.TestOptions())
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{log: slog.New(slog.DiscardHandler), tables: newTables(), producers: newProducerTable(), appliedCh: make(chan struct{}), epoch: time.Now()}
	n.st.Store(st)
	t.Cleanup(func() { st.Close() })
	return &applier{t: t, n: n, f: &fsm{n: n}, index: st.LastRaftIndex()}
}

// apply applies entries as one ApplyBatch.
func (a *applier) apply(cmds ...[]byte) []any {
	a.t.Helper()
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		a.index++
		logs[i] = &raft.Log{Index: a.index, Type: raft.LogCommand, Data: c}
	}
	out := a.f.ApplyBatch(logs)
	for i, o := range out {
		if err, ok := o.(error); ok {
			a.t.Fatalf("entry %d: %v", i, err)
		}
	}
	return out
}

// produce applies one produce entry and returns its requests' results.
func (a *applier) produce(ts int64, reqs ...ProduceRequest) []ProduceResult {
	a.t.Helper()
	outs := a.apply(encodeProduce(ts, markRequests(reqs)))[0].([]reqOutcome)
	return a.results(reqs, ts, outs)
}

func (a *applier) results(reqs []ProduceRequest, ts int64, outs []reqOutcome) []ProduceResult {
	a.t.Helper()
	if len(outs) != len(reqs) {
		a.t.Fatalf("%d outcomes for %d requests", len(outs), len(reqs))
	}
	res := make([]ProduceResult, len(reqs))
	for i := range reqs {
		res[i] = a.n.produceResult(reqs[i], ts, outs[i])
	}
	return res
}

func (a *applier) tableJSON() string {
	a.t.Helper()
	b, err := json.Marshal(a.n.producers)
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

// commitLog returns the whole CommitLog's bytes.
func (a *applier) commitLog() []byte {
	a.t.Helper()
	st := a.n.Store()
	b := make([]byte, st.MaxCommitLogOffset()-st.MinCommitLogOffset())
	if err := st.ReadCommitLog(b, st.MinCommitLogOffset()); err != nil {
		a.t.Fatal(err)
	}
	return b
}

// req builds a request of len(bodies) messages to topic t, queue i%4.
func req(idem bool, pid, seq uint64, bodies ...string) ProduceRequest {
	r := ProduceRequest{Idempotent: idem, ProducerID: pid, Seq: seq}
	for i, b := range bodies {
		r.Msgs = append(r.Msgs, &Message{Topic: "t", QueueID: uint32(i % 4), Body: []byte(b)})
	}
	return r
}

func (a *applier) count() uint64 {
	var n uint64
	for q := range uint32(4) {
		n += a.n.Store().MaxOffset("t", q)
	}
	return n
}

func sameResults(t *testing.T, what string, got, want ProduceResult) {
	t.Helper()
	if got.Err != nil || want.Err != nil || len(got.Results) != len(want.Results) {
		t.Fatalf("%s: %+v vs %+v", what, got, want)
	}
	for i := range got.Results {
		if got.Results[i] != want.Results[i] {
			t.Fatalf("%s: message %d at %+v, original at %+v", what, i, got.Results[i], want.Results[i])
		}
	}
}

// TestProduceRequestsFailAlone: a request naming a deleted topic fails on
// its own; the other requests of the entry are stored, in order.
func TestProduceRequestsFailAlone(t *testing.T) {
	a := newApplier(t, t.TempDir())
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}), encodeCreateTopic(Topic{Name: "gone", Queues: 1}))
	a.apply(encodeDeleteTopic("gone"))
	bad := ProduceRequest{Msgs: []*Message{{Topic: "gone", Body: []byte("x")}}}
	outOfRange := ProduceRequest{Msgs: []*Message{{Topic: "t", QueueID: 9, Body: []byte("x")}}}
	res := a.produce(1000, req(false, 0, 0, "a1", "a2"), bad, req(true, 7, 1, "b1"), outOfRange, req(false, 0, 0, "c1"))
	for i, want := range []error{nil, ErrTopicNotFound, nil, ErrTopicNotFound, nil} {
		if !errors.Is(res[i].Err, want) {
			t.Fatalf("request %d: %v, want %v", i, res[i].Err, want)
		}
	}
	if a.count() != 4 {
		t.Fatalf("%d messages stored, want 4", a.count())
	}
	if !(res[0].Results[1].CommitLogOffset < res[2].Results[0].CommitLogOffset && res[2].Results[0].CommitLogOffset < res[4].Results[0].CommitLogOffset) {
		t.Fatalf("requests not stored in entry order: %+v", res)
	}
	// A single plain request is a version 1 entry: one request, refused
	// as a whole.
	v1 := encodeProduce(1001, []ProduceRequest{bad})
	if v1[1] != cmdVersion {
		t.Fatalf("one plain request encoded as version %d", v1[1])
	}
	outs := a.apply(v1)[0].([]reqOutcome)
	if len(outs) != 1 || !errors.Is(outs[0].err, ErrTopicNotFound) {
		t.Fatalf("v1 outcome %+v", outs)
	}
}

// TestDedup covers duplicates across ApplyBatch calls, across entries of
// one batch and within one entry, sequences out of order, and a
// sequence reused for another request.
func TestDedup(t *testing.T) {
	a := newApplier(t, t.TempDir())
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
	first := a.produce(1000, req(true, 1, 1, "x", "y"))[0]
	// The retry's messages would go elsewhere (other queues): the answer
	// is the original's.
	retry := req(true, 1, 1, "x", "y")
	retry.Msgs[0].QueueID, retry.Msgs[1].QueueID = 3, 2
	dup := a.produce(1001, retry)[0]
	if !dup.Duplicate || retry.Msgs[0].QueueID != 0 || retry.Msgs[1].QueueID != 1 {
		t.Fatalf("retry: %+v, queues %d %d", dup, retry.Msgs[0].QueueID, retry.Msgs[1].QueueID)
	}
	sameResults(t, "retry in a later batch", dup, first)

	// Twice in one entry, and in two entries of one ApplyBatch.
	r := a.produce(1002, req(true, 1, 2, "z"), req(true, 1, 2, "z"))
	if r[0].Duplicate || !r[1].Duplicate {
		t.Fatalf("same entry: %+v", r)
	}
	sameResults(t, "same entry", r[1], r[0])
	e1, e2 := []ProduceRequest{req(true, 1, 3, "w")}, []ProduceRequest{req(true, 1, 3, "w")}
	out := a.apply(encodeProduce(1003, markRequests(e1)), encodeProduce(1003, markRequests(e2)))
	r1, r2 := a.results(e1, 1003, out[0].([]reqOutcome)), a.results(e2, 1003, out[1].([]reqOutcome))
	if r1[0].Duplicate || !r2[0].Duplicate {
		t.Fatalf("same batch: %+v %+v", r1, r2)
	}
	sameResults(t, "same batch", r2[0], r1[0])

	// Out of order: 10, 5, 7 are all new; 5 and 10 again are duplicates.
	var got []bool
	for _, seq := range []uint64{10, 5, 7, 5, 10, 6} {
		got = append(got, a.produce(1004, req(true, 1, seq, "o"))[0].Duplicate)
	}
	if fmt.Sprint(got) != "[false false false true true false]" {
		t.Fatalf("out of order duplicates: %v", got)
	}
	// Another producer's sequence 1 is its own.
	if a.produce(1005, req(true, 2, 1, "p"))[0].Duplicate {
		t.Fatal("producer 2 seq 1 taken for producer 1's")
	}
	if r := a.produce(1006, req(true, 1, 1, "x")); !errors.Is(r[0].Err, ErrSequenceReused) {
		t.Fatalf("seq 1 with one message: %+v", r[0])
	}
	// x y, z, w, 10 5 7 6, p.
	if a.count() != 9 {
		t.Fatalf("%d messages stored, want 9", a.count())
	}
}

// TestDedupWindow: a producer's entry remembers the last producerWindow
// sequences; an older unknown one is refused, never stored twice.
func TestDedupWindow(t *testing.T) {
	a := newApplier(t, t.TempDir())
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
	a.produce(1000, req(true, 1, 1, "a"))
	a.produce(1000, req(true, 1, 300, "b"))
	for _, tc := range []struct {
		seq  uint64
		dup  bool
		want error
	}{
		{1, false, ErrSequenceTooOld},
		{300 - producerWindow, false, ErrSequenceTooOld},
		{300 - producerWindow + 1, false, nil},
		{300 - producerWindow + 1, true, nil},
		{300, true, nil},
		{301, false, nil},
	} {
		r := a.produce(1001, req(true, 1, tc.seq, "c"))[0]
		if !errors.Is(r.Err, tc.want) || r.Duplicate != tc.dup {
			t.Fatalf("seq %d: %+v, want dup %v err %v", tc.seq, r, tc.dup, tc.want)
		}
	}
	if a.count() != 4 {
		t.Fatalf("%d messages stored, want 4", a.count())
	}
	// Sequence 1 still sits in its ring slot, behind the window: a
	// snapshot of the table must load again and decide the same way.
	var back producerTable
	if err := json.Unmarshal([]byte(a.tableJSON()), &back); err != nil {
		t.Fatalf("the snapshot of the table does not load: %v", err)
	}
	for _, seq := range []uint64{1, 300 - producerWindow, 300 - producerWindow + 1, 300, 302} {
		v1, s1 := a.n.producers.check(1, seq, 1, 1002)
		v2, s2 := back.check(1, seq, 1, 1002)
		if v1 != v2 || s1 != s2 {
			t.Fatalf("seq %d: live table says %v %+v, reloaded %v %+v", seq, v1, s1, v2, s2)
		}
	}
}

// expiryScript is a run of entries exercising expiry and the producer cap
// (the table holds 2 producers): every decision depends on entry
// timestamps only.
func expiryScript(t0 int64) [][]ProduceRequest {
	return [][]ProduceRequest{
		{req(true, 1, 1, "a")},                       // t0
		{req(true, 2, 1, "b")},                       // t0+1
		{req(true, 3, 1, "c")},                       // t0+2: evicts 1 (cap 2)
		{req(true, 1, 1, "a"), req(true, 3, 1, "c")}, // 1 forgotten: stored again; 3 dup; evicts 2
		{req(true, 1, 2, "d"), {Msgs: []*Message{{Topic: "gone", Body: []byte("x")}}}},
		{req(true, 3, 2, "e")}, // t0+expiry+10: 1 expired
		{req(true, 1, 2, "d")}, // stored again
		{req(true, 3, 2, "e")}, // dup
	}
}

func expiryTimes(t0 int64) []int64 {
	return []int64{t0, t0 + 1, t0 + 2, t0 + 3, t0 + 4, t0 + producerExpiryMs + 10, t0 + producerExpiryMs + 11, t0 + producerExpiryMs + 12}
}

// TestDedupExpiryAndCapAreDeterministic applies the same entries on two
// replicas, in one ApplyBatch and one by one: the decisions, CommitLogs
// and tables are identical, and the expected requests were forgotten.
func TestDedupExpiryAndCapAreDeterministic(t *testing.T) {
	t0 := int64(1_700_000_000_000)
	script, times := expiryScript(t0), expiryTimes(t0)
	var reps []*applier
	for range 2 {
		a := newApplier(t, t.TempDir())
		a.n.producers.max = 2
		a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
		reps = append(reps, a)
	}
	var cmds [][]byte
	for i, reqs := range script {
		cmds = append(cmds, encodeProduce(times[i], markRequests(reqs)))
	}
	batched := reps[0].apply(cmds...)
	var dups [2][]bool
	for i := range script {
		one := reps[1].apply(cmds[i])[0].([]reqOutcome)
		for k, o := range [][]reqOutcome{batched[i].([]reqOutcome), one} {
			for _, x := range o {
				dups[k] = append(dups[k], x.dup.count > 0)
			}
		}
	}
	want := "[false false false false true false false false false true]"
	if fmt.Sprint(dups[0]) != want || fmt.Sprint(dups[1]) != want {
		t.Fatalf("duplicates: batched %v, one by one %v, want %v", dups[0], dups[1], want)
	}
	if !bytes.Equal(reps[0].commitLog(), reps[1].commitLog()) {
		t.Fatal("the replicas' CommitLogs differ")
	}
	if reps[0].tableJSON() != reps[1].tableJSON() {
		t.Fatalf("tables differ:\n%s\n%s", reps[0].tableJSON(), reps[1].tableJSON())
	}
	if got := len(reps[0].n.producers.byID); got != 2 {
		t.Fatalf("%d producers remembered, cap 2", got)
	}
}

// TestProducerTableRebuild: the table rebuilt from the CommitLog at open
// (from the start, or from a snapshot's copy and CommitLog end) equals the
// table of the replica that applied the entries.
func TestProducerTableRebuild(t *testing.T) {
	t0 := int64(1_700_000_000_000)
	dir := t.TempDir()
	a := newApplier(t, dir)
	a.n.producers.max = 2
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
	script, times := expiryScript(t0), expiryTimes(t0)
	var snap *producerTable
	var snapEnd int64
	for i, reqs := range script {
		if i == 3 {
			snap, snapEnd = a.n.producers.clone(), a.n.Store().MaxCommitLogOffset()
		}
		a.produce(times[i], reqs...)
	}
	for seq := range uint64(300) {
		a.produce(t0+producerExpiryMs+20, req(true, 9, seq, "w"))
	}
	live := a.tableJSON()
	if err := a.n.Store().Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		base *producerTable
		from int64
	}{
		{"from the start", nil, 0},
		{"from a snapshot", snap, snapEnd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newApplier(t, dir)
			if tc.base != nil {
				b.n.producers = tc.base.clone()
			}
			b.n.producers.max = 2
			got, err := b.n.rebuildProducers(b.n.Store(), tc.from)
			if err != nil {
				t.Fatal(err)
			}
			b.n.producers = got
			if b.tableJSON() != live {
				t.Fatalf("rebuilt table differs:\n got %s\nwant %s", b.tableJSON(), live)
			}
			b.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
			if r := b.produce(t0+producerExpiryMs+21, req(true, 9, 299, "w"))[0]; !r.Duplicate {
				t.Fatalf("retry after rebuild: %+v", r)
			}
			b.n.Store().Close()
		})
	}
}

// TestSnapshotMetaCarriesProducers: the producer table survives the
// snapshot header (local snapshots and installs alike).
func TestSnapshotMetaCarriesProducers(t *testing.T) {
	a := newApplier(t, t.TempDir())
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 4}))
	for seq := range uint64(5) {
		a.produce(1000+int64(seq), req(true, seq%2, seq, "m"))
	}
	snap, err := a.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	h, err := headerBytes(snap.(*fsmSnapshot).meta)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readStreamHeader(bytes.NewReader(h))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(m.producerTable())
	if string(got) != a.tableJSON() {
		t.Fatalf("snapshot table differs:\n got %s\nwant %s", got, a.tableJSON())
	}
	var old snapMeta // an older release's snapshot: no table
	if tb := old.producerTable(); len(tb.byID) != 0 {
		t.Fatal("empty meta gave producers")
	}
}

// produceSeq produces one idempotent request of one message at n.
func produceSeq(t *testing.T, n *Node, pid, seq uint64, body string) ProduceResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := n.Produce(ctx, []ProduceRequest{{Idempotent: true, ProducerID: pid, Seq: seq,
		Msgs: []*Message{{Topic: "t", QueueID: uint32(seq % 2), Body: []byte(body)}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("produce %x/%d: %v %+v", pid, seq, err, res)
	}
	return res[0]
}

// TestIdempotentRetryAfterFailoverAndRestart: a request retried on
// another replica after a failover, or on a replica that restarted (its
// table rebuilt from a snapshot and the CommitLog tail), returns the
// original offsets and stores nothing.
func TestIdempotentRetryAfterFailoverAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	li, l := c.leader()
	if err := l.CreateTopic(context.Background(), Topic{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	orig := map[uint64]ProduceResult{1: produceSeq(t, l, 42, 1, "one")}
	if err := l.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatal(err)
	}
	orig[2] = produceSeq(t, l, 42, 2, "two") // after the snapshot: in the tail only
	end := l.Store().MaxCommitLogOffset()
	c.sameLogs("t", 2)
	check := func(n *Node) {
		t.Helper()
		for seq, want := range orig {
			got := produceSeq(t, n, 42, seq, "again")
			if !got.Duplicate {
				t.Fatalf("%s: retry of seq %d stored again", n.cfg.NodeID, seq)
			}
			sameResults(t, fmt.Sprintf("%s seq %d", n.cfg.NodeID, seq), got, want)
		}
		if got := n.Store().MaxCommitLogOffset(); got != end {
			t.Fatalf("%s: commitlog grew from %d to %d", n.cfg.NodeID, end, got)
		}
	}
	c.kill(li)
	_, nl := c.leader()
	check(nl)
	c.start(li)
	c.sameLogs("t", 2)
	testutil.WaitFor(t, 10*time.Second, "leadership moves to the restarted node", func() bool {
		if nl.IsLeader() {
			_ = nl.TransferLeadership(c.cfgs[li].NodeID)
		}
		return c.nodes[li].IsLeader()
	})
	check(c.nodes[li])
}

// TestOversizedMarkFailsOnlyItsRequest: a request whose producer mark
// pushes its first message over the properties limit fails alone; the
// others of the entry are stored.
func TestOversizedMarkFailsOnlyItsRequest(t *testing.T) {
	c := newCluster(t, 1, nil)
	_, l := c.leader()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, Topic{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	big := req(true, 5, 1, "big")
	limit := l.Store().Options().MaxPropertiesSize
	big.Msgs[0].Properties = map[string]string{"p": string(bytes.Repeat([]byte("x"), limit-4-2-2-2-1-10))}
	if err := store.ValidateMessage(big.Msgs[0], l.Store().Options()); err != nil {
		t.Fatalf("the unmarked message should fit: %v", err)
	}
	res, err := l.Produce(ctx, []ProduceRequest{req(false, 0, 0, "a"), big, req(true, 5, 2, "b")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[2].Err != nil || !errors.Is(res[1].Err, store.ErrPropertiesTooLarge) {
		t.Fatalf("results: %+v", res)
	}
	if n := l.Store().MaxOffset("t", 0); n != 2 {
		t.Fatalf("%d messages stored in queue 0, want 2", n)
	}
}

// TestMarkOverheadBoundsEveryMark: the broker reserves MarkOverhead bytes
// of properties for the mark; the longest mark fits in it.
func TestMarkOverheadBoundsEveryMark(t *testing.T) {
	longest := 4 + len(ProducerSeqProperty) + len(markValue(math.MaxUint64, math.MaxUint64, math.MaxInt32))
	if longest > MarkOverhead {
		t.Fatalf("the longest mark takes %d bytes, MarkOverhead is %d", longest, MarkOverhead)
	}
}

// TestNewerEntryStopsTheReplica: an entry of a version this release does
// not know (written by a newer leader) stops the node instead of being
// skipped, which would leave this replica's CommitLog behind its peers'.
// A malformed entry of a known version is refused alike everywhere.
func TestNewerEntryStopsTheReplica(t *testing.T) {
	a := newApplier(t, t.TempDir())
	a.apply(encodeCreateTopic(Topic{Name: "t", Queues: 1}))
	a.index++
	out := a.f.ApplyBatch([]*raft.Log{{Index: a.index, Type: raft.LogCommand, Data: []byte{cmdProduce, 1, 0xff}}})
	if err, _ := out[0].(error); !errors.Is(err, ErrBadCommand) || errors.Is(err, ErrFailed) {
		t.Fatalf("malformed entry of a known version: %v, want ErrBadCommand without failing the node", out[0])
	}
	a.index++
	out = a.f.ApplyBatch([]*raft.Log{{Index: a.index, Type: raft.LogCommand, Data: []byte{cmdProduce, 9, 0, 0}}})
	if err, _ := out[0].(error); !errors.Is(err, ErrFailed) {
		t.Fatalf("entry of an unknown version: %v, want ErrFailed", out[0])
	}
	if a.n.failedErr() == nil {
		t.Fatal("the node did not stop")
	}
}
