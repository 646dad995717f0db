package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store"
)

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		id      string
		group   string
		off     int64
		wantErr bool
	}{
		{"broker-a:0000000000000000", "broker-a", 0, false},
		{"g:00000000000A1B2C", "g", 0xA1B2C, false},
		{"g:00000000000a1b2c", "g", 0xA1B2C, false},
		{"g:A1B2C", "", 0, true},
		{":0000000000000000", "", 0, true},
		{"g0000000000000000", "", 0, true},
		{"g:000000000000000Z", "", 0, true},
		{"g:FFFFFFFFFFFFFFFF", "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			g, off, err := ParseMessageID(tc.id)
			if (err != nil) != tc.wantErr || g != tc.group || off != tc.off {
				t.Fatalf("ParseMessageID = %q, %d, %v", g, off, err)
			}
			if err == nil && tc.id == FormatMessageID(g, off) {
				return
			}
			if err != nil && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err %v is not ErrInvalidArgument", err)
			}
		})
	}
	if got := FormatMessageID("g", 0xA1B2C); got != "g:00000000000A1B2C" {
		t.Fatalf("FormatMessageID = %s", got)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		off := int64(rng.Uint64() >> rng.IntN(64))
		if got, want := FormatMessageID("broker-a", off), fmt.Sprintf("broker-a:%016X", uint64(off)); got != want {
			t.Fatalf("FormatMessageID(%d) = %s, want %s", off, got, want)
		}
	}
}

// One allocation per id (the string): it runs for every acknowledged
// message (fmt.Sprintf made two and took three times as long).
func TestFormatMessageIDAllocations(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = FormatMessageID("broker-a", 0x1234) }); n > 1 {
		t.Fatalf("FormatMessageID allocates %.0f times, want 1", n)
	}
}

func BenchmarkFormatMessageID(b *testing.B) {
	for i := range b.N {
		_ = FormatMessageID("broker-a", int64(i)<<10)
	}
}

func TestGetMessageAndQueryByKey(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	res := produceTo(t, b, "T", 0, "one", "two")
	m, err := b.GetMessage(res[1].MsgID)
	if err != nil || string(m.Body) != "two" || m.QueueOffset != 1 {
		t.Fatalf("GetMessage: %+v, %v", m, err)
	}
	_, off, _ := ParseMessageID(res[1].MsgID)
	for _, id := range []string{FormatMessageID("other", off), FormatMessageID("g", off+1), FormatMessageID("g", 1<<40)} {
		if _, err := b.GetMessage(id); !errors.Is(err, ErrMessageNotFound) {
			t.Fatalf("GetMessage(%s): %v", id, err)
		}
	}
	ms, err := b.QueryByKey("T", "k-two", 0, 0, 0)
	if err != nil || len(ms) != 1 || string(ms[0].Body) != "two" {
		t.Fatalf("QueryByKey: %v, %v", ms, err)
	}
	ms, err = b.QueryByKey("T", "k-two", 0, time.Now().Add(-time.Hour).UnixMilli(), 0)
	if err != nil || len(ms) != 0 {
		t.Fatalf("QueryByKey before the message: %v, %v", ms, err)
	}
	for _, tc := range []struct {
		topic, key string
		want       error
	}{{"T", "", ErrInvalidArgument}, {"U", "k", ErrTopicNotFound}, {"a b", "k", store.ErrInvalidTopic}} {
		if _, err := b.QueryByKey(tc.topic, tc.key, 0, 0, 0); !errors.Is(err, tc.want) {
			t.Fatalf("QueryByKey(%q, %q): %v, want %v", tc.topic, tc.key, err, tc.want)
		}
	}
}
