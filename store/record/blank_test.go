package record_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

func TestBlankTrailerRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ts   int64
	}{
		{"minimum size", record.MinBlankSize, 1_700_000_000_000},
		{"odd size", record.MinBlankSize + 13, 1},
		{"page", 4096, 0},
		{"negative timestamp", 100, -1},
		{"max timestamp", 100, 1<<63 - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xAA, 0xBB}
			b := record.AppendBlank(bytes.Clone(prefix), tc.n, tc.ts)
			if len(b) != len(prefix)+tc.n || !bytes.HasPrefix(b, prefix) {
				t.Fatalf("AppendBlank wrote %d bytes (prefix kept: %v), want %d", len(b)-len(prefix), bytes.HasPrefix(b, prefix), tc.n)
			}
			blank := b[len(prefix):]
			h, err := record.DecodeHeader(blank)
			if err != nil || h.Size != tc.n || h.Magic != record.MagicBlank {
				t.Fatalf("DecodeHeader = %+v, %v; want size %d, blank magic", h, err, tc.n)
			}
			ts, err := record.DecodeTrailer(blank[tc.n-record.TrailerSize:])
			if err != nil || ts != tc.ts {
				t.Fatalf("DecodeTrailer = %d, %v; want %d", ts, err, tc.ts)
			}
		})
	}
}

func TestAppendBlankOverwritesReusedBuffer(t *testing.T) {
	dirty := bytes.Repeat([]byte{0xEE}, 256)
	b := record.AppendBlank(dirty[:0], 64, 9)
	want := record.AppendBlank(nil, 64, 9)
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendBlank into a dirty buffer left old bytes:\n got %x\nwant %x", b, want)
	}
}

func TestDecodeTrailerErrors(t *testing.T) {
	good := record.AppendBlank(nil, record.MinBlankSize, 12345)[record.MinBlankSize-record.TrailerSize:]
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, record.ErrShort},
		{"one short", good[:record.TrailerSize-1], record.ErrShort},
		{"zeros", make([]byte, record.TrailerSize), record.ErrMagic},
		{"timestamp flipped", flip(3), record.ErrCRC},
		{"crc flipped", flip(9), record.ErrCRC},
		{"magic flipped", flip(14), record.ErrMagic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := record.DecodeTrailer(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeTrailer err = %v, want %v", err, tc.want)
			}
		})
	}
}
