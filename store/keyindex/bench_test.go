package keyindex

import (
	"math/rand/v2"
	"testing"
)

var benchOpts = Options{Slots: 1 << 16, EntriesPerFile: 1 << 20}

func BenchmarkAdd(b *testing.B) {
	x := openT(b, b.TempDir(), benchOpts)
	defer x.Close()
	r := rand.New(rand.NewPCG(1, 2))
	batch := make([]Item, 64)
	phys := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range batch {
			phys += 256
			batch[i] = Item{Hash: r.Uint32(), Phys: phys, StoreTime: 1_700_000_000_000 + phys/1000}
		}
		if err := x.Add(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkLookup(b *testing.B) {
	x := openT(b, b.TempDir(), Options{Slots: 1 << 12, EntriesPerFile: 1 << 15})
	defer x.Close()
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint32, 1024)
	for i := range keys {
		keys[i] = r.Uint32()
	}
	items := make([]Item, 100_000)
	for i := range items {
		items[i] = Item{Hash: keys[r.IntN(len(keys))], Phys: int64(i+1) * 100, StoreTime: int64(i) * 10}
	}
	if err := x.Add(items); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Lookup(keys[r.IntN(len(keys))], 0, 1<<40, 32); err != nil {
			b.Fatal(err)
		}
	}
}
