package client

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestHungNodeIsLeftBehind: a node that stops answering (paused, not
// dead) must not pin the client. A route lookup that times out at a hung
// seed moves to the next seed, and a produce that timed out at a hung
// leader drops the cached route, so the next send finds the new leader.
func TestHungNodeIsLeftBehind(t *testing.T) {
	cl := startCluster(t, 2)
	c := dial(t, []string{cl.nodes[0].Addr(), cl.nodes[1].Addr()}, WithRequestTimeout(200*time.Millisecond))
	createTopic(t, c, "t", 2)
	p, err := NewProducer(c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Send(ctx, "t", &Message{Body: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	// Node 0 (leader and first seed) hangs; node 1 becomes the leader.
	releaseProduce := cl.nodes[0].Block("Produce")
	defer releaseProduce()
	releaseDescribe := cl.nodes[0].Block("DescribeTopic")
	defer releaseDescribe()
	_, err = p.Send(ctx, "t", &Message{Body: []byte("at the hung leader")})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("send to a hung leader: %v, want ErrUnknownOutcome", err)
	}
	cl.setLeader("g0", 1)
	if _, err := p.Send(ctx, "t", &Message{Body: []byte("after")}); err != nil {
		t.Fatalf("send after the leader changed: %v", err)
	}
}
