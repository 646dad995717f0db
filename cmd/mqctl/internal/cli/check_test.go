package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCheckAgainstBroker runs mqctl check against a healthy in-process
// broker: once creating the topic, with --json, a history file and a
// fault file appended to while it runs; once more on the existing topic
// with explicit replicas and text output.
func TestCheckAgainstBroker(t *testing.T) {
	addr := startBroker(t, false)
	dir := t.TempDir()
	history := filepath.Join(dir, "history.jsonl")
	faults := filepath.Join(dir, "faults")

	// Append a fault line every 300ms until the command returns; the
	// watcher ignores what was there before it started, so some land.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { appendFaults(t, faults, done) })
	code, out, _ := runIn(t, "", "check", "-s", addr, "--json", "--topic", "chk", "--queues", "2", "--producers", "2",
		"--duration", "2s", "--body-size", "100", "--seed", "7", "--history", history, "--fault-file", faults)
	close(done)
	wg.Wait()
	if code != ExitOK {
		t.Fatalf("exit %d, want %d", code, ExitOK)
	}
	var rep checkJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	if !rep.OK || rep.Acked == 0 || rep.Lost != 0 || rep.Queues != 2 || rep.Seed != 7 || len(rep.Sources) != 2 {
		t.Fatalf("report %+v: want OK with acked sends on 2 queues read from 2 sources", rep)
	}
	if len(rep.Failovers) == 0 || !rep.Failovers[0].Recovered || !strings.HasPrefix(rep.Failovers[0].Fault, "fault-") {
		t.Fatalf("failovers %+v: want the appended faults, recovered", rep.Failovers)
	}
	kinds := historyKinds(t, history)
	if kinds["send"] != rep.Attempted || kinds["fault"] != len(rep.Failovers) || kinds["read"] == 0 {
		t.Fatalf("history kinds %v; want %d sends, %d faults and reads", kinds, rep.Attempted, len(rep.Failovers))
	}

	code, out, _ = runIn(t, "", "check", "-s", addr, "--topic", "chk", "--queues", "3", "--producers", "1",
		"--duration", "500ms", "--replica-addrs", addr)
	if code != ExitOK || !strings.Contains(out, "check OK: topic chk") || !strings.Contains(out, "2 queues") {
		t.Fatalf("exit %d, output %q: want OK on the existing 2-queue topic", code, out)
	}
}

// appendFaults appends "fault-<n>" lines to path every 300ms until done.
func appendFaults(t *testing.T, path string, done <-chan struct{}) {
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("open fault file: %v", err)
			return
		}
		_, err = fmt.Fprintf(f, "fault-%d\n", n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Errorf("append fault: %v", err)
			return
		}
	}
}

// historyKinds reads a history file, checks every line is a JSON object,
// and counts the lines by kind.
func historyKinds(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		kinds[line.Kind]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kinds
}

func TestCheckUsageErrors(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"without topic", []string{"check"}, `"topic" not set`},
		{"zero queues", []string{"check", "--topic", "t", "--queues", "0"}, "--queues 0"},
		{"zero producers", []string{"check", "--topic", "t", "--producers", "0"}, "--producers 0"},
		{"zero duration", []string{"check", "--topic", "t", "--duration", "0s"}, "--duration 0s"},
		{"negative body size", []string{"check", "--topic", "t", "--body-size", "-1"}, "--body-size -1"},
		{"empty replicas", []string{"check", "--topic", "t", "--replica-addrs", " , "}, "--replica-addrs"},
		{"extra argument", []string{"check", "--topic", "t", "x"}, "unknown command"},
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

func TestFaultWatcher(t *testing.T) {
	appendTo := func(s string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(s); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	touch := func(t *testing.T, path string) {
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	truncate := func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	nothing := func(*testing.T, string) {}
	tests := []struct {
		name    string
		initial string // "" means no file when the watch starts
		step    func(t *testing.T, path string)
		want    []string
	}{
		{"no change", "old\n", nothing, nil},
		{"one line appended", "old\n", appendTo("kill -9 n2\n"), []string{"kill -9 n2"}},
		{"several lines, blank ones skipped", "", appendTo("a\n\n  b  \nc"), []string{"a", "b", "c"}},
		{"file created", "", appendTo("start\n"), []string{"start"}},
		{"touched", "old\n", touch, []string{"touch faults"}},
		{"empty line appended", "old\n", appendTo("\n"), []string{"touch faults"}},
		{"truncated", "old line\n", truncate, []string{"touch faults"}},
		{"removed", "old\n", remove, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "faults")
			if tc.initial != "" {
				if err := os.WriteFile(path, []byte(tc.initial), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := newFaultWatcher(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.step(t, path)
			got, err := w.poll()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("faults %q, want %q", got, tc.want)
			}
			if got, err := w.poll(); err != nil || got != nil {
				t.Fatalf("second poll: %q, %v; want nothing", got, err)
			}
		})
	}
}
