package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// decodeLines decodes JSON Lines output into one value per line.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var vs []T
	for line := range strings.Lines(out) {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		vs = append(vs, v)
	}
	return vs
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return v
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, _ := runIn(t, stdin, args...)
	if code != ExitOK {
		t.Fatalf("mqctl %s: exit %d, want 0", strings.Join(args, " "), code)
	}
	return out
}

// TestProduceConsume produces 10 messages, consumes them as a group and
// checks what every read command then says about them.
func TestProduceConsume(t *testing.T) {
	s := startBroker(t, true)
	mustRun(t, "", "-s", s, "topic", "create", "orders", "--queues", "2")

	out := mustRun(t, "", "-s", s, "produce", "orders", "--body", "m", "--count", "10",
		"--keys", "order-7,k2", "--tags", "TagA", "--property", "p=v", "--json")
	sent := decodeLines[sendJSON](t, out)
	if len(sent) != 10 {
		t.Fatalf("produce printed %d results, want 10", len(sent))
	}
	seq := map[string]int{} // msg id -> produce order
	for i, r := range sent {
		if r.Queue > 1 || !strings.HasPrefix(r.MsgID, testGroup+":") {
			t.Fatalf("result %d = %+v: want queue 0 or 1 and an id of group %s", i, r, testGroup)
		}
		seq[r.MsgID] = i
	}
	if len(seq) != 10 {
		t.Fatalf("produce printed duplicate ids: %v", sent)
	}

	out = mustRun(t, "", "-s", s, "consume", "orders", "--group", "g1", "--count", "10", "--json")
	got := decodeLines[messageJSON](t, out)
	checkConsumed(t, got, sent, seq)

	t.Run("group lag is 0", func(t *testing.T) {
		lag := decode[groupLagJSON](t, mustRun(t, "", "-s", s, "group", "lag", "g1", "--topic", "orders", "--json"))
		if lag.TotalLag != 0 || len(lag.Queues) != 2 {
			t.Fatalf("lag = %+v; want 0 over 2 queues", lag)
		}
		var maxSum uint64
		for _, q := range lag.Queues {
			maxSum += q.Max
			if q.Committed != q.Max || q.Lag != 0 {
				t.Fatalf("queue %+v not fully committed", q)
			}
		}
		if maxSum != 10 {
			t.Fatalf("max offsets add up to %d, want 10", maxSum)
		}
		text := mustRun(t, "", "-s", s, "group", "lag", "g1", "--topic", "orders")
		if !strings.Contains(text, "COMMITTED") || !regexpLine(text, `^TOTAL\s+0$`) {
			t.Fatalf("text lag has no header or TOTAL 0 line:\n%s", text)
		}
	})
	t.Run("group offsets", func(t *testing.T) {
		offs := decode[[]offsetJSON](t, mustRun(t, "", "-s", s, "group", "offsets", "g1", "--topic", "orders", "--json"))
		var sum uint64
		for _, o := range offs {
			sum += o.Offset
		}
		if len(offs) != 2 || sum != 10 {
			t.Fatalf("offsets = %+v; want 2 queues adding up to 10", offs)
		}
	})
	t.Run("consume again finds nothing new", func(t *testing.T) {
		code, out, stderr := runIn(t, "", "-s", s, "consume", "orders", "--group", "g1", "--count", "1", "--idle", "300ms")
		if code != ExitFailure || !strings.Contains(stderr, "no message for 300ms after 0 of 1") || strings.Contains(out, "m-") {
			t.Fatalf("exit %d, stderr %q; want 1 and an idle message, no output", code, stderr)
		}
		if code, _, _ := runIn(t, "", "-s", s, "consume", "orders", "--group", "g1", "--idle", "200ms"); code != ExitOK {
			t.Fatalf("--idle without --count: exit %d, want 0", code)
		}
	})
	t.Run("msg get", func(t *testing.T) {
		id := sent[3].MsgID
		m := decode[messageJSON](t, mustRun(t, "", "-s", s, "msg", "get", id, "--json"))
		if m.MsgID != id || m.Body != "m-4" || m.Topic != "orders" || m.Queue != sent[3].Queue || m.Offset != sent[3].Offset {
			t.Fatalf("msg get %s = %+v; want body m-4 at %+v", id, m, sent[3])
		}
		text := mustRun(t, "", "-s", s, "msg", "get", id)
		for _, want := range []string{"msg id:", id, "body:", "m-4", "keys:", "order-7,k2", "p=v"} {
			if !strings.Contains(text, want) {
				t.Fatalf("msg get text lacks %q:\n%s", want, text)
			}
		}
		missing := fmt.Sprintf("%s:%016X", testGroup, 1<<40)
		code, _, stderr := runIn(t, "", "-s", s, "msg", "get", missing)
		if code != ExitFailure || !strings.Contains(stderr, "mqctl: client: ") {
			t.Fatalf("msg get of a missing id: exit %d, stderr %q; want 1 and the RPC error", code, stderr)
		}
	})
	t.Run("msg query", func(t *testing.T) {
		all := decode[[]messageJSON](t, mustRun(t, "", "-s", s, "msg", "query", "orders", "--key", "order-7", "--json"))
		ids := make([]string, 0, len(all))
		for _, m := range all {
			ids = append(ids, m.MsgID)
		}
		want := make([]string, 0, len(sent))
		for _, r := range sent {
			want = append(want, r.MsgID)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("query by key found %v, want %v", ids, want)
		}
		few := decode[[]messageJSON](t, mustRun(t, "", "-s", s, "msg", "query", "orders", "--key", "k2", "--limit", "3", "--begin", "0", "--json"))
		if len(few) != 3 {
			t.Fatalf("--limit 3 returned %d messages", len(few))
		}
		code, out, _ := runIn(t, "", "-s", s, "msg", "query", "orders", "--key", "nobody")
		if code != ExitFailure || !strings.Contains(out, "MSG ID") {
			t.Fatalf("query of an unknown key: exit %d; want 1 and an empty table", code)
		}
		code, _, _ = runIn(t, "", "-s", s, "msg", "query", "orders", "--key", "k2", "--end", "1000")
		if code != ExitFailure {
			t.Fatalf("query ending in 1970: exit %d, want 1 (no match)", code)
		}
	})
}

// checkConsumed checks that consume printed exactly the produced
// messages, each queue in produce order.
func checkConsumed(t *testing.T, got []messageJSON, sent []sendJSON, seq map[string]int) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("consumed %d messages, want %d", len(got), len(sent))
	}
	last := map[uint32]int{0: -1, 1: -1} // queue -> produce order of its last message
	seen := map[string]bool{}
	for _, m := range got {
		i, ok := seq[m.MsgID]
		switch {
		case !ok || seen[m.MsgID]:
			t.Fatalf("consumed %s, which produce did not print (or twice)", m.MsgID)
		case m.Queue != sent[i].Queue || m.Offset != sent[i].Offset:
			t.Fatalf("%s consumed at queue %d offset %d, produced at %+v", m.MsgID, m.Queue, m.Offset, sent[i])
		case i < last[m.Queue]:
			t.Fatalf("queue %d out of order: message %d after %d", m.Queue, i, last[m.Queue])
		case m.Body != fmt.Sprintf("m-%d", i+1) || m.Tags != "TagA" || !slices.Equal(m.Keys, []string{"order-7", "k2"}) || m.Properties["p"] != "v":
			t.Fatalf("message %d = %+v; want body m-%d, tag TagA, keys order-7,k2, p=v", i, m, i+1)
		}
		seen[m.MsgID], last[m.Queue] = true, i
	}
}

// TestProduceSources checks stdin, --file, --async, the text table and
// single-queue order with the text output of consume.
func TestProduceSources(t *testing.T) {
	s := startBroker(t, true)

	mustRun(t, "", "-s", s, "topic", "create", "lines", "--queues", "4")
	out := mustRun(t, "one\n\ntwo\nthree\n", "-s", s, "produce", "lines", "--queue", "0")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 4 || !regexpLine(rows[0], `^MSG ID\s+QUEUE\s+OFFSET$`) || !regexpLine(rows[3], `^`+testGroup+`:[0-9A-F]{16}\s+0\s+2$`) {
		t.Fatalf("stdin produce printed %q; want a header and 3 rows, the last at queue 0 offset 2", rows)
	}

	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sent := decodeLines[sendJSON](t, mustRun(t, "", "-s", s, "produce", "lines", "--file", file, "--count", "2", "--queue", "0", "--json"))
	if len(sent) != 2 || sent[1].Offset != 4 {
		t.Fatalf("--file --count 2 = %+v; want offsets 3 and 4", sent)
	}
	sent = decodeLines[sendJSON](t, mustRun(t, "", "-s", s, "produce", "lines", "--body", "a", "--count", "5", "--async", "--sharding-key", "x", "--json"))
	if len(sent) != 5 || slices.ContainsFunc(sent, func(r sendJSON) bool { return r.Queue != sent[0].Queue }) || sent[0].Queue == 0 {
		t.Fatalf("--async --sharding-key x printed %+v; want 5 results on one queue other than 0", sent)
	}

	// Queues are consumed concurrently: check each queue's rows in order.
	out = mustRun(t, "", "-s", s, "consume", "lines", "--group", "g", "--count", "10", "--tags", "")
	rows = strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 11 || !regexpLine(rows[0], `^QUEUE\s+OFFSET\s+MSG ID\s+TAGS\s+KEYS\s+BODY$`) {
		t.Fatalf("consume printed %q; want a header and 10 rows", rows)
	}
	bodies := map[string][]string{} // queue -> bodies in printed order
	for _, r := range rows[1:] {
		f := regexp.MustCompile(`\s{2,}`).Split(r, 6)
		if len(f) != 6 {
			t.Fatalf("row %q does not have 6 columns", r)
		}
		bodies[f[0]] = append(bodies[f[0]], f[5])
	}
	want := map[string][]string{
		"0":                       {"one", "two", "three", `"from a file\n"`, `"from a file\n"`},
		fmt.Sprint(sent[0].Queue): {"a-1", "a-2", "a-3", "a-4", "a-5"},
	}
	if !maps.EqualFunc(bodies, want, slices.Equal) {
		t.Fatalf("bodies per queue = %q, want %q", bodies, want)
	}

	t.Run("broadcast", func(t *testing.T) {
		got := decodeLines[messageJSON](t, mustRun(t, "", "-s", s, "consume", "lines", "--group", "b", "--broadcast", "--count", "10", "--json"))
		if len(got) != 10 {
			t.Fatalf("broadcast consumed %d, want all 10", len(got))
		}
	})
	t.Run("tags filter", func(t *testing.T) {
		mustRun(t, "", "-s", s, "topic", "create", "tagged", "--queues", "1")
		mustRun(t, "", "-s", s, "produce", "tagged", "--body", "x", "--tags", "A", "--queue", "0")
		mustRun(t, "", "-s", s, "produce", "tagged", "--body", "y", "--tags", "B", "--queue", "0")
		got := decodeLines[messageJSON](t, mustRun(t, "", "-s", s, "consume", "tagged", "--group", "t", "--tags", "B,C", "--count", "1", "--json"))
		if len(got) != 1 || got[0].Body != "y" {
			t.Fatalf("--tags B,C consumed %+v; want only y", got)
		}
	})
	t.Run("from latest", func(t *testing.T) {
		code, out, _ := runIn(t, "", "-s", s, "consume", "lines", "--group", "late", "--from", "latest", "--idle", "300ms")
		if code != ExitOK || strings.TrimSpace(out) != "" {
			t.Fatalf("--from latest: exit %d, output %q; want 0 and nothing", code, out)
		}
	})
}

// TestProduceAutoCreatesTopic is the README quick start: against a broker
// that auto-creates topics, producing to a new topic just works, and the
// messages can be consumed back.
func TestProduceAutoCreatesTopic(t *testing.T) {
	addr := startBroker(t, true)
	code, out, errOut := runQuiet(t, "-s", addr, "produce", "fresh", "--body", "hello", "--count", "3")
	if code != 0 {
		t.Fatalf("produce to a new topic: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = runQuiet(t, "-s", addr, "consume", "fresh", "--group", "g1", "--count", "3", "--idle", "10s")
	if code != 0 || !strings.Contains(out, "hello-1") || !strings.Contains(out, "hello-3") {
		t.Fatalf("consume: exit %d: %s %s", code, out, errOut)
	}
}
