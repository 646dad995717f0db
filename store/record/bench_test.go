package record_test

import (
	"testing"

	"github.com/raftmq/raftmq/store/record"
)

func BenchmarkAppend(b *testing.B) {
	m := fullMessage()
	buf := make([]byte, 0, record.Size(m))
	b.SetBytes(int64(record.Size(m)))
	b.ReportAllocs()
	for b.Loop() {
		buf = record.Append(buf[:0], m)
	}
}

func BenchmarkDecode(b *testing.B) {
	enc := record.Append(nil, fullMessage())
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := record.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
