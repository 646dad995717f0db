package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cluster is a fake cluster: one Broker served by some nodes.
type cluster struct {
	b     *fakebroker.Broker
	nodes []*fakebroker.Server
}

// startCluster starts n nodes of broker group g0; node 0 is the leader.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	cl := &cluster{b: fakebroker.New()}
	for range n {
		s, err := fakebroker.Serve(cl.b, "g0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		cl.nodes = append(cl.nodes, s)
	}
	cl.setLeader("g0", 0)
	return cl
}

// setLeader advertises node i as the leader of group (all nodes replicas).
func (cl *cluster) setLeader(group string, i int) {
	cl.b.SetGroup(fakebroker.Group{Name: group, Leader: cl.nodes[i].Addr(), Replicas: cl.addrs()})
}

func (cl *cluster) addrs() []string {
	var out []string
	for _, s := range cl.nodes {
		out = append(out, s.Addr())
	}
	return out
}

// calls sums method's calls over every node.
func (cl *cluster) calls(method string) int {
	n := 0
	for _, s := range cl.nodes {
		n += s.Calls(method)
	}
	return n
}

// testOptions are fast retries for tests.
func testOptions(extra ...Option) []Option {
	return append([]Option{
		WithBackoff(time.Millisecond, 5*time.Millisecond),
		WithRequestTimeout(10 * time.Second),
		WithRetryTimeout(20 * time.Second),
	}, extra...)
}

func dial(t *testing.T, addrs []string, opts ...Option) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addrs, testOptions(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newProducer(t *testing.T, c *Client, opts ...ProducerOption) *Producer {
	t.Helper()
	p, err := NewProducer(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// newConsumer returns a consumer with fast heartbeats and commits.
func newConsumer(t *testing.T, c *Client, group string, opts ...ConsumerOption) *Consumer {
	t.Helper()
	opts = append([]ConsumerOption{
		WithHeartbeatInterval(10 * time.Millisecond),
		WithCommitInterval(10 * time.Millisecond),
		WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond),
	}, opts...)
	cs, err := NewConsumer(c, group, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func createTopic(t *testing.T, c *Client, name string, queues uint32) {
	t.Helper()
	if err := c.CreateTopic(context.Background(), name, queues); err != nil {
		t.Fatal(err)
	}
}

// sendN sends n messages with bodies prefix0..prefix(n-1), one per Send.
func sendN(t *testing.T, p *Producer, topic, prefix string, n int) []SendResult {
	t.Helper()
	var out []SendResult
	for i := range n {
		r, err := p.Send(context.Background(), topic, &Message{Body: fmt.Appendf(nil, "%s%d", prefix, i)})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		out = append(out, r...)
	}
	return out
}

// collector records what a handler received.
type collector struct {
	mu  sync.Mutex // guards got
	got []*Message
}

func (c *collector) handle(_ context.Context, m *Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m)
	return nil
}

func (c *collector) messages() []*Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// consumeN runs a consumer of group on topic until it has received at
// least n messages, closes it and returns what it received.
func consumeN(t *testing.T, c *Client, group, topic string, n int) []*Message {
	t.Helper()
	var col collector
	cs := newConsumer(t, c, group)
	if err := cs.Subscribe(topic, col.handle); err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "every message consumed", func() bool { return len(col.messages()) >= n })
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	return col.messages()
}

// distinct returns the distinct message ids received.
func (c *collector) distinct() map[string]bool {
	out := make(map[string]bool)
	for _, m := range c.messages() {
		out[m.MsgID] = true
	}
	return out
}

// assigned returns the queues a consumer currently consumes.
func (cs *Consumer) assigned() []uint32 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var qs []uint32
	for k := range cs.workers {
		qs = append(qs, k.queue)
	}
	slices.Sort(qs)
	return qs
}

// dirtyOrKnown reports the next offset of key, if the queue has started.
func (t *offsetTable) dirtyOrKnown(key queueKey) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	off, ok := t.next[key]
	return off, ok
}
