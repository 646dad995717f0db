package raftfsm

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// TestMapRaftErr: hashicorp/raft refuses a command during a leadership
// transfer before appending it, so that maps to unavailable (safe to
// retry); a leadership lost with the command in flight maps to an
// unknown outcome.
func TestMapRaftErr(t *testing.T) {
	var n Node
	for _, tc := range []struct {
		in      error
		want    []error
		notWant error
	}{
		{raft.ErrLeadershipTransferInProgress, []error{ErrUnavailable, ErrTransferInProgress}, ErrUnknownOutcome},
		{raft.ErrLeadershipLost, []error{ErrUnknownOutcome}, ErrUnavailable},
		{raft.ErrEnqueueTimeout, []error{ErrUnavailable}, ErrUnknownOutcome},
	} {
		got := n.mapRaftErr(tc.in)
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("mapRaftErr(%v) = %v; want it to be %v", tc.in, got, w)
			}
		}
		if errors.Is(got, tc.notWant) {
			t.Errorf("mapRaftErr(%v) = %v; must not be %v", tc.in, got, tc.notWant)
		}
	}
}
