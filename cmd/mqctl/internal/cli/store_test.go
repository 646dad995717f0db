package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/record"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run("test-version", args, &out, &errOut)
	t.Logf("mqctl %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// newStore writes n one-byte messages to a fresh store in a temporary
// directory, closes it and returns the directory and the bytes written.
func newStore(t *testing.T, n int) (dir string, written int) {
	t.Helper()
	dir = t.TempDir()
	st, err := store.Open(dir, store.TestOptions())
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	for i := range n {
		m := &store.Message{Topic: "t", QueueID: 0, Body: []byte("x"), StoreTimestamp: int64(i + 1)}
		if _, err := st.Append([]*store.Message{m}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		written += record.Size(m)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return dir, written
}

// segmentFile returns the only CommitLog segment file under dir.
func segmentFile(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "commitlog"))
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			segs = append(segs, e.Name())
		}
	}
	if len(segs) != 1 {
		t.Fatalf("want one segment file under %s/commitlog, found %v", dir, segs)
	}
	return filepath.Join(dir, "commitlog", segs[0])
}

func TestStoreVerify(t *testing.T) {
	const msgs = 5
	dir, written := newStore(t, msgs)

	code, out, _ := run(t, "store", "verify", "--dir", dir)
	if code != ExitOK {
		t.Fatalf("verify of a fresh store: exit %d, want %d", code, ExitOK)
	}
	if !strings.Contains(out, ": OK") || !strings.Contains(out, "5 record(s)") {
		t.Fatalf("summary does not say OK with 5 records:\n%s", out)
	}

	// Flip one byte in the middle of the written records: the CRC of the
	// record holding it no longer matches.
	seg := segmentFile(t, dir)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	mid := min(written, len(data)) / 2
	data[mid] ^= 0xFF
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "store", "verify", "--dir", dir)
	if code != ExitFailure {
		t.Fatalf("verify after flipping byte %d of %s: exit %d, want %d", mid, seg, code, ExitFailure)
	}
	if !strings.Contains(out, "problems:") || !strings.Contains(out, filepath.Base(seg)) {
		t.Fatalf("problem list does not name %s:\n%s", filepath.Base(seg), out)
	}

	code, out, _ = run(t, "store", "verify", "--dir", dir, "--json")
	if code != ExitFailure {
		t.Fatalf("verify --json of the corrupt store: exit %d, want %d", code, ExitFailure)
	}
	var rep verifyJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	if rep.OK || rep.Dir != dir || !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, filepath.Base(seg))
	}) {
		t.Fatalf("JSON report = %+v; want ok=false, dir %s, a problem naming the segment", rep, dir)
	}
}

func TestStoreVerifyJSONOnConsistentStore(t *testing.T) {
	dir, _ := newStore(t, 3)
	code, out, _ := run(t, "store", "verify", "--dir", dir, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d, want %d", code, ExitOK)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	if rep["ok"] != true || rep["records"] != float64(3) {
		t.Fatalf("JSON report = %v; want ok true and 3 records", rep)
	}
	if p, ok := rep["problems"].([]any); !ok || len(p) != 0 {
		t.Fatalf("problems = %#v; want an empty list, not null", rep["problems"])
	}
}

func TestUsageAndOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name    string
		args    []string
		code    int
		stderr  string
		created string // a path that must still not exist afterwards
	}{
		{"missing --dir", []string{"store", "verify"}, ExitUsage, `"dir" not set`, ""},
		{"unknown command", []string{"nope"}, ExitUsage, "unknown command", ""},
		{"unexpected argument", []string{"store", "verify", "--dir", file, "extra"}, ExitUsage, "unknown command", ""},
		{"dir does not exist", []string{"store", "verify", "--dir", missing}, ExitUsage, "no such file", missing},
		{"dir is a file", []string{"store", "verify", "--dir", file}, ExitUsage, "not a directory", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.stderr)
			}
			if tc.created != "" {
				if _, err := os.Stat(tc.created); !os.IsNotExist(err) {
					t.Fatalf("verify created %s (stat err %v)", tc.created, err)
				}
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := run(t, "--version")
	if code != ExitOK || strings.TrimSpace(out) != "mqctl test-version" {
		t.Fatalf("--version: exit %d, output %q", code, out)
	}
	code, out, _ = run(t, "store", "--help")
	if code != ExitOK || !strings.Contains(out, "verify") {
		t.Fatalf("store --help: exit %d, output %q", code, out)
	}
}
