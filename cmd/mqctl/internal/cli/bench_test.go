package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

// TestBench produces with each in-flight shape, reads everything back in
// consume mode and runs e2e, against a single-node broker.
func TestBench(t *testing.T) {
	s := startBroker(t, false)

	produce := []struct {
		name string
		args []string
		want int64
	}{
		{"synchronous", []string{"--inflight", "1", "--count", "20"}, 20},
		{"async two producers", []string{"--producers", "2", "--inflight", "8", "--batch", "4", "--count", "50"}, 50},
	}
	var total int64
	for _, tc := range produce {
		t.Run("produce "+tc.name, func(t *testing.T) {
			args := append([]string{"-s", s, "--json", "bench", "produce", "--topic", "bt", "--size", "64", "--queues", "2"}, tc.args...)
			r := decode[benchReport](t, mustRun(t, "", args...))
			if r.Mode != "produce" || r.Messages != tc.want || r.Bytes != tc.want*64 || r.Errors != 0 {
				t.Fatalf("report = %+v; want %d messages of 64 bytes, no errors", r, tc.want)
			}
			if r.Latency == nil || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 || r.MsgPerSec <= 0 {
				t.Fatalf("report = %+v; want latencies and a rate", r)
			}
		})
		total += tc.want
	}

	t.Run("consume reads them all", func(t *testing.T) {
		r := decode[benchReport](t, mustRun(t, "", "-s", s, "--json", "bench", "consume", "--topic", "bt",
			"--group", "bg", "--count", "70", "--size", "64"))
		if r.Messages != total || r.Latency != nil || r.Errors != 0 {
			t.Fatalf("report = %+v; want %d messages, no latency, no errors", r, total)
		}
	})

	t.Run("consume waits no longer than timeout for missing messages", func(t *testing.T) {
		code, out, _ := runIn(t, "", "-s", s, "--timeout", "2s", "bench", "consume", "--topic", "bt",
			"--group", "bg2", "--count", "71")
		if code != ExitFailure || !strings.Contains(out, "70") {
			t.Fatalf("exit %d; want %d and a report of 70 messages", code, ExitFailure)
		}
	})

	t.Run("e2e", func(t *testing.T) {
		r := decode[benchReport](t, mustRun(t, "", "-s", s, "--json", "bench", "e2e", "--topic", "bt",
			"--producers", "2", "--inflight", "4", "--count", "30", "--size", "32"))
		if r.Mode != "e2e" || r.Messages != 30 || r.Errors != 0 || r.Latency == nil || r.Latency.P50 <= 0 {
			t.Fatalf("report = %+v; want 30 messages with latencies", r)
		}
	})

	t.Run("table output", func(t *testing.T) {
		out := mustRun(t, "", "-s", s, "bench", "produce", "--topic", "bt", "--count", "5", "--inflight", "1")
		for _, want := range []string{"messages", "5", "msg/s", "MiB/s", "p99.9", "errors"} {
			if !strings.Contains(out, want) {
				t.Fatalf("table lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("cpu profile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cpu.prof")
		mustRun(t, "", "-s", s, "bench", "produce", "--topic", "bt", "--count", "5", "--inflight", "1", "--cpuprofile", path)
		b, err := os.ReadFile(path)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("profile %s: %d bytes, %v; want a gzipped pprof profile", path, len(b), err)
		}
		code, _, stderr := runIn(t, "", "-s", s, "bench", "produce", "--topic", "bt", "--count", "5",
			"--cpuprofile", filepath.Join(t.TempDir(), "missing", "cpu.prof"))
		if code == ExitOK || !strings.Contains(stderr, "--cpuprofile") {
			t.Fatalf("exit %d, stderr %q; want a failure naming --cpuprofile", code, stderr)
		}
	})

	t.Run("duration with progress", func(t *testing.T) {
		code, out, stderr := runIn(t, "", "-s", s, "--json", "bench", "produce", "--topic", "bt",
			"--duration", "1500ms", "--inflight", "4", "--progress")
		r := decode[benchReport](t, out)
		if code != ExitOK || r.Messages == 0 || r.ElapsedSeconds < (1500*time.Millisecond).Seconds() {
			t.Fatalf("exit %d, report %+v; want messages over at least 1.5s", code, r)
		}
		if !strings.Contains(stderr, "bench produce:") {
			t.Fatalf("stderr %q has no progress line", stderr)
		}
	})
}

func TestBenchUsageErrors(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no topic", []string{"bench", "produce"}, `"topic" not set`},
		{"zero producers", []string{"bench", "produce", "--topic", "t", "--producers", "0"}, "at least 1"},
		{"zero inflight", []string{"bench", "produce", "--topic", "t", "--inflight", "0"}, "at least 1"},
		{"count and duration", []string{"bench", "produce", "--topic", "t", "--count", "1", "--duration", "1s"}, "none of the others"},
		{"count 0", []string{"bench", "consume", "--topic", "t", "--count", "0"}, "--count 0"},
		{"e2e small size", []string{"bench", "e2e", "--topic", "t", "--size", "8"}, "e2e needs"},
		{"zero queues", []string{"bench", "produce", "--topic", "t", "--queues", "0"}, "--queues"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runIn(t, "", append([]string{"-s", down}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tc.stderr)
			}
		})
	}
}

func TestBenchBodyRoundTrip(t *testing.T) {
	now := time.Unix(1764100000, 123456789)
	tests := []struct {
		name   string
		size   int
		wantOK bool
	}{
		{"header only", benchHeaderLen, true},
		{"1 KiB", 1024, true},
		{"too small", benchHeaderLen - 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := benchBody(tc.size, 42, now)
			if len(b) != tc.size {
				t.Fatalf("len = %d, want %d", len(b), tc.size)
			}
			nonce, sent, ok := parseBenchBody(b)
			if ok != tc.wantOK || (ok && (nonce != 42 || !sent.Equal(now))) {
				t.Fatalf("parse = %d, %v, %v; want 42, %v, %v", nonce, sent, ok, now, tc.wantOK)
			}
		})
	}
}

// TestBenchProduceStopsWhenTheGroupIsGone: a run whose group goes away
// stops once no message has succeeded for --timeout (the messages still in
// flight fail at once), reports what it measured until then and fails,
// instead of spending the client's whole retry time on every message left
// (hours for a long run).
func TestBenchProduceStopsWhenTheGroupIsGone(t *testing.T) {
	for _, inflight := range []string{"1", "64"} {
		t.Run("inflight "+inflight, func(t *testing.T) {
			s, stop := startStoppableBroker(t, false)
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			began := time.Now()
			args := []string{"-s", s, "--timeout", "1s", "--json", "bench", "produce",
				"--topic", "gone", "--duration", "10m", "--inflight", inflight, "--batch", "8", "--size", "64"}
			go func() {
				// Not runIn: this goroutine must not use t, which a
				// failed test leaves behind.
				var out, errOut bytes.Buffer
				code := execute(context.Background(), "test-version", args, strings.NewReader(""), &out, &errOut)
				done <- result{code, out.String(), errOut.String()}
			}()
			// Some messages stored: the CommitLog holds more than 20
			// records of at least 64 bytes.
			testutil.WaitFor(t, 20*time.Second, "messages acknowledged", func() bool {
				code, out, _ := runQuiet(t, "-s", s, "--json", "cluster", "status")
				if code != ExitOK {
					return false
				}
				c := decode[clusterJSON](t, out)
				return len(c.Nodes) == 1 && c.Nodes[0].CommitLogEnd > 20*64
			})
			stopped := time.Now()
			stop()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("bench still running 10s after the group went away (1s timeout)")
			}
			t.Logf("bench ended %v after the broker stopped; stderr %q", time.Since(stopped), r.err)
			if r.code != ExitFailure || !strings.Contains(r.err, "no message acknowledged for 1s") {
				t.Fatalf("exit %d, stderr %q; want %d and the stall named", r.code, r.err, ExitFailure)
			}
			rep := decode[benchReport](t, r.out)
			if rep.Messages == 0 || rep.Errors == 0 || rep.Latency == nil || rep.MsgPerSec < float64(rep.Messages)/stopped.Sub(began).Seconds()/2 {
				t.Fatalf("report %+v; want the messages, their latencies and rate before the stop, and errors", rep)
			}
		})
	}
}
