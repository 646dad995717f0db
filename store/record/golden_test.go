package record_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

var update = flag.Bool("update", false, "rewrite testdata golden files from the current encoder")

// goldenPath holds fullMessage's encoding. A diff in this file is a change
// of the on-disk format: it needs a new magic number, not a regenerated file.
var goldenPath = filepath.Join("testdata", "message.golden.hex")

const goldenHeader = "# record.Append(fullMessage()) from record_test.go; hex, 16 bytes a line.\n" +
	"# Changing these bytes changes the on-disk format (needs a new magic).\n"

func TestGoldenEncoding(t *testing.T) {
	got := record.Append(nil, fullMessage())
	if *update {
		var sb strings.Builder
		sb.WriteString(goldenHeader)
		for b := got; len(b) > 0; b = b[min(16, len(b)):] {
			sb.WriteString(hex.EncodeToString(b[:min(16, len(b))]) + "\n")
		}
		if err := os.WriteFile(goldenPath, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, goldenPath)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding of fullMessage changed (run with -update only for an intended, versioned change)\n got %x\nwant %x", got, want)
	}
	m, n, err := record.Decode(want)
	if err != nil || n != len(want) {
		t.Fatalf("Decode(golden) = size %d, %v", n, err)
	}
	if m.Topic != "orders" || m.RaftIndex != 42 || m.Properties["region"] != "eu-west" {
		t.Fatalf("Decode(golden) = %+v", m)
	}
}

func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	var hexText strings.Builder
	for line := range strings.Lines(string(raw)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			hexText.WriteString(line)
		}
	}
	b, err := hex.DecodeString(hexText.String())
	if err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	return b
}

func TestTagHashGolden(t *testing.T) {
	// FNV-1a 64 reference values; TagHash("") is reserved as "no tag".
	tests := []struct {
		tag  string
		want uint64
	}{
		{"", 0},
		{"a", 0xaf63dc4c8601ec8c},
		{"foobar", 0x85944171f73967e8},
	}
	for _, tc := range tests {
		t.Run(tc.tag, func(t *testing.T) {
			if got := record.TagHash(tc.tag); got != tc.want {
				t.Fatalf("TagHash(%q) = %#x, want %#x", tc.tag, got, tc.want)
			}
		})
	}
	t.Run("non-empty tags never hash to zero", func(t *testing.T) {
		for _, tag := range []string{"TagA", "TagB", " ", "\x00", "标签"} {
			if record.TagHash(tag) == 0 {
				t.Fatalf("TagHash(%q) = 0, which means no tag", tag)
			}
		}
	})
}
