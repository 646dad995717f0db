package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

// fsUnderTest is one FS and a directory in it to work in.
type fsUnderTest struct {
	name string
	fs   vfs.FS
	dir  string
}

// bothFS returns the OS in a temporary directory and a fresh MemFS, so the
// same table pins MemFS to what the OS does.
func bothFS(t *testing.T) []fsUnderTest {
	t.Helper()
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	return []fsUnderTest{
		{name: "OS", fs: vfs.OS(), dir: t.TempDir()},
		{name: "Mem", fs: mem, dir: "/data"},
	}
}

// writeFile creates name with data, optionally synced.
func writeFile(t *testing.T, fs vfs.FS, name, data string, sync bool) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readFile returns the whole content of name.
func readFile(t *testing.T, fs vfs.FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(%s) = %d, %v; size %d", name, n, err, size)
	}
	return string(buf)
}

func TestReadAtMatchesOSFile(t *testing.T) {
	cases := []struct {
		name    string
		content string
		off     int64
		plen    int
		wantN   int
		wantEOF bool
		wantErr bool // some other error
	}{
		{name: "whole", content: "hello", off: 0, plen: 5, wantN: 5},
		{name: "prefix", content: "hello", off: 0, plen: 3, wantN: 3},
		{name: "middle", content: "hello", off: 1, plen: 3, wantN: 3},
		{name: "up to end", content: "hello", off: 2, plen: 3, wantN: 3},
		{name: "past end", content: "hello", off: 0, plen: 10, wantN: 5, wantEOF: true},
		{name: "straddle end", content: "hello", off: 3, plen: 5, wantN: 2, wantEOF: true},
		{name: "at end", content: "hello", off: 5, plen: 1, wantN: 0, wantEOF: true},
		{name: "beyond end", content: "hello", off: 9, plen: 1, wantN: 0, wantEOF: true},
		{name: "empty buffer at end", content: "hello", off: 5, plen: 0, wantN: 0},
		{name: "empty buffer beyond end", content: "hello", off: 9, plen: 0, wantN: 0},
		{name: "empty file", content: "", off: 0, plen: 1, wantN: 0, wantEOF: true},
		{name: "negative offset", content: "hello", off: -1, plen: 1, wantN: 0, wantErr: true},
	}
	for _, fut := range bothFS(t) {
		for i, tc := range cases {
			t.Run(fut.name+"/"+tc.name, func(t *testing.T) {
				name := filepath.Join(fut.dir, "readat", string(rune('a'+i)))
				if err := fut.fs.MkdirAll(filepath.Dir(name), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, fut.fs, name, tc.content, false)
				f, err := fut.fs.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				p := make([]byte, tc.plen)
				n, err := f.ReadAt(p, tc.off)
				if n != tc.wantN {
					t.Errorf("n = %d, want %d", n, tc.wantN)
				}
				switch {
				case tc.wantEOF && err != io.EOF:
					t.Errorf("err = %v, want exactly io.EOF", err)
				case tc.wantErr && (err == nil || err == io.EOF):
					t.Errorf("err = %v, want a non-EOF error", err)
				case !tc.wantEOF && !tc.wantErr && err != nil:
					t.Errorf("err = %v, want nil", err)
				}
				if n > 0 && string(p[:n]) != tc.content[tc.off:tc.off+int64(n)] {
					t.Errorf("read %q", p[:n])
				}
			})
		}
	}
}

func TestWriteAtAndTruncateFillZeros(t *testing.T) {
	type step struct {
		write    string // written at off when truncate < 0
		off      int64
		truncate int64
	}
	cases := []struct {
		name  string
		steps []step
		want  string
	}{
		{name: "write past end", steps: []step{{write: "ab", off: 3, truncate: -1}}, want: "\x00\x00\x00ab"},
		{name: "overwrite", steps: []step{{write: "abcd", truncate: -1}, {write: "X", off: 1, truncate: -1}}, want: "aXcd"},
		{name: "truncate grows with zeros", steps: []step{{write: "ab", truncate: -1}, {truncate: 4}}, want: "ab\x00\x00"},
		{name: "shrink then grow shows zeros", steps: []step{{write: "abcdef", truncate: -1}, {truncate: 2}, {truncate: 5}}, want: "ab\x00\x00\x00"},
		{name: "shrink then write past end", steps: []step{{write: "abcdef", truncate: -1}, {truncate: 1}, {write: "Z", off: 4, truncate: -1}}, want: "a\x00\x00\x00Z"},
		{name: "empty write past end does not extend", steps: []step{{write: "ab", truncate: -1}, {write: "", off: 10, truncate: -1}}, want: "ab"},
	}
	for _, fut := range bothFS(t) {
		for i, tc := range cases {
			t.Run(fut.name+"/"+tc.name, func(t *testing.T) {
				name := filepath.Join(fut.dir, "w"+string(rune('a'+i)))
				f, err := fut.fs.Create(name)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				for _, s := range tc.steps {
					if s.truncate >= 0 {
						err = f.Truncate(s.truncate)
					} else {
						_, err = f.WriteAt([]byte(s.write), s.off)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if size, err := f.Size(); err != nil || size != int64(len(tc.want)) {
					t.Errorf("Size = %d, %v; want %d", size, err, len(tc.want))
				}
				if got := readFile(t, fut.fs, name); got != tc.want {
					t.Errorf("content %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func TestNamespaceErrors(t *testing.T) {
	notExist := func(err error) bool { return errors.Is(err, os.ErrNotExist) }
	anyErr := func(err error) bool { return err != nil }
	noErr := func(err error) bool { return err == nil }
	cases := []struct {
		name string
		call func(fs vfs.FS, dir string) error
		want func(error) bool
	}{
		{"Create in missing dir", func(fs vfs.FS, dir string) error {
			_, err := fs.Create(filepath.Join(dir, "nodir", "f"))
			return err
		}, notExist},
		{"OpenReadWrite in missing dir", func(fs vfs.FS, dir string) error {
			_, err := fs.OpenReadWrite(filepath.Join(dir, "nodir", "f"))
			return err
		}, notExist},
		{"Open missing file", func(fs vfs.FS, dir string) error {
			_, err := fs.Open(filepath.Join(dir, "missing"))
			return err
		}, notExist},
		{"ReadDir missing", func(fs vfs.FS, dir string) error {
			_, err := fs.ReadDir(filepath.Join(dir, "missing"))
			return err
		}, notExist},
		{"Stat missing", func(fs vfs.FS, dir string) error {
			_, err := fs.Stat(filepath.Join(dir, "missing"))
			return err
		}, notExist},
		{"Remove missing", func(fs vfs.FS, dir string) error {
			return fs.Remove(filepath.Join(dir, "missing"))
		}, notExist},
		{"Rename missing", func(fs vfs.FS, dir string) error {
			return fs.Rename(filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
		}, notExist},
		{"RemoveAll missing", func(fs vfs.FS, dir string) error {
			return fs.RemoveAll(filepath.Join(dir, "missing"))
		}, noErr},
		{"Remove non-empty dir", func(fs vfs.FS, dir string) error {
			return fs.Remove(filepath.Join(dir, "full"))
		}, anyErr},
		{"Create on a dir", func(fs vfs.FS, dir string) error {
			_, err := fs.Create(filepath.Join(dir, "full"))
			return err
		}, anyErr},
		{"MkdirAll through a file", func(fs vfs.FS, dir string) error {
			return fs.MkdirAll(filepath.Join(dir, "full", "f", "sub"), 0o755)
		}, anyErr},
		{"Rename file over dir", func(fs vfs.FS, dir string) error {
			return fs.Rename(filepath.Join(dir, "full", "f"), filepath.Join(dir, "empty"))
		}, anyErr},
		{"write to read-only handle", func(fs vfs.FS, dir string) error {
			f, err := fs.Open(filepath.Join(dir, "full", "f"))
			if err != nil {
				return nil // reported as a wrong result
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("x"), 0)
			return err
		}, anyErr},
	}
	for _, fut := range bothFS(t) {
		for _, tc := range cases {
			t.Run(fut.name+"/"+tc.name, func(t *testing.T) {
				dir := filepath.Join(fut.dir, "ns")
				if err := fut.fs.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for _, d := range []string{"full", "empty"} {
					if err := fut.fs.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				writeFile(t, fut.fs, filepath.Join(dir, "full", "f"), "data", false)
				if err := tc.call(fut.fs, dir); !tc.want(err) {
					t.Errorf("err = %v", err)
				}
				if got := readFile(t, fut.fs, filepath.Join(dir, "full", "f")); got != "data" {
					t.Errorf("full/f = %q after failed call", got)
				}
			})
		}
	}
}

func TestNamespaceBehaviour(t *testing.T) {
	for _, fut := range bothFS(t) {
		fs, dir := fut.fs, fut.dir
		p := func(names ...string) string { return filepath.Join(append([]string{dir}, names...)...) }
		t.Run(fut.name+"/ReadDir sorted", func(t *testing.T) {
			if err := fs.MkdirAll(p("ls"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"c", "a", "b"} {
				writeFile(t, fs, p("ls", n), "", false)
			}
			if err := fs.MkdirAll(p("ls", "ab"), 0o755); err != nil {
				t.Fatal(err)
			}
			names, err := fs.ReadDir(p("ls"))
			if err != nil || !equalStrings(names, []string{"a", "ab", "b", "c"}) {
				t.Errorf("ReadDir = %v, %v", names, err)
			}
		})
		t.Run(fut.name+"/Create truncates, OpenReadWrite keeps", func(t *testing.T) {
			writeFile(t, fs, p("keep"), "abc", false)
			f, err := fs.OpenReadWrite(p("keep"))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := readFile(t, fs, p("keep")); got != "abc" {
				t.Errorf("after OpenReadWrite: %q", got)
			}
			f, err = fs.Create(p("keep"))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := readFile(t, fs, p("keep")); got != "" {
				t.Errorf("after Create: %q", got)
			}
			f, err = fs.OpenReadWrite(p("fresh"))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if st, err := fs.Stat(p("fresh")); err != nil || st.IsDir || st.Size != 0 {
				t.Errorf("OpenReadWrite did not create: %+v, %v", st, err)
			}
		})
		t.Run(fut.name+"/Rename replaces", func(t *testing.T) {
			writeFile(t, fs, p("old"), "new content", false)
			writeFile(t, fs, p("target"), "old content", false)
			if err := fs.Rename(p("old"), p("target")); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, fs, p("target")); got != "new content" {
				t.Errorf("target = %q", got)
			}
			if _, err := fs.Stat(p("old")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("old still there: %v", err)
			}
		})
		t.Run(fut.name+"/Stat and RemoveAll", func(t *testing.T) {
			if err := fs.MkdirAll(p("tree", "a"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, fs, p("tree", "a", "f"), "12345", false)
			if st, err := fs.Stat(p("tree", "a")); err != nil || !st.IsDir {
				t.Errorf("Stat dir = %+v, %v", st, err)
			}
			if st, err := fs.Stat(p("tree", "a", "f")); err != nil || st.IsDir || st.Size != 5 {
				t.Errorf("Stat file = %+v, %v", st, err)
			}
			if err := fs.RemoveAll(p("tree")); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.Stat(p("tree")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("tree still there: %v", err)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOSDurabilityCalls(t *testing.T) {
	fs, dir := vfs.OS(), t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte("x"), 100), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Preallocate(1 << 20); err != nil {
		t.Fatalf("Preallocate: %v", err)
	}
	if size, err := f.Size(); err != nil || size != 100 {
		t.Errorf("Size after Preallocate = %d, %v; want 100", size, err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if err := fs.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir(missing) = %v", err)
	}
	du, err := fs.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if du.TotalBytes == 0 || du.FreeBytes > du.TotalBytes {
		t.Errorf("DiskUsage = %+v", du)
	}
	if r := du.UsedRatio(); r < 0 || r > 1 {
		t.Errorf("UsedRatio = %v", r)
	}
	var pe *os.PathError
	if _, err := fs.DiskUsage(filepath.Join(dir, "missing")); !errors.As(err, &pe) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("DiskUsage(missing) = %v", err)
	}
}
