package raftfsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store"
)

// flipBit XORs one bit of the byte at CommitLog offset off in node i's
// store files (the process keeps running: as a bit rotting on disk).
func (c *cluster) flipBit(i int, off int64) {
	c.t.Helper()
	seg := c.cfgs[i].Store.SegmentSize
	path := filepath.Join(c.cfgs[i].Dir, "store", "commitlog", segName(off-off%seg))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off%seg); err != nil {
		c.t.Fatal(err)
	}
	b[0] ^= 0x04
	if _, err := f.WriteAt(b, off%seg); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("flipped a bit of %s at %d (log offset %d)", path, off%seg, off)
}

// sameSegments fails unless the live nodes' CommitLog segment files are
// byte-identical over every offset all of them hold.
func (c *cluster) sameSegments() {
	c.t.Helper()
	var lo, hi int64 = 0, 1 << 62
	for _, n := range c.nodes {
		if n != nil {
			lo, hi = max(lo, n.Store().MinCommitLogOffset()), min(hi, n.Store().MaxCommitLogOffset())
		}
	}
	seg := c.cfgs[0].Store.SegmentSize
	for base := lo; base < hi; base += seg {
		var ref []byte
		for i, n := range c.nodes {
			if n == nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join(c.cfgs[i].Dir, "store", "commitlog", segName(base)))
			if err != nil {
				c.t.Fatal(err)
			}
			b = b[:min(int64(len(b)), hi-base)]
			if ref == nil {
				ref = b
			} else if !bytes.Equal(ref, b) {
				k := 0
				for k < min(len(ref), len(b)) && ref[k] == b[k] {
					k++
				}
				c.t.Fatalf("segment %d differs on %s at %d (lens %d %d): % x vs % x", base, c.cfgs[i].NodeID, k, len(ref), len(b),
					ref[max(k-16, 0):min(k+16, len(ref))], b[max(k-16, 0):min(k+16, len(b))])
			}
		}
	}
}

func fillTopic(t *testing.T, c *cluster, l *Node, n int) []store.AppendResult {
	t.Helper()
	if err := l.CreateTopic(context.Background(), Topic{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	var res []store.AppendResult
	for i := range n {
		res = append(res, produce(t, l, "t", uint32(i%2), fmt.Sprintf("m-%d-%0200d", i, i)))
	}
	c.sameLogs("t", 2)
	c.sameSegments()
	return res
}

// TestBitFlipOnFollowerIsRepairedOnline flips a bit in a record of a
// sealed segment and of the live one on a running follower: its reads
// refuse both records, the node repairs them from a replica, and its
// segments end byte-identical to the others' (store verify clean).
func TestBitFlipOnFollowerIsRepairedOnline(t *testing.T) {
	c := newCluster(t, 3, quietRepairConfig) // detection by read
	li, l := c.leader()
	res := fillTopic(t, c, l, 400)
	fi := (li + 1) % 3
	f := c.nodes[fi]
	st := f.Store()
	last := res[len(res)-1].CommitLogOffset
	live := last - last%st.SegmentSize()
	victims := []int{50, len(res) - 1}
	if res[victims[0]].CommitLogOffset >= live || st.MaxCommitLogOffset() > live+st.SegmentSize() {
		t.Fatalf("victims not in a sealed and the live segment (live from %d)", live)
	}
	for _, v := range victims {
		c.flipBit(fi, res[v].CommitLogOffset+int64(res[v].Size)-7)
	}
	for _, v := range victims {
		r := res[v]
		_, err := st.GetMessages(store.GetRequest{Topic: "t", QueueID: uint32(v % 2), Offset: r.QueueOffset, MaxMessages: 1})
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("read of the flipped record %d: %v, want ErrCorrupt", v, err)
		}
	}
	testutil.WaitFor(t, 20*time.Second, "the follower to repair both records", func() bool {
		done, pending := f.Repairs()
		return done >= 2 && pending == 0
	})
	for _, v := range victims {
		m := getOne(t, st, "t", uint32(v%2), res[v].QueueOffset)
		if want := fmt.Sprintf("m-%d-%0200d", v, v); string(m.Body) != want {
			t.Fatalf("after repair: %q", m.Body)
		}
	}
	if err := st.Scrub(); err != nil {
		t.Fatal(err)
	}
	produce(t, l, "t", 0, "after")
	c.sameLogs("t", 2)
	c.sameSegments()
	c.verifyAll()
}

// quietRepairConfig: no scrub (damage is found by the reads the tests
// make) and production Raft timeouts, so a loaded machine does not move
// the leadership these tests do not test.
func quietRepairConfig(cfg *Config) {
	cfg.ScrubInterval = time.Hour
	d := DefaultConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = d.HeartbeatTimeout, d.ElectionTimeout, d.LeaderLeaseTimeout
}

// verifyAll stops every node and runs the offline store verifier.
func (c *cluster) verifyAll() {
	c.t.Helper()
	for i := range c.nodes {
		if c.nodes[i] != nil {
			c.kill(i)
		}
		rep, err := store.Verify(filepath.Join(c.cfgs[i].Dir, "store"))
		if err != nil || !rep.OK() {
			c.t.Fatalf("verify %s: %v %v", c.cfgs[i].NodeID, err, rep.Problems)
		}
	}
}

// TestBitFlipWhileStoppedIsRepairedAtOpen flips a bit in a record below
// the follower's snapshot while it is down and drops its checkpoint (as
// after a crash before the first one): recovery meets the damage inside
// what the snapshot says is durable, and Open repairs it from a replica
// before serving instead of truncating acknowledged data away.
func TestBitFlipWhileStoppedIsRepairedAtOpen(t *testing.T) {
	c := newCluster(t, 3, quietRepairConfig)
	li, l := c.leader()
	res := fillTopic(t, c, l, 300)
	fi := (li + 1) % 3
	f := c.nodes[fi]
	if err := f.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatal(err)
	}
	metas, err := f.snaps.all()
	if err != nil || len(metas) == 0 {
		t.Fatalf("snapshots: %v %d", err, len(metas))
	}
	v := 200
	if res[v].CommitLogOffset >= metas[0].Snap.CLEnd {
		t.Fatalf("victim at %d not below the snapshot end %d", res[v].CommitLogOffset, metas[0].Snap.CLEnd)
	}
	c.kill(fi)
	c.flipBit(fi, res[v].CommitLogOffset+int64(res[v].Size)-7)
	if err := os.Remove(filepath.Join(c.cfgs[fi].Dir, "store", "checkpoint")); err != nil {
		t.Fatal(err)
	}
	c.start(fi)
	st := c.nodes[fi].Store()
	m := getOne(t, st, "t", uint32(v%2), res[v].QueueOffset)
	if want := fmt.Sprintf("m-%d-%0200d", v, v); string(m.Body) != want {
		t.Fatalf("after repair at open: %q", m.Body)
	}
	if got := st.MaxOffset("t", 0) + st.MaxOffset("t", 1); got != 300 {
		t.Fatalf("reopened follower holds %d messages, want 300", got)
	}
	produce(t, l, "t", 0, "after")
	c.sameLogs("t", 2)
	c.sameSegments()
	c.verifyAll()
}

// TestBitFlipOnLeaderIsRepairedFromFollowers: the leader's copy is
// damaged; it refuses the read, keeps taking writes, and repairs itself
// from a follower.
func TestBitFlipOnLeaderIsRepairedFromFollowers(t *testing.T) {
	c := newCluster(t, 3, quietRepairConfig)
	li, l := c.leader()
	res := fillTopic(t, c, l, 120)
	v := 60
	c.flipBit(li, res[v].CommitLogOffset+int64(res[v].Size)-7)
	if _, err := l.Store().ReadMessage(res[v].CommitLogOffset); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("leader read of the flipped record: %v, want ErrCorrupt", err)
	}
	produce(t, l, "t", 1, "while-damaged")
	testutil.WaitFor(t, 20*time.Second, "the leader to repair the record", func() bool {
		done, pending := l.Repairs()
		return done >= 1 && pending == 0
	})
	if m, err := l.Store().ReadMessage(res[v].CommitLogOffset); err != nil || string(m.Body) != fmt.Sprintf("m-%d-%0200d", v, v) {
		t.Fatalf("after repair: %q %v", m.Body, err)
	}
	c.sameLogs("t", 2)
	c.sameSegments()
	c.verifyAll()
}

// TestSnapshotStreamRefusesDamage: the CommitLog stream a leader sends to
// install a follower stops at a damaged record (and reports it) instead of
// installing the damage on the follower.
func TestSnapshotStreamRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	o := store.TestOptions()
	st, err := store.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var res []store.AppendResult
	for i := range 300 {
		r, err := st.Append([]*Message{{Topic: "t", Body: fmt.Appendf(nil, "m-%d-%0200d", i, i), RaftIndex: uint64(i + 1), StoreTimestamp: 1}})
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r...)
	}
	read := func(report func(*store.CorruptError)) ([]byte, error) {
		var out bytes.Buffer
		cr := &clReader{st: st, pos: 0, end: st.MaxCommitLogOffset(), segSize: o.SegmentSize, report: report}
		_, err := out.ReadFrom(cr)
		return out.Bytes(), err
	}
	intact, err := read(nil)
	if err != nil || int64(len(intact)) != st.MaxCommitLogOffset() {
		t.Fatalf("intact stream: %d bytes, %v", len(intact), err)
	}
	v := res[200]
	path := filepath.Join(dir, "commitlog", segName(v.CommitLogOffset-v.CommitLogOffset%o.SegmentSize))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'X'}, v.CommitLogOffset%o.SegmentSize+int64(v.Size)-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var reported []int64
	got, err := read(func(e *store.CorruptError) { reported = append(reported, e.Offset) })
	if !errors.Is(err, store.ErrCorrupt) || int64(len(got)) > v.CommitLogOffset || len(reported) != 1 || reported[0] != v.CommitLogOffset {
		t.Fatalf("damaged stream: %d bytes (damage at %d), err %v, reported %v", len(got), v.CommitLogOffset, err, reported)
	}
	if !bytes.Equal(got, intact[:len(got)]) {
		t.Fatal("the bytes streamed before the damage differ")
	}
}
