//go:build chaos

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
	"github.com/raftmq/raftmq/store"
)

// flipInRecord is where in a record the bit flip lands: past the length,
// magic and CRC fields, inside what the CRC covers (the checker's records
// are over 300 bytes).
const flipInRecord = 80

// TestChaosBitFlipFollower: under the checker's workload, flip one bit of
// an acknowledged message in a running follower's CommitLog; then stop
// the follower (SIGTERM, and once more with kill -9), flip a bit of
// another acknowledged message and restart it. Each time the follower must detect the damage by CRC, never serve
// the damaged message (GetMessage on it answers DATA_LOSS until it is
// repaired, then the original bytes), and repair it from the healthy
// replicas. At the end the checker must find nothing lost or
// inconsistent, the three CommitLogs must be byte-identical and the
// offline store verifier clean on every node.
func TestChaosBitFlipFollower(t *testing.T) {
	skipShort(t)
	seed := time.Now().UnixNano()
	t.Logf("nemesis seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, ExtraArgs: []string{"--scrub-interval", "1s"}})
	ck, start := startWorkload(t, ctx, c, 5*time.Second)
	waitFor(t, ctx, "2s of acknowledged writes", func() bool { return time.Since(start) >= 2*time.Second && acked(ck) > 0 })

	f := (c.Leader(ctx) + 1 + rng.IntN(c.Size()-1)) % c.Size()
	id, off := pickAcked(t, ctx, c, ck, f, rng)
	want := readByID(t, ctx, c, (f+1)%c.Size(), id)
	flipCommitLog(c, f, off)
	ck.Fault("bit flip in running follower " + c.NodeID(f))
	flipped := time.Now()
	seen := waitServedIntact(t, ctx, c, f, id, want)
	t.Logf("running follower %s: damaged message %s answered %v, then intact %v after the flip",
		c.NodeID(f), id, seen, time.Since(flipped).Round(time.Millisecond))

	// Down and up again: a graceful stop leaves a clean checkpoint (Open
	// trusts it, the scrub finds the damage); kill -9 leaves the flip in
	// the region recovery rescans.
	for _, down := range []struct {
		name string
		stop func(int)
	}{{"SIGTERM", c.Stop}, {"kill -9", c.Kill9}} {
		id, off = pickAcked(t, ctx, c, ck, f, rng)
		want = readByID(t, ctx, c, (f+1)%c.Size(), id)
		down.stop(f)
		ck.Fault(down.name + " follower " + c.NodeID(f) + ", bit flip, restart")
		flipCommitLog(c, f, off)
		c.Restart(f)
		c.WaitHealthy(f)
		serving := time.Now()
		seen = waitServedIntact(t, ctx, c, f, id, want)
		t.Logf("follower %s after %s: damaged message %s answered %v, then intact %v after the restarted node served",
			c.NodeID(f), down.name, id, seen, time.Since(serving).Round(time.Millisecond))
	}

	for i := range c.Size() {
		c.WaitCaughtUp(ctx, i)
	}
	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	rep := stopAndCheck(t, ctx, c, ck)
	log, err := os.ReadFile(c.LogPath(f))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "CORRUPT") || strings.Contains(l, "REPAIRED") || strings.Contains(l, "damaged") ||
			strings.Contains(l, "torn tail") || strings.Contains(l, "recovering") {
			t.Logf("%s log: %.400s", c.NodeID(f), l)
		}
	}
	sameCommitLogs(t, ctx, c)
	for i := range c.Size() {
		c.Stop(i)
		vr, err := store.Verify(filepath.Join(c.DataDir(i), "store"))
		if err != nil || !vr.OK() {
			t.Fatalf("verify %s: %v %v", c.NodeID(i), err, vr.Problems)
		}
	}
	reportChaos(t, "bitflip-follower-commitlog", rep)
}

// pickAcked returns a random acknowledged message that node i holds.
func pickAcked(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, i int, rng *rand.Rand) (string, int64) {
	t.Helper()
	st, err := c.Status(ctx, i)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range ck.Sends() {
		if s.Outcome != checker.OutcomeOK {
			continue
		}
		if _, off, err := broker.ParseMessageID(s.MsgID); err == nil && off+flipInRecord < st.GetCommitlogEnd() {
			ids = append(ids, s.MsgID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("%s holds no acknowledged message yet", c.NodeID(i))
	}
	id := ids[rng.IntN(len(ids))]
	_, off, _ := broker.ParseMessageID(id)
	return id, off
}

// flipCommitLog flips one bit inside the record at CommitLog offset off
// of node i.
func flipCommitLog(c *testcluster.Cluster, i int, off int64) {
	seg := store.DefaultOptions().SegmentSize
	c.FlipBits(i, filepath.Join("store", "commitlog", fmt.Sprintf("%020d", off-off%seg)), off%seg+flipInRecord, 0x01)
}

func readByID(t *testing.T, ctx context.Context, c *testcluster.Cluster, i int, id string) []byte {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.Client(i).GetMessage(cctx, &raftmqpb.GetMessageRequest{MsgId: id})
	if err != nil {
		t.Fatalf("get %s from %s: %v", id, c.NodeID(i), err)
	}
	return resp.GetMessage().GetBody()
}

// waitServedIntact asks node i for message id until it answers with want;
// any other body fails the test (damage served). It returns the codes seen
// before.
func waitServedIntact(t *testing.T, ctx context.Context, c *testcluster.Cluster, i int, id string, want []byte) []codes.Code {
	t.Helper()
	var seen []codes.Code
	waitFor(t, ctx, c.NodeID(i)+" to serve "+id+" intact", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := c.Client(i).GetMessage(cctx, &raftmqpb.GetMessageRequest{MsgId: id})
		cancel()
		if err != nil {
			if code := status.Code(err); len(seen) == 0 || seen[len(seen)-1] != code {
				seen = append(seen, code)
			}
			if status.Code(err) == codes.NotFound {
				t.Fatalf("%s lost %s: %v", c.NodeID(i), id, err)
			}
			return false
		}
		if !bytes.Equal(resp.GetMessage().GetBody(), want) {
			t.Fatalf("%s served damaged bytes for %s", c.NodeID(i), id)
		}
		return true
	})
	return seen
}

// sameCommitLogs fails unless every node's CommitLog segments hold
// identical bytes up to the (converged) CommitLog end.
func sameCommitLogs(t *testing.T, ctx context.Context, c *testcluster.Cluster) {
	t.Helper()
	st, err := c.Status(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	end := st.GetCommitlogEnd()
	seg := store.DefaultOptions().SegmentSize
	for base := int64(0); base < end; base += seg {
		var ref []byte
		for i := range c.Size() {
			b, err := readPrefix(filepath.Join(c.DataDir(i), "store", "commitlog", fmt.Sprintf("%020d", base)), min(seg, end-base))
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = b
			} else if !bytes.Equal(ref, b) {
				t.Fatalf("commitlog segment %d differs between %s and %s", base, c.NodeID(0), c.NodeID(i))
			}
		}
	}
	t.Logf("commitlogs byte-identical on %s up to %d", strings.Join([]string{c.NodeID(0), c.NodeID(1), c.NodeID(2)}, ", "), end)
}

func readPrefix(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
