package vfs_test

import (
	"io"
	"math/rand/v2"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

// TestWriteFileAtomicSurvivesCrash: once WriteFileAtomic returned, a
// crash keeps the new contents; a crash before it keeps the old ones.
func TestWriteFileAtomicSurvivesCrash(t *testing.T) {
	mem := vfs.NewMem()
	if err := vfs.WriteFileAtomic(mem, "/f", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFileAtomic(mem, "/f", []byte("new contents")); err != nil {
		t.Fatal(err)
	}
	mem.Crash(rand.New(rand.NewPCG(1, 2)), vfs.TearUnsynced)
	f, err := mem.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new contents" {
		t.Fatalf("after crash: %q", got)
	}
}
