package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

// twin is two stores fed identical batches, as two Raft replicas are.
type twin struct {
	t        *testing.T
	dirs     [2]string
	st       [2]*Store
	res      []AppendResult
	reported []*CorruptError
	mu       sync.Mutex // guards reported
}

func newTwin(t *testing.T, n int) *twin {
	t.Helper()
	tw := &twin{t: t}
	for i := range tw.st {
		o := TestOptions()
		if i == 0 {
			o.OnCorrupt = func(e *CorruptError) {
				tw.mu.Lock()
				tw.reported = append(tw.reported, e)
				tw.mu.Unlock()
			}
		}
		tw.dirs[i] = t.TempDir()
		tw.st[i] = mustOpen(t, tw.dirs[i], o)
	}
	for k := range n {
		for i, s := range tw.st {
			m := msg("t", uint32(k%2), fmt.Sprintf("body-%d-%s", k, bytes.Repeat([]byte("y"), 300)))
			m.Keys = []string{fmt.Sprintf("k%d", k)}
			m.RaftIndex = uint64(k + 1)
			r, err := s.Append([]*Message{m})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				tw.res = append(tw.res, r[0])
			}
		}
	}
	t.Cleanup(func() {
		for _, s := range tw.st {
			if s != nil {
				s.Close()
			}
		}
	})
	return tw
}

// flip XORs one bit of the byte at CommitLog offset off in store i's files.
func (tw *twin) flip(i int, off int64) {
	tw.t.Helper()
	seg := off - off%TestOptions().SegmentSize
	f, err := os.OpenFile(filepath.Join(tw.dirs[i], commitLogDir, segmentName(seg)), os.O_RDWR, 0)
	if err != nil {
		tw.t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off-seg); err != nil {
		tw.t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off-seg); err != nil {
		tw.t.Fatal(err)
	}
}

func (tw *twin) closeBoth() {
	tw.t.Helper()
	for i, s := range tw.st {
		if err := s.Close(); err != nil {
			tw.t.Fatal(err)
		}
		tw.st[i] = nil
	}
}

// sameFiles fails unless both stores' CommitLog segments are identical.
func (tw *twin) sameFiles() {
	tw.t.Helper()
	names, err := os.ReadDir(filepath.Join(tw.dirs[0], commitLogDir))
	if err != nil {
		tw.t.Fatal(err)
	}
	for _, n := range names {
		a, _ := os.ReadFile(filepath.Join(tw.dirs[0], commitLogDir, n.Name()))
		b, err := os.ReadFile(filepath.Join(tw.dirs[1], commitLogDir, n.Name()))
		if err != nil || !bytes.Equal(a, b) {
			tw.t.Fatalf("segment %s differs between replicas (%v)", n.Name(), err)
		}
	}
}

// TestBitFlipIsNeverServedAndRepaired flips one bit in a record of a
// sealed segment and one of the live segment: every read path refuses
// them, Scrub finds them, a replica refuses to serve them, and repair from
// the twin's verified bytes restores identical files.
func TestBitFlipIsNeverServedAndRepaired(t *testing.T) {
	tw := newTwin(t, 600)
	a, b := tw.st[0], tw.st[1]
	tw.sameFiles()
	live := a.cl.live().base
	var victims []AppendResult
	for _, r := range tw.res[20:] { // one record in a sealed segment...
		if r.CommitLogOffset < live {
			victims = append(victims, r)
			break
		}
	}
	victims = append(victims, tw.res[len(tw.res)-3]) // ...and one in the live one
	if victims[0].CommitLogOffset >= live || victims[1].CommitLogOffset < live {
		t.Fatalf("victims %+v, live segment at %d", victims, live)
	}
	for _, v := range victims {
		tw.flip(0, v.CommitLogOffset+int64(v.Size)-5) // in the body
	}
	for _, v := range victims {
		var cerr *CorruptError
		if _, err := a.ReadMessage(v.CommitLogOffset); !errors.As(err, &cerr) || cerr.Offset != v.CommitLogOffset {
			t.Fatalf("ReadMessage(%d) = %v, want a CorruptError there", v.CommitLogOffset, err)
		}
		q := uint32(tw.indexOf(v) % 2)
		if r, err := a.GetMessages(GetRequest{Topic: "t", QueueID: q, Offset: v.QueueOffset, MaxMessages: 4}); !errors.Is(err, ErrCorrupt) || len(r.Messages) != 0 {
			t.Fatalf("GetMessages at the flipped record = %d messages, %v", len(r.Messages), err)
		}
		if r, err := a.GetMessages(GetRequest{Topic: "t", QueueID: q, Offset: v.QueueOffset - 2, MaxMessages: 4}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("GetMessages across the flipped record = %d messages, %v", len(r.Messages), err)
		}
		if _, err := a.QueryByKey("t", fmt.Sprintf("k%d", tw.indexOf(v)), 0, 1<<62, 4); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("QueryByKey of the flipped record: %v", err)
		}
		if _, err := b.ReadMessage(v.CommitLogOffset); err != nil {
			t.Fatalf("twin: %v", err)
		}
	}
	var cerr *CorruptError
	if err := a.Scrub(); !errors.As(err, &cerr) || cerr.Offset != victims[0].CommitLogOffset {
		t.Fatalf("Scrub = %v, want the first flipped record at %d", err, victims[0].CommitLogOffset)
	}
	if len(tw.reported) == 0 {
		t.Fatal("OnCorrupt was never called")
	}
	for _, v := range victims {
		base := v.CommitLogOffset - v.CommitLogOffset%a.SegmentSize()
		if _, err := a.ReadVerified(base, int(a.SegmentSize())); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged replica served its bytes: %v", err)
		}
		good, err := b.ReadVerified(base, int(a.SegmentSize()))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := a.RepairCommitLog(base, good); err != nil || n != 1 {
			t.Fatalf("repair segment %d: %d records, %v", base, n, err)
		}
		m, err := a.ReadMessage(v.CommitLogOffset)
		if err != nil || !bytes.HasPrefix(m.Body, fmt.Appendf(nil, "body-%d-", tw.indexOf(v))) {
			t.Fatalf("after repair: %q, %v", m.Body, err)
		}
	}
	if err := a.Scrub(); err != nil {
		t.Fatalf("Scrub after repair: %v", err)
	}
	dirs := tw.dirs
	tw.closeBoth()
	tw.sameFiles()
	for _, d := range dirs {
		if rep, err := Verify(d); err != nil || !rep.OK() {
			t.Fatalf("verify %s: %v %v", d, err, rep.Problems)
		}
	}
}

func (tw *twin) indexOf(r AppendResult) int {
	for i, x := range tw.res {
		if x == r {
			return i
		}
	}
	tw.t.Fatalf("no result %+v", r)
	return -1
}

// TestRepairRefusesDivergedBytes: bytes from a "replica" whose valid
// record differs from the local valid record are refused, nothing written.
func TestRepairRefusesDivergedBytes(t *testing.T) {
	tw := newTwin(t, 40)
	a, b := tw.st[0], tw.st[1]
	good, err := b.ReadVerified(0, int(a.SegmentSize()))
	if err != nil {
		t.Fatal(err)
	}
	// A different but valid record at offset 0: re-encode message 0 with
	// another body length-preserving change.
	m, err := b.ReadMessage(0)
	if err != nil {
		t.Fatal(err)
	}
	m.Body = bytes.Clone(m.Body)
	m.Body[0] = 'B'
	m.Flags |= record.FlagBatchEnd
	other := append(record.Append(nil, &m), good[tw.res[0].Size:]...)
	if _, err := a.RepairCommitLog(0, other); !errors.Is(err, ErrDiverged) {
		t.Fatalf("repair with diverged bytes: %v", err)
	}
	if got, err := a.ReadMessage(0); err != nil || got.Body[0] != 'b' {
		t.Fatalf("local record changed: %q %v", got.Body, err)
	}
	if _, err := a.RepairCommitLog(0, good[:len(good)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("repair with a cut record: %v", err)
	}
}

// TestRepairDirBeforeOpen: a flipped record found by recovery fails Open
// with a CorruptError; RepairDir with the twin's bytes lets Open succeed
// with nothing lost.
func TestRepairDirBeforeOpen(t *testing.T) {
	tw := newTwin(t, 300)
	victim := tw.res[150]
	dirs := tw.dirs
	tw.closeBoth()
	tw.flip(0, victim.CommitLogOffset+int64(victim.Size)-3)
	o := TestOptions()
	ck, _, _ := readCheckpoint(o.withDefaults().FS, dirs[0])
	ck.Clean, ck.Dispatched = false, 0 // as after a crash: recovery rescans
	if err := writeCheckpoint(o.withDefaults().FS, dirs[0], ck); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dirs[0], o)
	var cerr *CorruptError
	if !errors.As(err, &cerr) || cerr.Offset != victim.CommitLogOffset {
		t.Fatalf("open: %v, want a CorruptError at %d", err, victim.CommitLogOffset)
	}
	b := mustOpen(t, dirs[1], o)
	base := cerr.Offset - cerr.Offset%o.SegmentSize
	good, err := b.ReadVerified(base, int(min(o.SegmentSize, cerr.End-base)))
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := RepairDir(nil, dirs[0], o.SegmentSize, base, good); err != nil || n != 1 {
		t.Fatalf("RepairDir: %d, %v", n, err)
	}
	a := mustOpen(t, dirs[0], o)
	if got := a.MaxOffset("t", 0) + a.MaxOffset("t", 1); got != 300 {
		t.Fatalf("after repair the store holds %d messages, want 300", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	tw.sameFiles()
	if rep, err := Verify(dirs[0]); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}
