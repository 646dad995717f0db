package store

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(checkpoint{SegmentSize: 1 << 30, Flushed: 100, Dispatched: 50, LastRaftIndex: 7, LastStoreTS: 9, Clean: true,
		QueueEntriesPerFile: 1, IndexSlots: 2, IndexEntriesPerFile: 3}.encode())
	f.Add(make([]byte, checkpointSize))
	f.Add([]byte("RMQC"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.encode(), b) {
			t.Fatalf("accepted checkpoint does not re-encode to the same bytes")
		}
		if c.Dispatched > c.Flushed || c.SegmentSize <= 0 {
			t.Fatalf("accepted out-of-range checkpoint %+v", c)
		}
	})
}

// FuzzRecoverSegment feeds arbitrary bytes as the only CommitLog segment of
// a store without a checkpoint: Open must either fail cleanly or recover a
// store that the verifier accepts, and never panic.
func FuzzRecoverSegment(f *testing.F) {
	o := TestOptions()
	var seg []byte
	for i := range 3 {
		m := &Message{Topic: "t", QueueID: uint32(i), Body: []byte("hello"), CommitLogOffset: int64(len(seg)), QueueOffset: 0,
			Keys: []string{"k"}, Flags: record.FlagBatchEnd}
		seg = record.Append(seg, m)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte{0, 0, 0, 9, 'R', 'M', 'Q', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if int64(len(b)) > o.SegmentSize {
			return
		}
		mem := vfs.NewMem()
		o.FS = mem
		dir := "/s"
		if err := mem.MkdirAll(filepath.Join(dir, commitLogDir), 0o755); err != nil {
			t.Fatal(err)
		}
		file, err := mem.Create(filepath.Join(dir, commitLogDir, segmentName(0)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
		file.Close()
		s, err := Open(dir, o)
		if err != nil {
			return
		}
		if _, err := s.Append([]*Message{msg("t", 0, "after")}); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if rep, err := VerifyFS(mem, dir, o); err != nil || !rep.OK() {
			t.Fatalf("verify after recovery: %v %v", err, rep.Problems)
		}
	})
}
