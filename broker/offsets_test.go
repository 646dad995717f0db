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

func TestCommitOffsetsGroupCommit(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 8)
	release := f.Hold()
	defer release()
	var wg sync.WaitGroup
	commit := func(q uint32) {
		wg.Go(func() {
			if err := b.CommitOffsets(t.Context(), "G", []QueueOffset{{Topic: "T", QueueID: q, Offset: uint64(q) + 10}}); err != nil {
				t.Error(err)
			}
		})
	}
	commit(0)
	<-f.Entered()
	for q := uint32(1); q < 8; q++ {
		commit(q)
	}
	testutil.WaitFor(t, 5*time.Second, "commits queued behind the apply", func() bool { return b.commits.waiting.Load() == 7 })
	release()
	wg.Wait()
	if got := f.CommitCalls(); !slices.Equal(got, []int{1, 7}) {
		t.Fatalf("commit calls %v, want [1 7]", got)
	}
	offs, err := b.GetOffsets("G", "T")
	if err != nil || len(offs) != 8 || offs[5] != (QueueOffset{Topic: "T", QueueID: 5, Offset: 15}) {
		t.Fatalf("GetOffsets: %v, %v", offs, err)
	}
}

func TestCommitOffsetsValidation(t *testing.T) {
	b, f := newTestBroker(t, func(c *Config) { c.MaxCommitOffsets = 2 })
	mustCreate(t, b, "T", 2)
	tests := []struct {
		name  string
		group string
		offs  []QueueOffset
		want  error
	}{
		{"no offsets", "G", nil, ErrInvalidArgument},
		{"too many", "G", []QueueOffset{{Topic: "T"}, {Topic: "T"}, {Topic: "T"}}, ErrRequestTooLarge},
		{"bad group", "", []QueueOffset{{Topic: "T"}}, ErrInvalidArgument},
		{"queue outside topic", "G", []QueueOffset{{Topic: "T", QueueID: 2}}, ErrTopicNotFound},
		{"unknown topic", "G", []QueueOffset{{Topic: "U"}}, ErrTopicNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.CommitOffsets(t.Context(), tc.group, tc.offs); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	f.SetLeader(false, "n2")
	if err := b.CommitOffsets(t.Context(), "G", []QueueOffset{{Topic: "T"}}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("on a follower: %v", err)
	}
	if len(f.CommitCalls()) != 0 {
		t.Fatalf("bad commits reached the replicator: %v", f.CommitCalls())
	}
}

func TestGroupLag(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 3)
	produceTo(t, b, "T", 0, "a", "b", "c", "d", "e")
	produceTo(t, b, "T", 1, "a", "b")
	if err := b.CommitOffsets(t.Context(), "G", []QueueOffset{{Topic: "T", QueueID: 0, Offset: 2}}); err != nil {
		t.Fatal(err)
	}
	lags, total, err := b.GroupLag("G", "T")
	if err != nil {
		t.Fatal(err)
	}
	want := "[{0 2 true 5 3} {1 0 false 2 2} {2 0 false 0 0}]"
	if fmt.Sprint(lags) != want || total != 5 {
		t.Fatalf("lag %v total %d, want %s total 5", lags, total, want)
	}
	if _, _, err := b.GroupLag("Unknown", "T"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := b.GetOffsets("G", "U"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("unknown topic: %v", err)
	}
}
