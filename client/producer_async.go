package client

import (
	"context"
	"errors"
	"time"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// batchKey names one SendAsync queue: a topic and the broker group (hence
// the leader) its messages go to.
type batchKey struct{ topic, group string }

// batcher queues SendAsync messages for one batchKey. While a sender
// goroutine owns it (sending), messages that arrive wait in queue and go
// out together in the next Produce: group commit on the client side.
type batcher struct {
	key     batchKey
	queue   []*asyncItem // guarded by Producer.mu
	sending bool         // guarded by Producer.mu
}

// asyncItem is one SendAsync message.
type asyncItem struct {
	ctx  context.Context
	pm   *pb.ProduceMessage
	size int
	cb   func(SendResult, error)
	slot bool // holds a token of Producer.slots
}

// SendAsync queues msg for topic and returns; callback runs exactly once
// with the result. Messages that arrive while a Produce to the same topic
// and broker group is in flight are sent together in the next one, bounded
// by WithBatchMaxMessages and WithBatchMaxBytes. ctx bounds the wait for
// room (WithMaxPending) and the route lookup, and a message whose ctx has
// ended before its batch is sent is dropped with ctx's error; it does not
// bound the batch itself (see WithSendTimeout).
//
// Callbacks of queued messages run on the producer's sender goroutine, in
// send order per topic and group; a failure before queueing (closed
// producer, bad message, unknown topic, ctx done) runs the callback on the
// caller's goroutine before SendAsync returns. callback may be nil.
func (p *Producer) SendAsync(ctx context.Context, topic string, msg *Message, callback func(SendResult, error)) {
	if callback == nil {
		callback = func(SendResult, error) {}
	}
	item := &asyncItem{ctx: ctx, cb: callback}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		callback(SendResult{}, ErrClosed)
		return
	}
	if p.outstanding == 0 {
		p.idle = make(chan struct{})
	}
	p.outstanding++
	p.mu.Unlock()

	if err := checkSend(topic, []*Message{msg}); err != nil {
		p.finish(item, SendResult{}, err)
		return
	}
	select {
	case p.slots <- struct{}{}:
		item.slot = true
	case <-ctx.Done():
		p.finish(item, SendResult{}, ctx.Err())
		return
	}
	rt, err := p.c.route(ctx, topic)
	if errors.Is(err, ErrNotFound) {
		// An unknown topic: one synchronous send lets an auto-creating
		// broker create it (see sendUnrouted); later sends are batched.
		res, err := p.sendUnrouted(ctx, topic, []*Message{msg})
		var r SendResult
		if err == nil {
			r = res[0]
		}
		p.finish(item, r, err)
		return
	}
	if err != nil {
		p.finish(item, SendResult{}, err)
		return
	}
	group, pm, err := place(rt, msg, time.Now())
	if err != nil {
		p.finish(item, SendResult{}, err)
		return
	}
	if group == "" {
		group = p.nextGroup(rt)
	}
	item.pm, item.size = pm, msg.size()
	p.enqueue(batchKey{topic: topic, group: group}, item)
}

// enqueue adds item to its batcher and starts a sender if none runs.
func (p *Producer) enqueue(key batchKey, item *asyncItem) {
	p.mu.Lock()
	b := p.batchers[key]
	if b == nil {
		b = &batcher{key: key}
		p.batchers[key] = b
	}
	b.queue = append(b.queue, item)
	start := !b.sending
	if start {
		b.sending = true
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if start {
		go p.drain(b)
	}
}

// drain sends b's queue batch after batch until it is empty.
func (p *Producer) drain(b *batcher) {
	defer p.wg.Done()
	for {
		batch := p.takeBatch(b)
		if batch == nil {
			return
		}
		p.sendBatch(b.key, batch)
	}
}

// takeBatch removes the next batch from b's queue; when the queue is empty
// it releases b and returns nil.
func (p *Producer) takeBatch(b *batcher) []*asyncItem {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(b.queue) == 0 {
		b.sending = false
		delete(p.batchers, b.key)
		return nil
	}
	n, bytes := 0, 0
	for n < len(b.queue) && n < p.cfg.batchMaxMessages {
		if n > 0 && bytes+b.queue[n].size > p.cfg.batchMaxBytes {
			break
		}
		bytes += b.queue[n].size
		n++
	}
	batch := make([]*asyncItem, n)
	copy(batch, b.queue)
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	return batch
}

// sendBatch sends one batch and runs its callbacks.
func (p *Producer) sendBatch(key batchKey, batch []*asyncItem) {
	live := batch[:0:0]
	pms := make([]*pb.ProduceMessage, 0, len(batch))
	for _, it := range batch {
		if err := it.ctx.Err(); err != nil {
			p.finish(it, SendResult{}, err)
			continue
		}
		live = append(live, it)
		pms = append(pms, it.pm)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.sendTimeout)
	results, err := p.produce(ctx, key.topic, key.group, pms)
	cancel()
	for i, it := range live {
		if err != nil {
			p.finish(it, SendResult{}, err)
		} else {
			p.finish(it, results[i], nil)
		}
	}
}

// finish runs it's callback and releases its slot and outstanding count.
func (p *Producer) finish(it *asyncItem, res SendResult, err error) {
	if it.slot {
		<-p.slots
	}
	it.cb(res, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outstanding--
	if p.outstanding == 0 {
		close(p.idle)
	}
}

// Flush waits until no SendAsync message is pending (every callback has
// run) or ctx ends. Under a steady stream of SendAsync calls it may wait
// for a moment when none is pending.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	if p.outstanding == 0 {
		p.mu.Unlock()
		return nil
	}
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting messages (SendAsync and Send then fail with
// ErrClosed), waits until every pending SendAsync message is sent (each
// batch is bounded by WithSendTimeout) and its callback has run, and stops
// the sender goroutines. It does not close the Client.
func (p *Producer) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.Flush(context.Background())
	p.wg.Wait()
	return err
}
