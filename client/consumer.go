package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
)

// Handler consumes one message. Returning nil acknowledges it; an error
// hands the same message to the handler again after a backoff, before any
// later message of its queue (at-least-once, per-queue order kept). ctx
// ends when the queue is revoked or the consumer closes; a message whose
// handler did not succeed by then is delivered again later, possibly to
// another member. Revocation and Close wait for a running handler, so it
// should return promptly once ctx ends. Handlers of different queues run
// concurrently.
type Handler func(ctx context.Context, m *Message) error

// consumer lifecycle states.
const (
	stateNew = iota
	stateStarted
	stateClosed
)

// queueKey names one queue of one topic.
type queueKey struct {
	topic string
	queue uint32
}

// queueWorker is the goroutine consuming one queue.
type queueWorker struct {
	key    queueKey
	group  string // broker group owning the queue
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
}

// Consumer consumes topics as a member of a consumer group. Subscribe,
// then Start, then Close.
type Consumer struct {
	c       *Client
	group   string
	cfg     consumerConfig
	log     *slog.Logger
	offsets *offsetTable

	mu sync.Mutex // guards handlers, state, cancel and workers
	// handlers maps each subscribed topic to its handler.
	handlers map[string]Handler
	state    int
	// cancel stops every goroutine of a started consumer.
	cancel context.CancelFunc
	// workers holds the running queue workers.
	workers map[queueKey]*queueWorker

	wg sync.WaitGroup // heartbeat loop, commit loop, queue workers
}

// NewConsumer returns a Consumer of group (the consumer group name).
func NewConsumer(c *Client, group string, opts ...ConsumerOption) (*Consumer, error) {
	if group == "" {
		return nil, clientError("NewConsumer", codes.InvalidArgument, "empty consumer group")
	}
	cfg := defaultConsumerConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("client: consumer: %w", err)
	}
	if cfg.memberID == "" {
		host, _ := os.Hostname()
		cfg.memberID = fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
	}
	return &Consumer{
		c:        c,
		group:    group,
		cfg:      cfg,
		log:      c.log.With("group", group, "member", cfg.memberID),
		offsets:  newOffsetTable(),
		handlers: make(map[string]Handler),
		workers:  make(map[queueKey]*queueWorker),
	}, nil
}

// MemberID returns the id this member uses in its group.
func (cs *Consumer) MemberID() string { return cs.cfg.memberID }

// Subscribe registers handler for topic. It must be called before Start,
// once per topic.
func (cs *Consumer) Subscribe(topic string, handler Handler) error {
	if topic == "" || handler == nil {
		return clientError("Subscribe", codes.InvalidArgument, "empty topic or nil handler")
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case cs.state == stateClosed:
		return ErrClosed
	case cs.state != stateNew:
		return clientError("Subscribe", codes.FailedPrecondition, "consumer already started")
	case cs.handlers[topic] != nil:
		return clientError("Subscribe", codes.InvalidArgument, "topic %q already subscribed", topic)
	}
	cs.handlers[topic] = handler
	return nil
}

// Start looks up the route of every subscribed topic (ctx bounds this) and
// starts consuming in the background until Close. In Clustering mode it
// starts heartbeating and consumes the queues the broker assigns; in
// Broadcasting mode it consumes every queue.
func (cs *Consumer) Start(ctx context.Context) error {
	topics, err := cs.startTopics()
	if err != nil {
		return err
	}
	routes := make(map[string]*topicRoute, len(topics))
	for _, t := range topics {
		rt, err := cs.c.route(ctx, t)
		if err != nil {
			return err
		}
		routes[t] = rt
	}
	bg, cancel := context.WithCancel(context.Background())
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.state != stateNew {
		cancel()
		return ErrClosed
	}
	cs.state, cs.cancel = stateStarted, cancel
	if cs.cfg.mode == Broadcasting {
		for _, t := range topics {
			for _, g := range routes[t].groups {
				for _, q := range g.queues {
					cs.startWorkerLocked(bg, queueKey{t, q}, g.name, 0, false)
				}
			}
		}
		return nil
	}
	cs.wg.Add(2)
	go cs.heartbeatLoop(bg)
	go cs.commitLoop(bg)
	return nil
}

// startTopics checks that Start may run and returns the subscribed topics.
func (cs *Consumer) startTopics() ([]string, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case cs.state == stateClosed:
		return nil, ErrClosed
	case cs.state != stateNew:
		return nil, clientError("Start", codes.FailedPrecondition, "consumer already started")
	case len(cs.handlers) == 0:
		return nil, clientError("Start", codes.InvalidArgument, "no topic subscribed")
	}
	return cs.topicsLocked(), nil
}

func (cs *Consumer) topicsLocked() []string {
	ts := make([]string, 0, len(cs.handlers))
	for t := range cs.handlers {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// startWorkerLocked starts the goroutine consuming key from offset (known
// says whether offset is meaningful; if not, the start position decides).
func (cs *Consumer) startWorkerLocked(parent context.Context, key queueKey, group string, offset uint64, known bool) {
	ctx, cancel := context.WithCancel(parent)
	w := &queueWorker{key: key, group: group, cancel: cancel, done: make(chan struct{})}
	cs.workers[key] = w
	h := cs.handlers[key.topic]
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		defer close(w.done)
		defer cancel()
		cs.consumeQueue(ctx, key, h, offset, known)
	}()
}

// Close stops every queue worker (waiting for running handlers to return),
// commits the offsets consumed so far and leaves the group (Clustering),
// and waits for every goroutine of the consumer. It does not close the
// Client.
func (cs *Consumer) Close() error {
	cs.mu.Lock()
	prev := cs.state
	cs.state = stateClosed
	cancel := cs.cancel
	cs.mu.Unlock()
	if prev != stateStarted {
		return nil
	}
	cancel()
	cs.wg.Wait()
	if cs.cfg.mode == Broadcasting {
		return nil
	}
	ctx, done := context.WithTimeout(context.Background(), cs.c.cfg.requestTimeout)
	defer done()
	return errors.Join(cs.commit(ctx, nil), cs.leave(ctx))
}
