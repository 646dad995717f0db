package cqueue

import "testing"

// FuzzDecodeEntry: any EntrySize bytes decode without panicking and
// re-encode to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(Entry{Offset: 1 << 40, Size: 1234, TagHash: 99}.AppendTo(nil))
	f.Add(Filler.AppendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < EntrySize {
			return
		}
		if got := DecodeEntry(b).AppendTo(nil); string(got) != string(b[:EntrySize]) {
			t.Fatalf("entry does not round-trip")
		}
	})
}
