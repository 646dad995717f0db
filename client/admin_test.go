package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestAdmin(t *testing.T) {
	cl := startCluster(t, 2)
	// The first seed is down: admin calls move on to the next one.
	c := dial(t, []string{"127.0.0.1:1", cl.nodes[0].Addr()})
	ctx := context.Background()
	createTopic(t, c, "t", 2)
	createTopic(t, c, "t", 2) // same queue count: no error
	if err := c.CreateTopic(ctx, "t", 3); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("CreateTopic with another queue count: %v, want ErrAlreadyExists", err)
	}
	if err := c.CreateTopic(ctx, "", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CreateTopic with no name: %v, want ErrInvalidArgument", err)
	}
	topics, err := c.ListTopics(ctx)
	if err != nil || len(topics) != 1 || topics[0].GetName() != "t" || topics[0].GetQueues() != 2 {
		t.Errorf("ListTopics: %v %v", topics, err)
	}
	d, err := c.DescribeTopic(ctx, "t")
	if err != nil || len(d.GetRoutes()) != 2 || d.GetRoutes()[0].GetLeaderAddr() != cl.nodes[0].Addr() {
		t.Errorf("DescribeTopic: %v %v", d, err)
	}

	p := newProducer(t, c)
	res, err := p.Send(ctx, "t", &Message{Body: []byte("hello"), Keys: []string{"order-1"}, Tags: "tag", Properties: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GetMessage(ctx, res[0].MsgID)
	if err != nil || string(m.Body) != "hello" || m.Tags != "tag" || m.Properties["a"] != "b" || m.QueueOffset != res[0].QueueOffset {
		t.Errorf("GetMessage: %+v %v", m, err)
	}
	ms, err := c.QueryByKey(ctx, "t", "order-1", time.Time{}, time.Time{}, 0)
	if err != nil || len(ms) != 1 || ms[0].MsgID != res[0].MsgID {
		t.Errorf("QueryByKey: %v %v", ms, err)
	}
	_, err = c.GetMessage(ctx, "g0:00000000000000FF")
	if !errors.Is(err, ErrNotFound) || status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "g0:00000000000000FF") {
		t.Errorf("GetMessage of an unknown id: %v, want ErrNotFound with the server's message", err)
	}

	q := res[0].QueueID
	if err := commitOffset(ctx, c, "g", "t", q, 1); err != nil {
		t.Fatal(err)
	}
	offs, err := c.GetOffsets(ctx, "g", "t")
	if err != nil || len(offs) != 1 || offs[0].GetOffset() != 1 {
		t.Errorf("GetOffsets: %v %v", offs, err)
	}
	lag, err := c.GroupLag(ctx, "g", "t")
	if err != nil || lag.GetTotalLag() != 0 || len(lag.GetQueues()) != 2 {
		t.Errorf("GroupLag: %v %v", lag, err)
	}

	nodes, err := c.ClusterStatus(ctx, cl.nodes[1].Addr())
	if err != nil || len(nodes) != 2 || nodes[0].GetRole() != "leader" {
		t.Errorf("ClusterStatus: %v %v", nodes, err)
	}
	leader, err := c.TransferLeadership(ctx, "", cl.nodes[1].Addr())
	if err != nil || leader != cl.nodes[1].Addr() {
		t.Errorf("TransferLeadership: %q %v", leader, err)
	}

	if err := c.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTopic(ctx, "t"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DescribeTopic after DeleteTopic: %v, want ErrNotFound", err)
	}
}

// commitOffset commits one offset as a consumer would.
func commitOffset(ctx context.Context, c *Client, group, topic string, queue uint32, off uint64) error {
	cs, err := NewConsumer(c, group)
	if err != nil {
		return err
	}
	key := queueKey{topic, queue}
	cs.offsets.init(key, 0)
	cs.offsets.advance(key, off)
	return cs.commit(ctx, nil)
}

func TestDialAndClose(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, []string{" ", ""}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Dial without seeds: %v, want ErrInvalidArgument", err)
	}
	if _, err := Dial(ctx, []string{"x:1"}, WithBackoff(time.Second, time.Millisecond)); err == nil {
		t.Error("Dial accepted a backoff whose max is below its initial wait")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Dial(cancelled, []string{"x:1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a done context: %v", err)
	}
	c, err := Dial(ctx, []string{"127.0.0.1:1"}, testOptions(WithMaxRetries(1))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTopics(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ListTopics with no server: %v, want ErrUnavailable", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTopics(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("ListTopics after Close: %v, want ErrClosed", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{0, 5 * time.Millisecond, 10 * time.Millisecond},
		{1, 10 * time.Millisecond, 20 * time.Millisecond},
		{3, 40 * time.Millisecond, 80 * time.Millisecond},
		{10, 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		for range 100 {
			d := backoffDelay(10*time.Millisecond, 100*time.Millisecond, tt.n)
			if d < tt.min || d > tt.max {
				t.Fatalf("backoffDelay(n=%d) = %v, want within [%v, %v]", tt.n, d, tt.min, tt.max)
			}
		}
	}
}
