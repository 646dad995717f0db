package raftfsm

import (
	"strconv"
	"testing"
)

// logBounds returns the first and last index in the Raft log, read from
// raft's stats (first_log_index is not in Stats, so derive it from the
// last snapshot and trailing logs).
func (n *Node) logBounds(t *testing.T) (first, last uint64) {
	t.Helper()
	stats := n.raft.Stats()
	last, _ = strconv.ParseUint(stats["last_log_index"], 10, 64)
	first, err := n.logStore.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}
