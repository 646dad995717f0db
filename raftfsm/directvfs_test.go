package raftfsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// TestDirectFileMatchesModel appends, rewrites and reopens a direct file
// at random and checks every read against an in-memory copy.
func TestDirectFileMatchesModel(t *testing.T) {
	dir := t.TempDir()
	v := newDirectVFS()
	const size = 1 << 20
	f, err := v.Create(dir, "seg", size)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*directFile); !ok {
		t.Skipf("the file system under %s refuses O_DIRECT", dir)
	}
	rng := rand.New(rand.NewPCG(1, uint64(os.Getpid())))
	model := make([]byte, size)
	end := int64(0)
	check := func(what string) {
		t.Helper()
		for range 5 {
			off := rng.Int64N(size)
			n := rng.IntN(3*directBlock) + 1
			got := make([]byte, n)
			k, err := f.ReadAt(got, off)
			want := model[off:min(off+int64(n), size)]
			if k != len(want) || !bytes.Equal(got[:k], want) {
				t.Fatalf("%s: ReadAt(%d bytes at %d) = %d bytes, %v; differs from the model", what, n, off, k, err)
			}
			if (k < n) != errors.Is(err, io.EOF) {
				t.Fatalf("%s: ReadAt(%d bytes at %d) = %d, %v: want io.EOF exactly when short", what, n, off, k, err)
			}
		}
	}
	for i := range 400 {
		n := rng.IntN(9000) + 1
		off := end
		if i%17 == 5 && end > 0 {
			off = rng.Int64N(end) // a rewrite below the end
		}
		if off+int64(n) > size {
			break
		}
		p := make([]byte, n)
		for k := range p {
			p[k] = byte(rng.Uint32())
		}
		if k, err := f.WriteAt(p, off); err != nil || k != n {
			t.Fatalf("write %d at %d: %d, %v", n, off, k, err)
		}
		copy(model[off:], p)
		// Every write zeroes the rest of its last block.
		end = off + int64(n)
		clear(model[end:min(alignUp(end), size)])
		check(fmt.Sprintf("after write %d", i))
		if i%50 == 49 {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if f, err = v.OpenWriter(dir, "seg"); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("after reopen %d", i))
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, model) {
		t.Fatal("file differs from the model")
	}
}

// TestWALOnDirectFiles runs raft-wal over the direct file system across
// segment rolls, a clean reopen and a reopen without Close (a crash).
func TestWALOnDirectFiles(t *testing.T) {
	dir := t.TempDir()
	open := func() (*raftwal.WAL, *metadb.BoltMetaDB) {
		t.Helper()
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithSegmentSize(64<<10),
			raftwal.WithSegmentFiler(segment.NewFiler(dir, newDirectVFS())))
		if err != nil {
			t.Fatal(err)
		}
		return w, meta
	}
	rng := rand.New(rand.NewPCG(2, 3))
	data := map[uint64][]byte{}
	next := uint64(1)
	store := func(w *raftwal.WAL, batches int) {
		t.Helper()
		for range batches {
			var logs []*raft.Log
			for range rng.IntN(4) + 1 {
				b := make([]byte, rng.IntN(5000)+1)
				for k := range b {
					b[k] = byte(rng.Uint32())
				}
				data[next] = b
				logs = append(logs, &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: b})
				next++
			}
			if err := w.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify := func(w *raftwal.WAL) {
		t.Helper()
		last, err := w.LastIndex()
		if err != nil || last != next-1 {
			t.Fatalf("LastIndex %d, %v; want %d", last, err, next-1)
		}
		for i := uint64(1); i < next; i++ {
			var l raft.Log
			if err := w.GetLog(i, &l); err != nil {
				t.Fatalf("GetLog(%d): %v", i, err)
			}
			if !bytes.Equal(l.Data, data[i]) {
				t.Fatalf("entry %d differs", i)
			}
		}
	}
	w, meta := open()
	store(w, 200) // several 64 KiB segments
	verify(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	meta.Close()

	w, meta = open()
	verify(w)
	store(w, 50)
	// Crash: the process ends without closing the WAL. Only the meta
	// database's lock must be released for the reopen in this process;
	// the crashed WAL's goroutine is stopped at the end of the test.
	meta.Close()
	crashed := w
	defer crashed.Close()
	w, meta = open()
	defer func() { w.Close(); meta.Close() }()
	verify(w)
	store(w, 50)
	verify(w)
}

// TestDirectVFSFallsBack: a file system that refuses O_DIRECT (tmpfs) gets
// raft-wal's own files.
func TestDirectVFSFallsBack(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("no /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "raftmq-directvfs-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f, err := newDirectVFS().Create(dir, "seg", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.(*directFile); ok {
		t.Skip("this tmpfs accepts O_DIRECT")
	}
	var _ types.WritableFile = f
	if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
