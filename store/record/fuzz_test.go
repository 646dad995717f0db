package record_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

// FuzzDecode feeds arbitrary bytes to every decoder. None may panic, and
// whatever Decode accepts must re-encode to exactly the bytes it consumed.
// Random bytes almost never carry a valid CRC, so each input is also
// decoded a second time with its size, magic and CRC rewritten: that lets
// the fuzzer reach the field parser behind the checksum.
func FuzzDecode(f *testing.F) {
	for _, tc := range roundTripCases() {
		if len(tc.msg.Body) <= 4096 {
			f.Add(record.Append(nil, tc.msg))
		}
	}
	f.Add(encodeRaw(rawRecord{topic: "t", keys: []string{"a", "b"}, props: [][2]string{{"k1", "v"}, {"k2", "w"}}, body: []byte("x")}))
	// Non-canonical property blocks (unsorted, duplicate keys): the first
	// inputs this fuzzer found that Decode accepted but could not re-encode.
	f.Add(encodeRaw(rawRecord{topic: "t", props: [][2]string{{"b", "1"}, {"a", "2"}}}))
	f.Add(encodeRaw(rawRecord{topic: "t", props: [][2]string{{"a", "1"}, {"a", "1"}}}))
	f.Add(record.AppendBlank(nil, record.MinBlankSize, 7))
	f.Add(record.AppendBlank(nil, 200, -7))
	f.Add(record.Append(record.Append(nil, fullMessage()), &record.Message{Topic: "next"}))
	f.Add([]byte{})
	f.Add([]byte("RMQ1RMQ1RMQ1RMQ1"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := record.DecodeHeader(data); err == nil {
			if h.Magic != record.MagicMessage && h.Magic != record.MagicBlank {
				t.Fatalf("DecodeHeader accepted magic %#x", h.Magic)
			}
		}
		_, _ = record.DecodeTrailer(data)
		checkDecode(t, data)

		if len(data) >= rawCRCStart {
			fixed := bytes.Clone(data)
			binary.BigEndian.PutUint32(fixed[0:], uint32(len(fixed)))
			binary.BigEndian.PutUint32(fixed[4:], record.MagicMessage)
			fixCRC(fixed)
			checkDecode(t, fixed)
		}
	})
}

// checkDecode decodes b and, if Decode accepts it, checks that the message
// re-encodes to the same bytes and agrees with Size.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	m, n, err := record.Decode(b)
	if err != nil {
		return
	}
	if n < record.FixedSize || n > len(b) {
		t.Fatalf("Decode returned size %d for a %d-byte input", n, len(b))
	}
	if record.Size(&m) != n {
		t.Fatalf("Size(decoded) = %d, Decode consumed %d", record.Size(&m), n)
	}
	if again := record.Append(nil, &m); !bytes.Equal(again, b[:n]) {
		i := 0
		for i < min(len(again), n) && again[i] == b[i] {
			i++
		}
		t.Fatalf("decoded %d-byte record re-encodes differently from byte %d on\n  in ...%x\n out ...%x\n%d keys, %d properties",
			n, i, b[i:min(i+32, n)], again[i:min(i+32, len(again))], len(m.Keys), len(m.Properties))
	}
}
