package cqueue

import (
	"strconv"
	"testing"
)

func BenchmarkPut(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			q, _ := newQueue(b, DefaultEntriesPerFile)
			es := entriesFor(0, uint64(batch))
			b.SetBytes(int64(batch * EntrySize))
			b.ReportAllocs()
			var off uint64
			for b.Loop() {
				if err := q.Put(off, es); err != nil {
					b.Fatal(err)
				}
				off += uint64(batch)
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const n = 100000
	q, _ := newQueue(b, DefaultEntriesPerFile/10) // so some Gets span two files
	putRange(b, q, 0, n, 1000)
	buf := make([]Entry, 0, 32)
	b.SetBytes(32 * EntrySize)
	b.ReportAllocs()
	var from uint64
	for b.Loop() {
		got, err := q.Get(from, 32, buf)
		if err != nil || len(got) != 32 {
			b.Fatalf("Get(%d) = %d entries, %v", from, len(got), err)
		}
		from = (from + 32) % (n - 32)
	}
}
