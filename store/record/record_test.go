package record_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

// fullMessage returns a message with every field set, for tests that want
// all of the format exercised.
func fullMessage() *record.Message {
	return &record.Message{
		Topic:           "orders",
		QueueID:         7,
		Flags:           0x5,
		BornTimestamp:   1_700_000_000_123,
		StoreTimestamp:  1_700_000_000_456,
		RaftIndex:       42,
		ReconsumeTimes:  3,
		Tags:            "paid",
		Keys:            []string{"order-1", "customer-9"},
		Properties:      map[string]string{"TRACE_ON": "true", "region": "eu-west"},
		Body:            []byte(`{"id":1,"total":"9.99"}`),
		QueueOffset:     1001,
		CommitLogOffset: 65536 + 128,
	}
}

// roundTripCases is shared by the round-trip test and the fuzz seeds.
func roundTripCases() []struct {
	name string
	msg  *record.Message
} {
	manyProps := make(map[string]string, 200)
	for i := range 200 {
		manyProps[fmt.Sprintf("prop-%03d", i)] = strings.Repeat("v", i%17)
	}
	return []struct {
		name string
		msg  *record.Message
	}{
		{"zero", &record.Message{}},
		{"empty body", &record.Message{Topic: "t", StoreTimestamp: 1}},
		{"one byte body", &record.Message{Topic: "t", Body: []byte("x"), StoreTimestamp: 1}},
		{"max topic length", &record.Message{Topic: strings.Repeat("T", record.MaxTopicLen), Body: []byte("b")}},
		{"keys", &record.Message{Topic: "t", Keys: []string{"k1", "", "k3"}, Body: []byte("b")}},
		{"tags", &record.Message{Topic: "t", Tags: "TagA||TagB", Body: []byte("b")}},
		{"many properties", &record.Message{Topic: "t", Properties: manyProps, Body: []byte("b")}},
		{"empty property key and value", &record.Message{Topic: "t", Properties: map[string]string{"": ""}}},
		{"unicode", &record.Message{
			Topic:      "日本-topic",
			Tags:       "标签",
			Keys:       []string{"ключ", "🔑"},
			Properties: map[string]string{"név": "érték", "emoji": "🚀"},
			Body:       []byte("héllo wörld ✓"),
		}},
		{"binary body", &record.Message{Topic: "t", Body: []byte{0, 0xFF, 0x52, 0x4D, 0x51, 0x31, 0}}},
		{"extreme numbers", &record.Message{
			Topic: "t", QueueID: ^uint32(0), Flags: ^uint32(0),
			BornTimestamp: -1, StoreTimestamp: 1<<63 - 1, RaftIndex: ^uint64(0),
			ReconsumeTimes: ^uint32(0), QueueOffset: ^uint64(0), CommitLogOffset: -1 << 63,
		}},
		{"all fields", fullMessage()},
		{"large body", &record.Message{Topic: "t", Body: bytes.Repeat([]byte("0123456789"), 10_000)}},
	}
}

// normalize makes decoded and original messages comparable: the format does
// not distinguish a nil slice or map from an empty one.
func normalize(m record.Message) record.Message {
	if len(m.Keys) == 0 {
		m.Keys = nil
	}
	if len(m.Properties) == 0 {
		m.Properties = nil
	}
	if len(m.Body) == 0 {
		m.Body = nil
	}
	return m
}

func mustEncode(t testing.TB, m *record.Message) []byte {
	t.Helper()
	if err := record.Check(m); err != nil {
		t.Fatalf("Check: %v", err)
	}
	b := record.Append(nil, m)
	if len(b) != record.Size(m) {
		t.Fatalf("Append wrote %d bytes, Size says %d", len(b), record.Size(m))
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := mustEncode(t, tc.msg)
			got, n, err := record.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(b) {
				t.Fatalf("Decode size = %d, want %d", n, len(b))
			}
			if want := normalize(*tc.msg); !reflect.DeepEqual(normalize(got), want) {
				t.Fatalf("Decode mismatch\n got %+v\nwant %+v", normalize(got), want)
			}
			if again := record.Append(nil, &got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding the decoded message changed the bytes")
			}
			h, err := record.DecodeHeader(b)
			if err != nil || h.Size != len(b) || h.Magic != record.MagicMessage {
				t.Fatalf("DecodeHeader = %+v, %v; want size %d, magic message", h, err, len(b))
			}
		})
	}
}

func TestAppendKeepsPrefixAndDecodesInSequence(t *testing.T) {
	prefix := []byte("prefix")
	a := &record.Message{Topic: "a", Body: []byte("first")}
	b := &record.Message{Topic: "b", Keys: []string{"k"}, Body: []byte("second")}
	buf := record.Append(append([]byte(nil), prefix...), a)
	buf = record.Append(buf, b)
	if !bytes.HasPrefix(buf, prefix) {
		t.Fatalf("Append overwrote the prefix: %q", buf[:len(prefix)])
	}
	rest := buf[len(prefix):]
	for i, want := range []*record.Message{a, b} {
		got, n, err := record.Decode(rest)
		if err != nil {
			t.Fatalf("record %d: Decode: %v", i, err)
		}
		if n != record.Size(want) || got.Topic != want.Topic || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("record %d: got %+v (size %d), want %+v", i, got, n, want)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after decoding both records", len(rest))
	}
}

func TestDecodedBodyIsBoundedByRecord(t *testing.T) {
	m := &record.Message{Topic: "t", Body: []byte("abc")}
	buf := record.Append(nil, m)
	buf = append(buf, "NEXT"...)
	got, _, err := record.Decode(buf)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if cap(got.Body) != len(got.Body) {
		t.Fatalf("Body capacity %d exceeds its length %d: an append would overwrite the next record", cap(got.Body), len(got.Body))
	}
}

func TestEncodingIsDeterministic(t *testing.T) {
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%02d", i)
	}
	forward := make(map[string]string, len(keys))
	for _, k := range keys {
		forward[k] = "v-" + k
	}
	backward := make(map[string]string, len(keys))
	for i := len(keys) - 1; i >= 0; i-- {
		backward[keys[i]] = "v-" + keys[i]
	}
	want := record.Append(nil, &record.Message{Topic: "t", Properties: forward})
	for i := range 20 {
		props := forward
		if i%2 == 1 {
			props = backward
		}
		got := record.Append(nil, &record.Message{Topic: "t", Properties: props})
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding %d differs from the first: property order leaks into the bytes", i)
		}
	}
}

func TestDecodeDetectsEveryCorruption(t *testing.T) {
	orig := &record.Message{
		Topic: "t", QueueID: 1, StoreTimestamp: 5, Tags: "tg",
		Keys: []string{"k"}, Properties: map[string]string{"p": "q"}, Body: []byte("hello"),
	}
	good := mustEncode(t, orig)
	want := normalize(*orig)
	for pos := range good {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF} {
			b := bytes.Clone(good)
			b[pos] ^= mask
			got, _, err := decodeNoPanic(t, b)
			if err == nil {
				t.Errorf("byte %d ^ %#02x: Decode accepted corrupt bytes", pos, mask)
				if !reflect.DeepEqual(normalize(got), want) {
					t.Errorf("byte %d ^ %#02x: and returned a different message %+v", pos, mask, got)
				}
			}
		}
	}
}

func decodeNoPanic(t *testing.T, b []byte) (m record.Message, n int, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Decode panicked on %x: %v", b, r)
		}
	}()
	return record.Decode(b)
}

func TestDecodeHeaderErrors(t *testing.T) {
	be32 := func(size, magic uint32) []byte {
		return []byte{byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size),
			byte(magic >> 24), byte(magic >> 16), byte(magic >> 8), byte(magic)}
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, record.ErrShort},
		{"seven bytes", make([]byte, record.HeaderPeek-1), record.ErrShort},
		{"zeros", make([]byte, record.HeaderPeek), record.ErrMagic},
		{"trailer magic", be32(100, record.MagicTrailer), record.ErrMagic},
		{"message shorter than fixed", be32(record.FixedSize-1, record.MagicMessage), record.ErrLength},
		{"message size zero", be32(0, record.MagicMessage), record.ErrLength},
		{"blank shorter than minimum", be32(record.MinBlankSize-1, record.MagicBlank), record.ErrLength},
		{"blank size zero", be32(0, record.MagicBlank), record.ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := record.DecodeHeader(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeHeader err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("valid minimums", func(t *testing.T) {
		for _, b := range [][]byte{be32(record.FixedSize, record.MagicMessage), be32(record.MinBlankSize, record.MagicBlank)} {
			if _, err := record.DecodeHeader(b); err != nil {
				t.Fatalf("DecodeHeader(%x): %v", b, err)
			}
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	good := mustEncode(t, fullMessage())
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated header", good[:5], record.ErrShort},
		{"truncated body", good[:len(good)-1], record.ErrShort},
		{"truncated to fixed size", good[:record.FixedSize], record.ErrShort},
		{"blank record", record.AppendBlank(nil, 64, 1), record.ErrMagic},
		{"garbage", []byte("this is not a record at all"), record.ErrMagic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := record.Decode(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("Decode err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeRejectsNonCanonical builds records whose CRC is valid but whose
// property block is not what Append writes. Decode must refuse them: a
// record Decode accepts must re-encode to the same bytes, or the verifier
// and replicas could disagree about what is stored.
func TestDecodeRejectsNonCanonical(t *testing.T) {
	tests := []struct {
		name  string
		props [][2]string
	}{
		{"unsorted property keys", [][2]string{{"b", "1"}, {"a", "2"}}},
		{"duplicate property keys", [][2]string{{"a", "1"}, {"a", "2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeRaw(rawRecord{topic: "t", props: tc.props, body: []byte("b")})
			m, _, err := record.Decode(b)
			if err == nil {
				t.Fatalf("Decode accepted a non-canonical record and returned %+v (re-encodes equal: %v)",
					m, bytes.Equal(record.Append(nil, &m), b))
			}
			if !errors.Is(err, record.ErrFormat) {
				t.Fatalf("Decode err = %v, want ErrFormat", err)
			}
		})
	}
	t.Run("raw encoder matches Append", func(t *testing.T) {
		raw := encodeRaw(rawRecord{topic: "t", tags: "tg", keys: []string{"k"}, props: [][2]string{{"a", "1"}, {"b", "2"}}, body: []byte("b")})
		m := &record.Message{Topic: "t", Tags: "tg", Keys: []string{"k"}, Properties: map[string]string{"a": "1", "b": "2"}, Body: []byte("b")}
		if enc := record.Append(nil, m); !bytes.Equal(raw, enc) {
			t.Fatalf("test encoder out of date with the format:\n raw %x\nwant %x", raw, enc)
		}
	})
}

func TestCheck(t *testing.T) {
	long := strings.Repeat("x", 0x10000)
	tests := []struct {
		name string
		msg  *record.Message
		want error
	}{
		{"ok", fullMessage(), nil},
		{"max topic", &record.Message{Topic: strings.Repeat("t", record.MaxTopicLen)}, nil},
		{"topic too long", &record.Message{Topic: strings.Repeat("t", record.MaxTopicLen+1)}, record.ErrTooLarge},
		{"tag too long", &record.Message{Tags: long}, record.ErrTooLarge},
		{"key too long", &record.Message{Keys: []string{long}}, record.ErrTooLarge},
		{"property value too long", &record.Message{Properties: map[string]string{"k": long}}, record.ErrTooLarge},
		{"properties block too long", &record.Message{Tags: strings.Repeat("x", record.MaxPropsLen)}, record.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := record.Check(tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("Check err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTagHashIsFNV1a64 pins TagHash to FNV-1a 64 (the ConsumeQueue format)
// and checks it does not allocate: it runs for every message.
func TestTagHashIsFNV1a64(t *testing.T) {
	for _, tag := range []string{"a", "TagA", "订单", "x|y"} {
		h := fnv.New64a()
		h.Write([]byte(tag))
		if got, want := record.TagHash(tag), h.Sum64(); got != want {
			t.Fatalf("TagHash(%q) = %x, want %x", tag, got, want)
		}
	}
	var sink uint64
	if n := testing.AllocsPerRun(100, func() { sink += record.TagHash("TagA") }); n != 0 {
		t.Fatalf("TagHash allocates %v times", n)
	}
	_ = sink
}
