package broker

import (
	"errors"
	"fmt"
	"testing"
)

func TestRemoveNode(t *testing.T) {
	b, f := newTestBroker(t, nil)
	tests := []struct {
		name        string
		id          string
		wantRemoved bool
		wantErr     error
		wantServers string
	}{
		{"empty id", "", false, ErrInvalidArgument, "[{n1 n1:raft false} {n2 n2:raft false}]"},
		{"the leader itself", "n1", false, ErrInvalidArgument, "[{n1 n1:raft false} {n2 n2:raft false}]"},
		{"unknown id", "n9", false, nil, "[{n1 n1:raft false} {n2 n2:raft false}]"},
		{"a follower", "n2", true, nil, "[{n1 n1:raft false}]"},
		{"again", "n2", false, nil, "[{n1 n1:raft false}]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			removed, err := b.RemoveNode(t.Context(), tc.id)
			if removed != tc.wantRemoved || !errors.Is(err, tc.wantErr) {
				t.Fatalf("RemoveNode(%q) = %v, %v; want %v, %v", tc.id, removed, err, tc.wantRemoved, tc.wantErr)
			}
			servers, _ := f.Servers()
			if got := fmt.Sprint(servers); got != tc.wantServers {
				t.Fatalf("servers %s, want %s", got, tc.wantServers)
			}
		})
	}
	f.SetServers(nil)
	if _, err := b.TransferLeadership(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	var nl *NotLeaderError
	if _, err := b.RemoveNode(t.Context(), "n3"); !errors.As(err, &nl) || nl.LeaderID != "n2" {
		t.Fatalf("RemoveNode on a follower: %v", err)
	}
}
