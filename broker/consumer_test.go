package broker

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

func TestAllocateAveragely(t *testing.T) {
	// Expected splits follow RocketMQ's AllocateMessageQueueAveragely.
	tests := []struct {
		queues  uint32
		members int
		want    [][]uint32
	}{
		{8, 3, [][]uint32{{0, 1, 2}, {3, 4, 5}, {6, 7}}},
		{8, 1, [][]uint32{{0, 1, 2, 3, 4, 5, 6, 7}}},
		{4, 4, [][]uint32{{0}, {1}, {2}, {3}}},
		{3, 5, [][]uint32{{0}, {1}, {2}, {}, {}}},
		{10, 4, [][]uint32{{0, 1, 2}, {3, 4, 5}, {6, 7}, {8, 9}}},
		{0, 2, [][]uint32{{}, {}}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dq/%dm", tc.queues, tc.members), func(t *testing.T) {
			seen := map[uint32]int{}
			for i := range tc.members {
				got := allocateAveragely(i, tc.members, tc.queues)
				if !slices.Equal(got, tc.want[i]) && !(len(got) == 0 && len(tc.want[i]) == 0) {
					t.Fatalf("member %d: %v, want %v", i, got, tc.want[i])
				}
				for _, q := range got {
					seen[q]++
				}
			}
			if len(seen) != int(tc.queues) {
				t.Fatalf("queues covered: %v", seen)
			}
			for q, n := range seen {
				if n != 1 {
					t.Fatalf("queue %d assigned %d times", q, n)
				}
			}
		})
	}
}

func queuesOf(as []Assignment) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s/%d@%d", a.Topic, a.QueueID, a.Offset))
	}
	return out
}

func heartbeat(t *testing.T, b *Broker, req HeartbeatRequest) HeartbeatResult {
	t.Helper()
	res, err := b.Heartbeat(t.Context(), req)
	if err != nil {
		t.Fatalf("Heartbeat(%s/%s): %v", req.Group, req.MemberID, err)
	}
	return res
}

func TestHeartbeatRebalance(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 4)
	mustCreate(t, b, "U", 2)
	hb := func(member string, topics ...string) HeartbeatResult {
		return heartbeat(t, b, HeartbeatRequest{Group: "G", MemberID: member, Topics: topics, SessionTimeout: time.Minute})
	}
	r1 := hb("m1", "T")
	if got := queuesOf(r1.Assignments); fmt.Sprint(got) != "[T/0@0 T/1@0 T/2@0 T/3@0]" {
		t.Fatalf("m1 alone: %v", got)
	}
	r2 := hb("m2", "T", "U")
	if r2.Generation <= r1.Generation {
		t.Fatalf("generation %d after a join, was %d", r2.Generation, r1.Generation)
	}
	if got := queuesOf(r2.Assignments); fmt.Sprint(got) != "[T/2@0 T/3@0 U/0@0 U/1@0]" {
		t.Fatalf("m2: %v", got)
	}
	r1b := hb("m1", "T")
	if got := queuesOf(r1b.Assignments); fmt.Sprint(got) != "[T/0@0 T/1@0]" || r1b.Generation != r2.Generation {
		t.Fatalf("m1 after m2 joined: %v gen %d, want gen %d", got, r1b.Generation, r2.Generation)
	}
	// Start offsets were committed through the replicator for every queue.
	for _, q := range []struct {
		topic string
		id    uint32
	}{{"T", 0}, {"T", 3}, {"U", 1}} {
		if off, ok := f.Offset("G", q.topic, q.id); !ok || off != 0 {
			t.Fatalf("offset of %s/%d: %d %v", q.topic, q.id, off, ok)
		}
	}
	if err := b.LeaveGroup(t.Context(), "G", "m2"); err != nil {
		t.Fatal(err)
	}
	r1c := hb("m1", "T")
	if len(r1c.Assignments) != 4 || r1c.Generation <= r1b.Generation {
		t.Fatalf("after m2 left: %v gen %d", queuesOf(r1c.Assignments), r1c.Generation)
	}
	// A new leadership term starts membership afresh, with a higher
	// generation.
	f.SetLeader(false, "n2")
	f.SetLeader(true, "")
	r2b := hb("m2", "T")
	if len(r2b.Assignments) != 4 || r2b.Generation <= r1c.Generation {
		t.Fatalf("after failover: %v gen %d (was %d)", queuesOf(r2b.Assignments), r2b.Generation, r1c.Generation)
	}
}

func TestHeartbeatStartPositions(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	produceTo(t, b, "T", 0, "a", "b", "c")
	future := time.Now().Add(time.Hour).UnixMilli()
	if err := b.CommitOffsets(t.Context(), "Committed", []QueueOffset{{Topic: "T", Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		group string
		start StartPosition
		ts    int64
		want  uint64
		atEnd bool // want the queue's end instead
	}{
		{"Earliest", StartEarliest, 0, 0, false},
		{"Latest", StartLatest, 0, 0, true},
		{"Past", StartTimestamp, 1, 0, false},
		{"Future", StartTimestamp, future, 0, true},
		{"Committed", StartLatest, 0, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.group, func(t *testing.T) {
			if tc.atEnd {
				tc.want = f.Store().MaxOffset("T", 0)
			}
			r := heartbeat(t, b, HeartbeatRequest{Group: tc.group, MemberID: "m", Topics: []string{"T"}, Start: tc.start, StartTimestamp: tc.ts})
			if len(r.Assignments) != 1 || r.Assignments[0].Offset != tc.want {
				t.Fatalf("assignments %v, want offset %d", queuesOf(r.Assignments), tc.want)
			}
			// The start position is now the group's committed offset: more
			// messages do not move it.
			produceTo(t, b, "T", 0, "d")
			if off, ok := f.Offset(tc.group, "T", 0); !ok || off != tc.want {
				t.Fatalf("committed %d %v, want %d", off, ok, tc.want)
			}
			r = heartbeat(t, b, HeartbeatRequest{Group: tc.group, MemberID: "m", Topics: []string{"T"}, Start: StartLatest})
			if r.Assignments[0].Offset != tc.want {
				t.Fatalf("second heartbeat offset %d, want %d", r.Assignments[0].Offset, tc.want)
			}
		})
	}
}

func TestHeartbeatSessionExpiry(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 2)
	heartbeat(t, b, HeartbeatRequest{Group: "G", MemberID: "stays", Topics: []string{"T"}, SessionTimeout: time.Minute})
	r := heartbeat(t, b, HeartbeatRequest{Group: "G", MemberID: "dies", Topics: []string{"T"}, SessionTimeout: 20 * time.Millisecond})
	testutil.WaitFor(t, 5*time.Second, "the silent member to expire", func() bool {
		return slices.Equal(b.coord.members("G"), []string{"stays"})
	})
	r2 := heartbeat(t, b, HeartbeatRequest{Group: "G", MemberID: "stays", Topics: []string{"T"}, SessionTimeout: time.Minute})
	if len(r2.Assignments) != 2 || r2.Generation <= r.Generation {
		t.Fatalf("after expiry: %v gen %d, was %d", queuesOf(r2.Assignments), r2.Generation, r.Generation)
	}
}

func TestHeartbeatConcurrentMembersCoverEveryQueueOnce(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 7)
	const members = 5
	var wg sync.WaitGroup
	for i := range members {
		wg.Go(func() {
			if _, err := b.Heartbeat(t.Context(), HeartbeatRequest{Group: "G", MemberID: fmt.Sprint("m", i), Topics: []string{"T"}, SessionTimeout: time.Minute}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Once membership is stable, one more round must tile the queues.
	owner := map[uint32]string{}
	var gen uint64
	for i := range members {
		r := heartbeat(t, b, HeartbeatRequest{Group: "G", MemberID: fmt.Sprint("m", i), Topics: []string{"T"}, SessionTimeout: time.Minute})
		if gen != 0 && r.Generation != gen {
			t.Fatalf("generation changed without a membership change: %d -> %d", gen, r.Generation)
		}
		gen = r.Generation
		for _, a := range r.Assignments {
			if o, dup := owner[a.QueueID]; dup {
				t.Fatalf("queue %d owned by %s and m%d", a.QueueID, o, i)
			}
			owner[a.QueueID] = fmt.Sprint("m", i)
		}
	}
	if len(owner) != 7 {
		t.Fatalf("queues owned: %v", owner)
	}
}

func TestHeartbeatBroadcastingAndFollowers(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 3)
	f.SetLeader(false, "n2")
	_, err := b.Heartbeat(t.Context(), HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"T"}})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderAddr != "n2:9876" {
		t.Fatalf("clustering heartbeat on a follower: %v", err)
	}
	if err := b.LeaveGroup(t.Context(), "G", "m"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("LeaveGroup on a follower: %v", err)
	}
	r, err := b.Heartbeat(t.Context(), HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"T"}, Mode: Broadcasting, Start: StartLatest})
	if err != nil || r.Generation != 0 || fmt.Sprint(queuesOf(r.Assignments)) != "[T/0@0 T/1@0 T/2@0]" {
		t.Fatalf("broadcasting: %+v, %v", r, err)
	}
	if len(f.CommitCalls()) != 0 {
		t.Fatalf("broadcasting committed offsets: %v", f.CommitCalls())
	}
}

func TestHeartbeatValidation(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	tests := []struct {
		name string
		req  HeartbeatRequest
		want error
	}{
		{"bad group", HeartbeatRequest{Group: "a:b", MemberID: "m", Topics: []string{"T"}}, ErrInvalidArgument},
		{"empty member", HeartbeatRequest{Group: "G", Topics: []string{"T"}}, ErrInvalidArgument},
		{"member with space", HeartbeatRequest{Group: "G", MemberID: "a b", Topics: []string{"T"}}, ErrInvalidArgument},
		{"negative timeout", HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"T"}, SessionTimeout: -1}, ErrInvalidArgument},
		{"bad mode", HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"T"}, Mode: 7}, ErrInvalidArgument},
		{"system topic", HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"%SYS%TOPIC"}}, nil},
		{"unknown topic", HeartbeatRequest{Group: "G", MemberID: "m", Topics: []string{"Nope"}}, ErrTopicNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Heartbeat(t.Context(), tc.req)
			if tc.want == nil {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHeartbeatTopicLimit(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	topics := make([]string, MaxSubscribedTopics+1)
	for i := range topics {
		topics[i] = fmt.Sprint("t", i)
	}
	_, err := b.Heartbeat(t.Context(), HeartbeatRequest{Group: "g", MemberID: "m", Topics: topics, Mode: Clustering, Start: StartEarliest})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("heartbeat with %d topics: %v", len(topics), err)
	}
}
