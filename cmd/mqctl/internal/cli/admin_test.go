package cli

import (
	"regexp"
	"strings"
	"testing"
)

// regexpLine reports whether some line of s matches re.
func regexpLine(s, re string) bool {
	return regexp.MustCompile("(?m)" + re).MatchString(s)
}

func TestTopicCommands(t *testing.T) {
	s := startBroker(t, false)

	// Without auto-create, producing to or consuming a missing topic fails
	// with the broker's message and a hint.
	for _, args := range [][]string{{"produce", "t1", "--body", "x"}, {"consume", "t1", "--group", "g"}} {
		code, _, stderr := runIn(t, "", append([]string{"-s", s}, args...)...)
		if code != ExitFailure || !strings.Contains(stderr, "topic not found: t1") || !strings.Contains(stderr, "mqctl topic create t1") {
			t.Fatalf("%s of a missing topic: exit %d, stderr %q; want 1, the server's message and a hint", args[0], code, stderr)
		}
	}

	out := mustRun(t, "", "-s", s, "topic", "create", "t1", "--queues", "3")
	if strings.TrimSpace(out) != "created topic t1 with 3 queue(s)" {
		t.Fatalf("create printed %q", out)
	}
	created := decode[topicJSON](t, mustRun(t, "", "-s", s, "topic", "create", "t2", "--queues", "1", "--json"))
	if created != (topicJSON{Name: "t2", Queues: 1}) {
		t.Fatalf("create --json = %+v", created)
	}
	mustRun(t, "", "-s", s, "topic", "create", "t1", "--queues", "3") // same count: succeeds
	code, _, stderr := runIn(t, "", "-s", s, "topic", "create", "t1", "--queues", "4")
	if code != ExitFailure || !strings.Contains(stderr, "already exists") {
		t.Fatalf("create with another queue count: exit %d, stderr %q; want 1 and already exists", code, stderr)
	}

	out = mustRun(t, "", "-s", s, "topic", "list")
	if !regexpLine(out, `^NAME\s+QUEUES$`) || !regexpLine(out, `^t1\s+3$`) || !regexpLine(out, `^t2\s+1$`) {
		t.Fatalf("list lacks the header, t1 3 or t2 1:\n%s", out)
	}
	list := decode[[]topicJSON](t, mustRun(t, "", "-s", s, "topic", "list", "--json"))
	if !containsTopic(list, topicJSON{"t1", 3}) || !containsTopic(list, topicJSON{"t2", 1}) {
		t.Fatalf("list --json = %+v", list)
	}

	d := decode[topicDescribeJSON](t, mustRun(t, "", "-s", s, "topic", "describe", "t1", "--json"))
	if d.Name != "t1" || d.Queues != 3 || len(d.Routes) != 3 {
		t.Fatalf("describe --json = %+v; want t1 with 3 routes", d)
	}
	for i, r := range d.Routes {
		if r.Queue != uint32(i) || r.Group != testGroup || r.Leader != s || len(r.Replicas) != 1 || r.Replicas[0] != s {
			t.Fatalf("route %d = %+v; want queue %d -> %s, leader and replica %s", i, r, i, testGroup, s)
		}
	}
	out = mustRun(t, "", "-s", s, "topic", "describe", "t1")
	if !regexpLine(out, `^QUEUE\s+GROUP\s+LEADER\s+REPLICAS$`) || !regexpLine(out, `^2\s+`+testGroup+`\s+`+regexp.QuoteMeta(s)+`\s+`+regexp.QuoteMeta(s)+`$`) {
		t.Fatalf("describe text lacks the header or queue 2's route:\n%s", out)
	}

	if out := mustRun(t, "", "-s", s, "topic", "delete", "t1"); strings.TrimSpace(out) != "deleted topic t1" {
		t.Fatalf("delete printed %q", out)
	}
	code, _, stderr = runIn(t, "", "-s", s, "topic", "describe", "t1")
	if code != ExitFailure || !strings.Contains(stderr, "not found") {
		t.Fatalf("describe after delete: exit %d, stderr %q; want 1 and not found", code, stderr)
	}
	list = decode[[]topicJSON](t, mustRun(t, "", "-s", s, "topic", "list", "--json"))
	if containsTopic(list, topicJSON{"t1", 3}) {
		t.Fatalf("t1 still listed after delete: %+v", list)
	}
}

func containsTopic(list []topicJSON, want topicJSON) bool {
	for _, t := range list {
		if t == want {
			return true
		}
	}
	return false
}

func TestClusterAndHealth(t *testing.T) {
	s := startBroker(t, true)
	down := closedAddr(t)

	st := decode[clusterJSON](t, mustRun(t, "", "-s", s, "cluster", "status", "--json"))
	if !st.OK || len(st.Nodes) != 1 {
		t.Fatalf("status = %+v; want ok with one node", st)
	}
	n := st.Nodes[0]
	if n.NodeID != testNode || n.Group != testGroup || n.GRPCAddr != s || n.Role != "leader" || !n.Reachable || n.Term == 0 || n.AppliedIndex == 0 {
		t.Fatalf("node = %+v; want %s of %s at %s, a reachable leader with a term and applied index", n, testNode, testGroup, s)
	}
	out := mustRun(t, "", "-s", down+","+s, "cluster", "status")
	if strings.Count(out, "leader") != 1 || !regexpLine(out, `^NODE\s+GROUP\s+GRPC ADDR\s+RAFT ADDR\s+ROLE\s+TERM\s+APPLIED\s+COMMITLOG END\s+STATUS$`) ||
		!regexpLine(out, `^`+testNode+`\s+`+testGroup+`\s+`+regexp.QuoteMeta(s)+`\s+\S+\s+leader\s+\d+\s+\d+\s+\d+\s+ok$`) {
		t.Fatalf("status with a dead seed first lacks the header or one leader row:\n%s", out)
	}
	code, _, stderr := runIn(t, "", "-s", down, "--timeout", "500ms", "cluster", "status")
	if code != ExitFailure || !strings.Contains(stderr, "mqctl: client: unavailable") {
		t.Fatalf("status against a closed port: exit %d, stderr %q; want 1 and unavailable", code, stderr)
	}

	// A single-node group has no other voter to hand leadership to.
	code, _, stderr = runIn(t, "", "-s", s, "--timeout", "2s", "cluster", "transfer-leader", "--to", "n9")
	if code != ExitFailure || !strings.HasPrefix(stderr, "mqctl: client: ") {
		t.Fatalf("transfer-leader to an unknown node: exit %d, stderr %q; want 1 and the RPC error", code, stderr)
	}

	tests := []struct {
		name string
		args []string
		env  string
		code int
		out  string
	}{
		{"serving", []string{"health", "-s", s}, "", ExitOK, s + ": SERVING"},
		{"broker service", []string{"health", "--server", s, "--service", "raftmq.v1.Broker"}, "", ExitOK, "SERVING"},
		{"json", []string{"health", "-s", s, "--json"}, "", ExitOK, `"status": "SERVING"`},
		{"first address only", []string{"health", "-s", s + "," + down}, "", ExitOK, "SERVING"},
		{"from env", []string{"health"}, s, ExitOK, "SERVING"},
		{"flag beats env", []string{"health", "-s", s}, down, ExitOK, "SERVING"},
		{"unknown service", []string{"health", "-s", s, "--service", "nope"}, "", ExitFailure, ""},
		{"closed port", []string{"health", "-s", down, "--timeout", "2s"}, "", ExitFailure, ""},
		{"closed port json", []string{"health", "-s", down, "--json"}, "", ExitFailure, `"status": "UNREACHABLE"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(serverEnv, tc.env)
			code, out, stderr := runIn(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Fatalf("exit %d, stdout %q; want %d and %q", code, out, tc.code, tc.out)
			}
			if code != ExitOK && !strings.HasPrefix(stderr, "mqctl: ") {
				t.Fatalf("stderr %q does not report the error", stderr)
			}
		})
	}
}
