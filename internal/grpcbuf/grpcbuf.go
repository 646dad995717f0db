// Package grpcbuf is the buffer pool raftmq's gRPC servers and clients
// use for message buffers: power-of-two tiers from 256 B to 8 MiB, like
// gRPC's default pool (google.golang.org/grpc/mem), except that a recycled
// buffer is not cleared before it is handed out again.
//
// gRPC's default pool clears the whole capacity of every buffer it
// recycles, so each 0.5 MB produce request the broker receives, and each
// one a producer marshals, costs a 1 MiB memclr: 8 % of a leader's CPU and
// 5 % of a load generator's under the 4 x 500 benchmark
// (docs/PERFORMANCE.md). Every user of a pooled buffer inside gRPC fills
// the length it asked for before reading it (a frame is read with
// io.ReadFull, a message is marshalled or copied into it), which is why
// gRPC itself uses uncleared pools for its ALTS record buffers; a buffer
// only ever holds bytes of this process's own messages. (The proto codec
// marshals into a buffer of the size it has just computed; only a message
// changed concurrently, itself a data race, could leave part of it
// unwritten, and then old bytes would go out where zeros did before.)
//
// The pool is the mem.BufferPool interface of google.golang.org/grpc/mem,
// installed through google.golang.org/grpc/experimental: BufferPool and
// WithBufferPool for a server's or connection's receive path, and
// SetDefaultBufferPool (Install) for the proto codec's marshal buffers,
// which only the process-wide default reaches.
package grpcbuf

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

const (
	minExp = 8  // 256 B, the smallest tier
	maxExp = 23 // 8 MiB, above the largest request or response
)

// Pool is the process's shared uncleared buffer pool.
var Pool mem.BufferPool = newPool()

var _ mem.BufferPool = (*pool)(nil)

// pool holds one sync.Pool per power of two in [minExp, maxExp]; a buffer
// of tier e has capacity exactly 1<<e. Larger requests are allocated and
// dropped.
type pool struct {
	tiers [maxExp - minExp + 1]sync.Pool
}

func newPool() *pool { return &pool{} }

// tierFor returns the index of the smallest tier holding size bytes, or -1
// when size is above the largest tier.
func tierFor(size int) int {
	if size <= 1<<minExp {
		return 0
	}
	e := bits.Len(uint(size - 1))
	if e > maxExp {
		return -1
	}
	return e - minExp
}

// Get returns a buffer of length size. Its bytes are whatever the previous
// user left in it.
func (p *pool) Get(size int) *[]byte {
	t := tierFor(size)
	if t < 0 {
		b := make([]byte, size)
		return &b
	}
	if v, ok := p.tiers[t].Get().(*[]byte); ok {
		*v = (*v)[:size]
		return v
	}
	b := make([]byte, size, 1<<(t+minExp))
	return &b
}

// Put returns a buffer obtained from Get (or a prefix of it) to its tier.
// Buffers whose capacity is not a tier's are dropped.
func (p *pool) Put(buf *[]byte) {
	c := cap(*buf)
	if c < 1<<minExp || c > 1<<maxExp || c&(c-1) != 0 {
		return
	}
	p.tiers[bits.Len(uint(c))-1-minExp].Put(buf)
}

var installOnce sync.Once

// Install makes Pool gRPC's process-wide default buffer pool, which the
// proto codec marshals into. Programs call it once at start, before they
// create any gRPC server or connection; a library must not.
func Install() {
	installOnce.Do(func() { experimental.SetDefaultBufferPool(Pool) })
}
