package broker

import (
	"context"
	"sync"
	"sync/atomic"
)

// batcher is the group-commit loop shared by produce and offset commits.
// Callers hand in one item each (submit); one goroutine (run) takes the
// first waiting item, then every other item already waiting, up to
// maxCount units and maxBytes bytes, and applies them all as ONE Raft
// entry. While that apply is in flight, new callers wait in submit, so
// the next batch holds everything that arrived meanwhile: the busier the
// broker, the larger the batches. At most depth applies are in flight
// (each in its own goroutine, owned by run, which waits for them before
// returning).
//
// An item that does not fit the current batch starts the next one. An
// item whose caller's context is done before it is batched is dropped.
type batcher[T, R any] struct {
	in       chan *pending[T, R] // unbuffered: a send succeeds only when run takes it
	maxCount int
	maxBytes int
	measure  func(T) (count, bytes int)
	apply    func(items []T) ([]R, error) // one result per item
	stop     <-chan struct{}
	slots    chan struct{} // one token per apply in flight (cap = depth)
	flying   sync.WaitGroup

	// waiting counts callers in submit that have not yet handed their item
	// over (tests use it to know a batch is forming).
	waiting atomic.Int64
}

// pending is one caller's item and where its result goes.
type pending[T, R any] struct {
	ctx  context.Context
	item T
	done chan outcome[R] // buffered 1: run never blocks on a caller
}

type outcome[R any] struct {
	res R
	err error
}

func newBatcher[T, R any](maxCount, maxBytes, depth int, measure func(T) (int, int), apply func([]T) ([]R, error), stop <-chan struct{}) *batcher[T, R] {
	return &batcher[T, R]{
		slots:    make(chan struct{}, max(depth, 1)),
		in:       make(chan *pending[T, R]),
		maxCount: maxCount,
		maxBytes: maxBytes,
		measure:  measure,
		apply:    apply,
		stop:     stop,
	}
}

// submit queues item for the next batch and waits for its result. If ctx
// ends after the item was handed over, the outcome is unknown to the
// caller: the batch may still be applied.
func (q *batcher[T, R]) submit(ctx context.Context, item T) (R, error) {
	var zero R
	p := &pending[T, R]{ctx: ctx, item: item, done: make(chan outcome[R], 1)}
	q.waiting.Add(1)
	select {
	case q.in <- p:
		q.waiting.Add(-1)
	case <-ctx.Done():
		q.waiting.Add(-1)
		return zero, notAppliedError{ctx.Err()} // never handed over
	case <-q.stop:
		q.waiting.Add(-1)
		return zero, notAppliedError{ErrClosed}
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// run is the batching loop; it returns when stop is closed, after the
// apply in flight, failing items not yet applied with ErrClosed.
func (q *batcher[T, R]) run() {
	defer q.flying.Wait()
	var carry *pending[T, R]
	for {
		// Take a pipeline slot before taking the first item: while the
		// pipeline is full, callers wait in submit, and all of them join
		// the next batch.
		select {
		case q.slots <- struct{}{}:
		case <-q.stop:
			if carry != nil {
				carry.done <- outcome[R]{err: ErrClosed}
			}
			return
		}
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-q.in:
			case <-q.stop:
				return
			}
		}
		select {
		case <-q.stop:
			first.done <- outcome[R]{err: ErrClosed}
			return
		default:
		}
		batch, next := q.collect(first)
		carry = next
		if len(batch) == 0 {
			<-q.slots
			continue
		}
		q.flying.Add(1)
		go func() {
			defer q.flying.Done()
			defer func() { <-q.slots }()
			q.flush(batch)
		}()
	}
}

// collect builds one batch from first and the items already waiting. It
// returns the first item that did not fit, if any.
func (q *batcher[T, R]) collect(first *pending[T, R]) (batch []*pending[T, R], carry *pending[T, R]) {
	count, bytes := 0, 0
	add := func(p *pending[T, R]) bool {
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome[R]{err: err}
			return true
		}
		c, s := q.measure(p.item)
		if len(batch) > 0 && (count+c > q.maxCount || bytes+s > q.maxBytes) {
			return false
		}
		batch = append(batch, p)
		count += c
		bytes += s
		return true
	}
	add(first)
	for {
		select {
		case p := <-q.in:
			if !add(p) {
				return batch, p
			}
		default:
			return batch, nil
		}
	}
}

// flush applies one batch and hands each caller its result.
func (q *batcher[T, R]) flush(batch []*pending[T, R]) {
	items := make([]T, len(batch))
	for i, p := range batch {
		items[i] = p.item
	}
	res, err := q.apply(items)
	for i, p := range batch {
		if err != nil {
			p.done <- outcome[R]{err: err}
			continue
		}
		p.done <- outcome[R]{res: res[i]}
	}
}
