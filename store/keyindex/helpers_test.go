package keyindex

import (
	"errors"
	"flag"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store/vfs"
)

// tiny forces collisions (4 slots) and sealing (10 entries per file).
var vfsOS = vfs.OS()

var tiny = Options{Slots: 4, EntriesPerFile: 10}

func openT(t testing.TB, dir string, opts Options) *Index {
	t.Helper()
	x, err := Open(vfs.OS(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return x
}

// crash drops the Index the way a process crash would: file handles are
// closed without a Flush, so nothing the last durable header does not
// claim may be trusted by the next Open.
func crash(x *Index) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	_ = x.closeFiles()
}

// slotTables counts the slot tables held in memory.
func (x *Index) slotTables() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for _, f := range x.files {
		if f.slots != nil {
			n++
		}
	}
	return n
}

var seedFlag = flag.Uint64("seed", 0, "replay randomized tests with this seed")

func newRand(t testing.TB) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// model is the reference: every item added, in order.
type model struct{ items []Item }

// lookup is what Lookup must return when every store time and every range
// bound is a whole second (then second granularity is exact).
func (m *model) lookup(hash uint32, begin, end int64, limit int) []int64 {
	var out []int64
	for i := len(m.items) - 1; i >= 0; i-- {
		it := m.items[i]
		if it.Hash == hash && it.StoreTime >= begin && it.StoreTime <= end {
			out = append(out, it.Phys)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

func (m *model) below(phys int64) *model {
	n := slices.IndexFunc(m.items, func(it Item) bool { return it.Phys >= phys })
	if n < 0 {
		n = len(m.items)
	}
	return &model{items: slices.Clone(m.items[:n])}
}

// gen produces items with increasing phys and whole-second store times
// that never go backwards, hashes drawn from a few keys.
type gen struct {
	r    *rand.Rand
	keys []uint32
	phys int64
	time int64
}

func newGen(r *rand.Rand, nkeys int) *gen {
	g := &gen{r: r, phys: 1000, time: 1_700_000_000_000}
	for i := range nkeys {
		g.keys = append(g.keys, KeyHash("topic", string(rune('a'+i))))
	}
	return g
}

func (g *gen) next(n int) []Item {
	out := make([]Item, n)
	for i := range out {
		g.phys += 1 + g.r.Int64N(200)
		g.time += 1000 * g.r.Int64N(3)
		out[i] = Item{Hash: g.keys[g.r.IntN(len(g.keys))], Phys: g.phys, StoreTime: g.time}
	}
	return out
}

// addAll adds items in random batches and marks them covered.
func addAll(t testing.TB, x *Index, m *model, r *rand.Rand, items []Item) {
	t.Helper()
	for len(items) > 0 {
		n := min(len(items), 1+r.IntN(25))
		if err := x.Add(items[:n]); err != nil {
			t.Fatalf("Add: %v", err)
		}
		m.items = append(m.items, items[:n]...)
		x.MarkCovered(items[n-1].Phys + 1)
		items = items[n:]
	}
}

// checkAll compares Lookup with the model for every key over several
// ranges and limits.
func checkAll(t testing.TB, x *Index, m *model, g *gen) {
	t.Helper()
	if len(m.items) == 0 {
		return
	}
	t0, t1 := m.items[0].StoreTime, m.items[len(m.items)-1].StoreTime
	mid := t0 + (t1-t0)/2/1000*1000
	ranges := [][2]int64{{0, 1 << 62}, {t0, t0}, {mid, t1}, {t0, mid}, {mid, mid}, {t1 + 1000, t1 + 5000}}
	for _, h := range g.keys {
		for _, rg := range ranges {
			for _, limit := range []int{0, 1, 3} {
				got, err := x.Lookup(h, rg[0], rg[1], limit)
				if err != nil {
					t.Fatalf("Lookup(%#x, %d, %d, %d): %v", h, rg[0], rg[1], limit, err)
				}
				want := m.lookup(h, rg[0], rg[1], limit)
				if !slices.Equal(got, want) {
					t.Fatalf("Lookup(%#x, %d, %d, %d) = %v, want %v", h, rg[0], rg[1], limit, got, want)
				}
			}
		}
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
