package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func msg(topic string, q uint32, body string) *Message {
	return &Message{Topic: topic, QueueID: q, Body: []byte(body), StoreTimestamp: 1_700_000_000_000, BornTimestamp: 1_700_000_000_000}
}

func mustOpen(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestAppendReadReopen(t *testing.T) {
	for _, mode := range []FlushMode{FlushAsync, FlushSync} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := TestOptions()
			o.FlushMode = mode
			s := mustOpen(t, dir, o)
			const n = 500 // several segments of 64 KiB
			var ids []int64
			for i := range n {
				m := msg("orders", uint32(i%3), fmt.Sprintf("body-%d-%s", i, bytes.Repeat([]byte("x"), 200)))
				m.Keys = []string{fmt.Sprintf("k%d", i), "shared"}
				m.Properties = map[string]string{UniqueKeyProperty: fmt.Sprintf("u%d", i), "color": "red"}
				m.Tags = []string{"a", "b"}[i%2]
				m.RaftIndex = uint64(i + 1)
				res, err := s.Append([]*Message{m})
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(i / 3); res[0].QueueOffset != want {
					t.Fatalf("msg %d: queue offset %d, want %d", i, res[0].QueueOffset, want)
				}
				ids = append(ids, res[0].CommitLogOffset)
			}
			if s.Stats().Segments < 3 {
				t.Fatalf("want several segments, got %d", s.Stats().Segments)
			}
			check := func(s *Store) {
				t.Helper()
				for q := range uint32(3) {
					var got int
					off := uint64(0)
					for {
						r, err := s.GetMessages(GetRequest{Topic: "orders", QueueID: q, Offset: off, MaxMessages: 50})
						if err != nil {
							t.Fatal(err)
						}
						for _, m := range r.Messages {
							i := int(m.QueueOffset)*3 + int(q)
							if !bytes.HasPrefix(m.Body, fmt.Appendf(nil, "body-%d-", i)) {
								t.Fatalf("queue %d offset %d: body %.20q", q, m.QueueOffset, m.Body)
							}
							got++
						}
						if r.NextOffset == off {
							break
						}
						off = r.NextOffset
					}
					if want := n / 3; q < n%3 && got != want+1 || q >= n%3 && got != want {
						t.Fatalf("queue %d: got %d messages", q, got)
					}
				}
				m, err := s.ReadMessage(ids[123])
				if err != nil || m.Keys[0] != "k123" {
					t.Fatalf("read by id: %v %v", m.Keys, err)
				}
				found, err := s.QueryByKey("orders", "k77", 0, 1<<62, 10)
				if err != nil || len(found) != 1 || found[0].CommitLogOffset != ids[77] {
					t.Fatalf("query by key: %d found, %v", len(found), err)
				}
				found, err = s.QueryByKey("orders", "u78", 0, 1<<62, 10)
				if err != nil || len(found) != 1 || found[0].CommitLogOffset != ids[78] {
					t.Fatalf("query by unique key: %d found, %v", len(found), err)
				}
				found, err = s.QueryByKey("orders", "shared", 0, 1<<62, 7)
				if err != nil || len(found) != 7 || found[0].CommitLogOffset != ids[n-1] {
					t.Fatalf("query by shared key: %d found, %v", len(found), err)
				}
				if s.LastRaftIndex() != n {
					t.Fatalf("last raft index %d", s.LastRaftIndex())
				}
				r, err := s.GetMessages(GetRequest{Topic: "orders", QueueID: 0, Offset: 0, MaxMessages: 1000, Tags: []string{"a"}})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range r.Messages {
					if m.Tags != "a" {
						t.Fatalf("tag filter returned %q", m.Tags)
					}
				}
			}
			check(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, o)
			if got := s.Stats().RecoveredRecords; got != 0 {
				t.Fatalf("clean reopen scanned %d records, want 0", got)
			}
			check(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := VerifyFS(o.withDefaults().FS, dir, o)
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", err, rep.Problems)
			}
			if rep.Records != n {
				t.Fatalf("verify saw %d records", rep.Records)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	s := mustOpen(t, t.TempDir(), TestOptions())
	defer s.Close()
	long := string(bytes.Repeat([]byte("a"), MaxTopicLen+1))
	cases := []struct {
		name string
		m    *Message
		want error
	}{
		{"empty topic", msg("", 0, "x"), ErrInvalidTopic},
		{"bad char", msg("a b", 0, "x"), ErrInvalidTopic},
		{"too long topic", msg(long, 0, "x"), ErrInvalidTopic},
		{"body too large", msg("t", 0, string(make([]byte, 16<<10+1))), ErrMessageTooLarge},
		{"queue id", msg("t", MaxQueueID+1, "x"), ErrInvalidMessage},
		{"reserved flag", &Message{Topic: "t", Flags: 1 << 31}, ErrInvalidMessage},
		{"empty key", &Message{Topic: "t", Keys: []string{""}}, ErrInvalidMessage},
		{"props too large", &Message{Topic: "t", Properties: map[string]string{"p": string(make([]byte, 5<<10))}}, ErrPropertiesTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Append([]*Message{c.m}); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("empty batch: %v", err)
	}
	if s.MaxCommitLogOffset() != 0 {
		t.Fatalf("rejected input wrote %d bytes", s.MaxCommitLogOffset())
	}
	if err := ValidateTopic("%RETRY%group_1|x-y"); err != nil {
		t.Fatal(err)
	}
}

func TestOffsetsOutOfRange(t *testing.T) {
	s := mustOpen(t, t.TempDir(), TestOptions())
	defer s.Close()
	if _, err := s.Append([]*Message{msg("t", 0, "a"), msg("t", 0, "b")}); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetMessages(GetRequest{Topic: "t", Offset: 2})
	if err != nil || len(r.Messages) != 0 || r.MaxOffset != 2 {
		t.Fatalf("at end: %+v %v", r, err)
	}
	if _, err := s.GetMessages(GetRequest{Topic: "t", Offset: 3}); !errors.Is(err, ErrOffsetTooLarge) {
		t.Fatalf("beyond end: %v", err)
	}
	if _, err := s.ReadMessage(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mid-record id: %v", err)
	}
	if _, err := s.GetMessages(GetRequest{Topic: "nope", Offset: 0}); err != nil {
		t.Fatalf("unknown queue: %v", err)
	}
}

func TestCorruptDurableRecordIsLoud(t *testing.T) {
	dir := t.TempDir()
	o := TestOptions()
	s := mustOpen(t, dir, o)
	for i := range 20 {
		if _, err := s.Append([]*Message{msg("t", 0, fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the middle and mark the store dirty, as after a crash.
	seg := filepath.Join(dir, commitLogDir, segmentName(0))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, _, _ := readCheckpoint(o.withDefaults().FS, dir)
	ck.Clean, ck.Dispatched = false, 0
	if err := writeCheckpoint(o.withDefaults().FS, dir, ck); err != nil {
		t.Fatal(err)
	}
	if rep, _ := Verify(dir); rep.OK() {
		t.Fatal("verifier missed the flipped byte")
	}
	_, err = Open(dir, o)
	if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(segmentName(0))) {
		t.Fatalf("open: %v", err)
	}
	o.Repair = true
	s = mustOpen(t, dir, o)
	if s.MaxOffset("t", 0) >= 20 || s.MaxOffset("t", 0) == 0 {
		t.Fatalf("repair kept %d messages", s.MaxOffset("t", 0))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(dir); err != nil || !rep.OK() {
		t.Fatalf("after repair: %v %v", err, rep.Problems)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, TestOptions())
	if _, err := Open(dir, TestOptions()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, TestOptions())
	s.Close()
}

func TestDefaultOptionsOpen(t *testing.T) {
	o := DefaultOptions()
	o.SegmentSize = 64 << 20 // keep the preallocation small
	s := mustOpen(t, t.TempDir(), o)
	if _, err := s.Append([]*Message{msg("t", 0, "x")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateTopicTable(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "A-z_0|9%": true, "%RETRY%g": true, "": false, "a b": false, "a/b": false, "ü": false,
		"a.b": false, string(bytes.Repeat([]byte("x"), 127)): true, string(bytes.Repeat([]byte("x"), 128)): false,
	} {
		if err := ValidateTopic(name); (err == nil) != ok {
			t.Errorf("ValidateTopic(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
