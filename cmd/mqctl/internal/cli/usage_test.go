package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandUsageErrors checks that bad usage exits 2 before any call:
// the server address is a closed port, so a command that dialed would
// fail with 1 instead.
func TestCommandUsageErrors(t *testing.T) {
	down := closedAddr(t)
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad addr map", []string{"--addr-map", "n1:9876", "topic", "list"}, "--addr-map"},
		{"produce without topic", []string{"produce"}, "accepts 1 arg"},
		{"produce body and file", []string{"produce", "t", "--body", "x", "--file", "f"}, "none of the others"},
		{"produce count 0", []string{"produce", "t", "--body", "x", "--count", "0"}, "--count 0"},
		{"produce count from stdin", []string{"produce", "t", "--count", "3"}, "--count needs --body or --file"},
		{"produce bad property", []string{"produce", "t", "--body", "x", "--property", "novalue"}, "key=value"},
		{"produce queue and sharding key", []string{"produce", "t", "--body", "x", "--queue", "1", "--sharding-key", "k"}, "none of the others"},
		{"produce bad queue", []string{"produce", "t", "--body", "x", "--queue", "-1"}, "invalid argument"},
		{"consume without group", []string{"consume", "t"}, `"group" not set`},
		{"consume bad from", []string{"consume", "t", "--group", "g", "--from", "yesterday"}, "--from"},
		{"consume negative count", []string{"consume", "t", "--group", "g", "--count", "-1"}, "negative"},
		{"consume bad idle", []string{"consume", "t", "--group", "g", "--idle", "soon"}, "invalid argument"},
		{"topic create without queues", []string{"topic", "create", "t"}, `"queues" not set`},
		{"topic create zero queues", []string{"topic", "create", "t", "--queues", "0"}, "at least 1"},
		{"topic describe without name", []string{"topic", "describe"}, "accepts 1 arg"},
		{"topic unknown subcommand", []string{"topic", "rename"}, "unknown command"},
		{"group lag without topic", []string{"group", "lag", "g"}, `"topic" not set`},
		{"group offsets without group", []string{"group", "offsets", "--topic", "t"}, "accepts 1 arg"},
		{"msg get without id", []string{"msg", "get"}, "accepts 1 arg"},
		{"msg query without key", []string{"msg", "query", "t"}, `"key" not set`},
		{"msg query bad begin", []string{"msg", "query", "t", "--key", "k", "--begin", "May"}, "--begin"},
		{"cluster status extra arg", []string{"cluster", "status", "x"}, "unknown command"},
		{"health extra arg", []string{"health", "x"}, "unknown command"},
		{"zero timeout", []string{"topic", "list", "--timeout", "0s"}, "--timeout"},
		{"empty server", []string{"topic", "list", "-s", " , "}, "no address"},
		{"unknown flag", []string{"topic", "list", "--nope"}, "unknown flag"},
		{"store verify missing dir", []string{"store", "verify", "--dir", missing}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-s", down}, tc.args...)
			code, _, stderr := runIn(t, "", args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tc.stderr)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"0", time.UnixMilli(0), true},
		{"1700000000123", time.UnixMilli(1700000000123), true},
		{"2024-05-01T12:00:00Z", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), true},
		{"2024-05-01T14:00:00.5+02:00", time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC), true},
		{"2024-05-01", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime("--x", tc.in)
			if (err == nil) != tc.ok || (tc.ok && !got.Equal(tc.want)) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestStreamTableAligns(t *testing.T) {
	var b strings.Builder
	tbl := newStreamTable(&b, "A", "BB", "C")
	for _, r := range [][]string{{"xxx", "y", "last"}, {"x", "yyyy", "z"}} {
		if err := tbl.row(r...); err != nil {
			t.Fatal(err)
		}
	}
	want := "A    BB  C\nxxx  y   last\nx    yyyy  z\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestBodyText(t *testing.T) {
	tests := map[string]string{"hello world": "hello world", "a\tb": `"a\tb"`, "\xff": `"\xff"`, "": ""}
	for in, want := range tests {
		if got := bodyText([]byte(in)); got != want {
			t.Errorf("bodyText(%q) = %q, want %q", in, got, want)
		}
	}
}
