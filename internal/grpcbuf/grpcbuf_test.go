package grpcbuf

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/grpc/mem"
)

func TestTierFor(t *testing.T) {
	for _, c := range []struct{ size, tier int }{
		{0, 0}, {1, 0}, {256, 0}, {257, 1}, {512, 1}, {513, 2},
		{4096, 4}, {4097, 5}, {1 << 20, 12}, {1<<20 + 1, 13},
		{1 << maxExp, maxExp - minExp}, {1<<maxExp + 1, -1},
	} {
		if got := tierFor(c.size); got != c.tier {
			t.Errorf("tierFor(%d) = %d, want %d", c.size, got, c.tier)
		}
	}
}

// Whatever was put back, and whatever sync.Pool dropped, Get(n) returns a
// buffer of length n: gRPC reads and writes exactly that many bytes.
func TestGetAlwaysFitsTheSize(t *testing.T) {
	p := newPool()
	rng := rand.New(rand.NewPCG(1, 2))
	var held []*[]byte
	for range 4000 {
		switch rng.IntN(4) {
		case 0: // a buffer not from the pool, of any capacity
			b := make([]byte, rng.IntN(3<<20))
			p.Put(&b)
		case 1: // a prefix of a pooled buffer
			if len(held) > 0 {
				b := held[len(held)-1]
				held = held[:len(held)-1]
				*b = (*b)[:rng.IntN(len(*b)+1)]
				p.Put(b)
			}
		default:
			n := rng.IntN(3 << 20)
			if rng.IntN(50) == 0 {
				n = 1<<maxExp + rng.IntN(1<<20)
			}
			b := p.Get(n)
			if len(*b) != n || cap(*b) < n {
				t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
			}
			if tr := tierFor(n); tr >= 0 && cap(*b) != 1<<(tr+minExp) {
				t.Fatalf("Get(%d): cap %d, want the tier's %d", n, cap(*b), 1<<(tr+minExp))
			}
			held = append(held, b)
		}
	}
}

// A recycled buffer is handed out as it was left: the point of the pool.
func TestRecycledBufferIsNotCleared(t *testing.T) {
	p := newPool()
	for range 100 { // sync.Pool may drop a Put (always under -race, sometimes)
		b := p.Get(3000)
		for i := range *b {
			(*b)[i] = 0xAB
		}
		p.Put(b)
		c := p.Get(2000)
		if c != b {
			continue
		}
		if got := (*c)[:3000]; got[0] != 0xAB || got[2999] != 0xAB {
			t.Fatalf("recycled buffer was cleared")
		}
		return
	}
	t.Skip("sync.Pool never returned the buffer put back")
}

func TestInstall(t *testing.T) {
	Install()
	if mem.DefaultBufferPool() != Pool {
		t.Fatalf("gRPC's default buffer pool is not grpcbuf.Pool")
	}
}

// BenchmarkGetPut compares a Get and Put of one produce request's buffer
// (4 x 500 of 1 KiB: about 0.5 MB) in this pool and in a pool built like
// gRPC's default (mem.NewBinaryTieredBufferPool with its tiers), which
// clears the whole 1 MiB buffer on every reuse.
func BenchmarkGetPut(b *testing.B) {
	def, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 20)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name string
		pool mem.BufferPool
	}{{"grpcbuf", newPool()}, {"grpc-default", def}} {
		for _, size := range []int{4 << 10, 530_000} {
			b.Run(fmt.Sprintf("pool=%s/size=%d", p.name, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				for range b.N {
					buf := p.pool.Get(size)
					(*buf)[0] = 1
					p.pool.Put(buf)
				}
			})
		}
	}
}
