package keyindex

import "testing"

// FuzzDecodeHeader: arbitrary bytes read back as a header copy never panic,
// and whatever is accepted re-encodes to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	b := make([]byte, headerSize)
	h := header{sealed: true, sequence: 3, beginTime: 1, endTime: 2, beginPhys: 10, endPhys: 20, covered: 21, count: 4}
	h.encode(b)
	f.Add(b)
	f.Add(make([]byte, headerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok, err := decodeHeader(b)
		if !ok || err != nil {
			return
		}
		out := make([]byte, headerSize)
		h.encode(out)
		if string(out) != string(b[:headerSize]) {
			t.Fatalf("accepted header does not re-encode to the same bytes")
		}
	})
}

// FuzzDecodeEntry: any 20 bytes decode without panicking and round-trip.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(make([]byte, entrySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < entrySize {
			return
		}
		e := decodeEntry(b)
		out := make([]byte, entrySize)
		e.encode(out)
		if string(out) != string(b[:entrySize]) {
			t.Fatalf("entry does not round-trip")
		}
	})
}
