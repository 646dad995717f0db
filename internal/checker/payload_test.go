package checker

import (
	"bytes"
	"fmt"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		run  string
		key  msgKey
		size int
	}{
		{"r1", msgKey{0, 0}, 0},
		{"abcDEF123", msgKey{3, 12345}, 256},
		{"r", msgKey{63, 1 << 40}, 1024},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/%d", tc.run, tc.key.Seq, tc.size), func(t *testing.T) {
			body := encodeBody(tc.run, 42, tc.key, tc.size)
			if tc.size > minBodySize && len(body) != tc.size {
				t.Fatalf("body of %d bytes, want %d", len(body), tc.size)
			}
			d := decodeBody(body)
			if !d.Valid || d.Run != tc.run || d.Key != tc.key {
				t.Fatalf("decoded %+v from %q", d, body)
			}
			if !bytes.Equal(body, encodeBody(tc.run, 42, tc.key, tc.size)) {
				t.Fatal("encoding is not deterministic")
			}
		})
	}
}

func TestPayloadCorruption(t *testing.T) {
	good := encodeBody("run", 1, msgKey{2, 9}, 128)
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not ours", []byte("hello world")},
		{"truncated", good[:len(good)-1]},
		{"flipped pad byte", flip(good, len(good)-3)},
		{"flipped seq", flip(good, bytes.Index(good, []byte("|9|"))+1)},
		{"flipped sum", flip(good, bytes.LastIndexByte(good, '|')-1)},
		{"bad producer", []byte("rmqc1|run|x|9|0000000000000000|abc")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := decodeBody(tc.body); d.Valid {
				t.Fatalf("corrupt body %q decoded as valid: %+v", tc.body, d)
			}
		})
	}
}

// flip returns a copy of b with byte i changed.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}
