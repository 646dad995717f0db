package cqueue

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		hex  string // golden encoding: a change here is a format change
	}{
		{"small", Entry{Offset: 1, Size: 2, TagHash: 3},
			"0000000000000001" + "00000002" + "0000000000000003"},
		{"big-endian", Entry{Offset: 0x0102030405060708, Size: 0x090A0B0C, TagHash: 0x0D0E0F1011121314},
			"0102030405060708" + "090a0b0c" + "0d0e0f1011121314"},
		{"max", Entry{Offset: math.MaxInt64, Size: math.MaxUint32, TagHash: math.MaxUint64},
			"7fffffffffffffff" + "ffffffff" + "ffffffffffffffff"},
		{"zero", Entry{}, "0000000000000000" + "00000000" + "0000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("xy")
			b := tt.e.AppendTo(prefix)
			if !bytes.Equal(b[:2], prefix) || len(b) != 2+EntrySize {
				t.Fatalf("AppendTo did not append %d bytes to the prefix: %x", EntrySize, b)
			}
			if got := hex.EncodeToString(b[2:]); got != tt.hex {
				t.Errorf("encoding = %s, want %s", got, tt.hex)
			}
			// DecodeEntry reads only the first EntrySize bytes.
			if got := DecodeEntry(append(b[2:], 0xff, 0xff)); got != tt.e {
				t.Errorf("DecodeEntry = %+v, want %+v", got, tt.e)
			}
		})
	}
}

func TestDecodeEntryShortPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("DecodeEntry of 19 bytes did not panic")
		}
	}()
	DecodeEntry(make([]byte, EntrySize-1))
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		epf  int
		ok   bool
	}{
		{"default", DefaultOptions().EntriesPerFile, true},
		{"one", 1, true},
		{"zero", 0, false},
		{"negative", -1, false},
		{"too big", maxEntriesPerFile + 1, false},
		{"biggest", maxEntriesPerFile, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Options{EntriesPerFile: tt.epf}.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate(%d) = %v, want ok=%v", tt.epf, err, tt.ok)
			}
		})
	}
	if DefaultOptions().EntriesPerFile != 300000 {
		t.Errorf("default EntriesPerFile = %d, want 300000", DefaultOptions().EntriesPerFile)
	}
}
