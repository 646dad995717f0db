package cli

import (
	"strings"
	"testing"
)

func TestClusterRemoveNode(t *testing.T) {
	s := startBroker(t, false)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"unknown node", []string{"cluster", "remove-node", "ghost"}, ExitOK, "ghost is not in the group's configuration; nothing to remove", ""},
		{"unknown node json", []string{"cluster", "remove-node", "ghost", "--json"}, ExitOK, `"removed": false`, ""},
		{"the leader itself", []string{"cluster", "remove-node", testNode}, ExitFailure, "", "transfer leadership first"},
		{"no node id", []string{"cluster", "remove-node"}, ExitUsage, "", "accepts 1 arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runIn(t, "", append([]string{"-s", s}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, stderr, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
