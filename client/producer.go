package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// ProducerOption configures a Producer.
type ProducerOption func(*producerConfig)

// producerConfig is a Producer's complete configuration.
type producerConfig struct {
	// batchMaxMessages and batchMaxBytes bound one SendAsync batch.
	batchMaxMessages int
	batchMaxBytes    int
	// maxPending bounds the SendAsync messages not yet completed; SendAsync
	// blocks while it is reached.
	maxPending int
	// sendTimeout bounds one SendAsync batch including its retries.
	sendTimeout time.Duration
}

func defaultProducerConfig() producerConfig {
	return producerConfig{
		batchMaxMessages: 128,
		batchMaxBytes:    1 << 20,
		maxPending:       10000,
		sendTimeout:      30 * time.Second,
	}
}

func (c *producerConfig) validate() error {
	var errs []error
	if c.batchMaxMessages < 1 {
		errs = append(errs, fmt.Errorf("batch max messages %d must be at least 1", c.batchMaxMessages))
	}
	if c.batchMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("batch max bytes %d must be at least 1", c.batchMaxBytes))
	}
	if c.maxPending < 1 {
		errs = append(errs, fmt.Errorf("max pending %d must be at least 1", c.maxPending))
	}
	if c.sendTimeout <= 0 {
		errs = append(errs, fmt.Errorf("send timeout %v must be positive", c.sendTimeout))
	}
	return errors.Join(errs...)
}

// WithBatchMaxMessages bounds the messages in one SendAsync batch (default
// 128).
func WithBatchMaxMessages(n int) ProducerOption {
	return func(c *producerConfig) { c.batchMaxMessages = n }
}

// WithBatchMaxBytes bounds the estimated bytes of one SendAsync batch
// (default 1 MiB); a single larger message is still sent, alone.
func WithBatchMaxBytes(n int) ProducerOption {
	return func(c *producerConfig) { c.batchMaxBytes = n }
}

// WithMaxPending bounds the SendAsync messages in the producer at once
// (default 10000); SendAsync blocks while the bound is reached.
func WithMaxPending(n int) ProducerOption {
	return func(c *producerConfig) { c.maxPending = n }
}

// WithSendTimeout bounds one SendAsync batch including retries (default
// 30s). The caller's context of SendAsync does not bound the batch, which
// carries other callers' messages.
func WithSendTimeout(d time.Duration) ProducerOption {
	return func(c *producerConfig) { c.sendTimeout = d }
}

// Producer sends messages. Send is synchronous; SendAsync batches. It is
// safe for concurrent use.
type Producer struct {
	c     *Client
	cfg   producerConfig
	slots chan struct{} // one token per pending SendAsync message

	mu sync.Mutex // guards every field below
	// rr is each topic's round-robin counter over broker groups.
	rr map[string]uint64
	// batchers queue SendAsync messages per topic and broker group.
	batchers map[batchKey]*batcher
	// outstanding counts SendAsync messages whose callback has not run;
	// idle is closed when it drops to zero.
	outstanding int
	idle        chan struct{}
	closed      bool

	wg sync.WaitGroup // batch senders

	// id is this producer's random id; seqs hands out the sequence numbers
	// of its requests (idempotent produce, see send).
	id   uint64
	seqs *seqGate
}

// NewProducer returns a Producer sending through c.
func NewProducer(c *Client, opts ...ProducerOption) (*Producer, error) {
	cfg := defaultProducerConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("client: producer: %w", err)
	}
	return &Producer{
		c:        c,
		cfg:      cfg,
		slots:    make(chan struct{}, cfg.maxPending),
		rr:       make(map[string]uint64),
		batchers: make(map[batchKey]*batcher),
		id:       rand.Uint64(),
		seqs:     newSeqGate(),
	}, nil
}

// Send sends msgs to topic as one Produce request (one batch) and returns
// where each was stored, in order. All messages go to one broker group: the
// group of the first message pinned by QueueID (or by ShardingKey on a topic
// spanning several groups), else the next group round robin; a message
// pinned to another group is an ErrInvalidArgument error and nothing is
// sent. An ErrUnknownOutcome error means the messages may have been stored.
func (p *Producer) Send(ctx context.Context, topic string, msgs ...*Message) ([]SendResult, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	if err := checkSend(topic, msgs); err != nil {
		return nil, err
	}
	rt, err := p.c.route(ctx, topic)
	if errors.Is(err, ErrNotFound) {
		return p.sendUnrouted(ctx, topic, msgs)
	}
	if err != nil {
		return nil, err
	}
	group := ""
	pms := make([]*pb.ProduceMessage, len(msgs))
	now := time.Now()
	for i, m := range msgs {
		g, pm, err := place(rt, m, now)
		if err != nil {
			return nil, err
		}
		if g != "" && group != "" && g != group {
			return nil, clientError("Produce", codes.InvalidArgument,
				"batch spans broker groups %q and %q of topic %q; send them separately", group, g, topic)
		}
		if g != "" {
			group = g
		}
		pms[i] = pm
	}
	if group == "" {
		group = p.nextGroup(rt)
	}
	return p.produce(ctx, topic, group, pms)
}

func checkSend(topic string, msgs []*Message) error {
	if topic == "" {
		return clientError("Produce", codes.InvalidArgument, "empty topic")
	}
	if len(msgs) == 0 {
		return clientError("Produce", codes.InvalidArgument, "no messages")
	}
	for i, m := range msgs {
		if m == nil {
			return clientError("Produce", codes.InvalidArgument, "message %d is nil", i)
		}
	}
	return nil
}

// sendUnrouted sends to a topic the cluster has no route for: the request
// goes to a seed, which forwards it to its group's leader. A broker with
// auto-created topics creates it there; otherwise the answer is
// ErrNotFound. The route is looked up afresh next time either way.
func (p *Producer) sendUnrouted(ctx context.Context, topic string, msgs []*Message) ([]SendResult, error) {
	now := time.Now()
	pms := make([]*pb.ProduceMessage, len(msgs))
	for i, m := range msgs {
		if m.QueueID != nil {
			return nil, clientError("Produce", codes.NotFound, "topic %q does not exist (message %d names queue %d)", topic, i, *m.QueueID)
		}
		pms[i] = m.toProduce(now)
	}
	defer p.c.routes.invalidate(topic)
	return p.send(ctx, topic, callSpec{method: "Produce", produce: true}, pms)
}

// produce sends one Produce request to the leader of topic's group.
func (p *Producer) produce(ctx context.Context, topic, group string, pms []*pb.ProduceMessage) ([]SendResult, error) {
	return p.send(ctx, topic, callSpec{method: "Produce", topic: topic, group: group, produce: true}, pms)
}

// send makes one Produce call as spec routes it. The request carries the
// producer's id and a fresh sequence number, and every attempt carries
// the same pair, so the broker stores it at most once: an attempt whose
// outcome is unknown is retried like any other failure.
func (p *Producer) send(ctx context.Context, topic string, spec callSpec, pms []*pb.ProduceMessage) ([]SendResult, error) {
	seq, err := p.seqs.acquire(ctx)
	if err != nil {
		return nil, wrapRPC(ctx, spec.method, "", err, false)
	}
	defer p.seqs.release(seq)
	spec.idempotent = true
	req := &pb.ProduceRequest{Topic: topic, Messages: pms, ProducerId: &p.id, Sequence: &seq}
	resp, err := invoke(ctx, p.c, spec,
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.ProduceResponse, error) {
			return b.Produce(ctx, req, opts...)
		})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(pms) {
		return nil, clientError("Produce", codes.Internal, "broker returned %d results for %d messages", len(resp.GetResults()), len(pms))
	}
	out := make([]SendResult, len(pms))
	for i, r := range resp.GetResults() {
		out[i] = SendResult{MsgID: r.GetMsgId(), QueueID: r.GetQueueId(), QueueOffset: r.GetQueueOffset()}
	}
	return out, nil
}

func (p *Producer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// seqWindow bounds the span of a producer's outstanding sequence numbers:
// a new request waits while its sequence would be seqWindow or more above
// the oldest request still in flight. Brokers remember the last 256
// sequences of a producer (raftfsm's producerWindow), so with this bound a
// request, however late it arrives or is retried, is never too old for
// the broker to tell whether it is a duplicate.
const seqWindow = 128

// seqGate hands out sequence numbers in order and tracks which are still
// in flight.
type seqGate struct {
	mu   sync.Mutex // guards every field below
	next uint64     // next sequence to hand out
	base uint64     // lowest sequence still in flight (next if none)
	done map[uint64]bool
	// moved is closed (and replaced) whenever base advances.
	moved chan struct{}
}

func newSeqGate() *seqGate {
	return &seqGate{done: make(map[uint64]bool), moved: make(chan struct{})}
}

// acquire returns the next sequence number, waiting while seqWindow
// requests' worth of sequences are outstanding.
func (g *seqGate) acquire(ctx context.Context) (uint64, error) {
	for {
		g.mu.Lock()
		if g.next-g.base < seqWindow {
			s := g.next
			g.next++
			g.mu.Unlock()
			return s, nil
		}
		moved := g.moved
		g.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// release marks seq finished (stored, refused, or given up on).
func (g *seqGate) release(seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done[seq] = true
	if seq != g.base {
		return
	}
	for g.done[g.base] {
		delete(g.done, g.base)
		g.base++
	}
	close(g.moved)
	g.moved = make(chan struct{})
}
