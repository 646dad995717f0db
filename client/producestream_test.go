package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/testutil"
)

// TestProduceUsesOneStream: every Produce request of a client to a node
// goes over one ProduceStream, concurrent requests included, and each
// caller gets its own request's results.
func TestProduceUsesOneStream(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, []string{cl.nodes[0].Addr()})
	createTopic(t, c, "t", 4)
	p := newProducer(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf("g%d-%d", g, i)
				q := uint32(g % 4)
				res, err := p.Send(context.Background(), "t", &Message{Body: []byte(body), QueueID: &q})
				if err != nil {
					errs <- err
					return
				}
				m, err := c.GetMessage(context.Background(), res[0].MsgID)
				if err != nil || string(m.Body) != body {
					errs <- fmt.Errorf("result of %s names %q (%v)", body, m.Body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := cl.calls("ProduceStream"); got != 1 {
		t.Errorf("%d streams opened, want 1", got)
	}
	if got := cl.calls("Produce"); got != 200 {
		t.Errorf("%d produce requests handled, want 200", got)
	}
}

// TestProduceFallsBackToUnary: a node without ProduceStream (an older
// broker) gets unary Produce calls, and the first request is not lost
// or doubled on the way; WithUnaryProduce never opens a stream.
func TestProduceFallsBackToUnary(t *testing.T) {
	for _, tt := range []struct {
		name    string
		disable bool
		opts    []Option
		streams int
	}{
		{"node without ProduceStream", true, nil, 1},
		{"WithUnaryProduce", false, []Option{WithUnaryProduce()}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := startCluster(t, 1)
			if tt.disable {
				cl.nodes[0].DisableProduceStream()
			}
			c := dial(t, []string{cl.nodes[0].Addr()}, tt.opts...)
			createTopic(t, c, "t", 2)
			sendN(t, newProducer(t, c), "t", "x", 5)
			if got := cl.b.Count("t"); got != 5 {
				t.Errorf("broker holds %d messages, want 5", got)
			}
			if got := cl.calls("ProduceStream"); got != tt.streams {
				t.Errorf("%d streams opened, want %d", got, tt.streams)
			}
			if got := cl.calls("Produce"); got != 5 {
				t.Errorf("%d Produce calls, want 5", got)
			}
		})
	}
}

// TestProduceStreamReopensAfterNodeRestart: the node's stream breaks when
// it stops; requests after it comes back open a new stream, and an
// idempotent request in flight when it broke is retried, stored once.
func TestProduceStreamReopensAfterNodeRestart(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, []string{cl.nodes[0].Addr()})
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	sendN(t, p, "t", "before", 1)

	// Hold the next request inside the node, then fail the node's answer
	// and break the stream by restarting the node on the same address.
	release := cl.nodes[0].Block("Produce")
	res := make(chan error, 1)
	go func() {
		_, err := p.Send(context.Background(), "t", &Message{Body: []byte("held")})
		res <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the request at the node", func() bool { return cl.calls("Produce") == 2 })
	addr := cl.nodes[0].Addr()
	cl.nodes[0].Stop()
	release()
	s, err := fakebroker.ServeAt(cl.b, "g0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	cl.nodes[0] = s
	if err := <-res; err != nil {
		t.Fatalf("idempotent send across the restart: %v", err)
	}
	sendN(t, p, "t", "after", 1)
	if got := s.Calls("ProduceStream"); got != 1 {
		t.Errorf("restarted node saw %d streams, want 1", got)
	}
	if got := cl.b.Count("t"); got < 3 || got > 3 {
		t.Errorf("broker holds %d messages, want 3 (before, held once, after)", got)
	}
}

// TestProduceStreamDeadline: a request the node holds past the attempt's
// timeout ends with an unknown outcome for a plain request path (the
// stream stays usable), and the node saw the request's timeout.
func TestProduceStreamDeadline(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, []string{cl.nodes[0].Addr()}, WithRequestTimeout(200*time.Millisecond), WithRetryTimeout(time.Second))
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	release := cl.nodes[0].Block("Produce")
	_, err := p.Send(context.Background(), "t", &Message{Body: []byte("held")})
	release()
	if !errors.Is(err, ErrUnknownOutcome) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("held send: %v, want an unknown outcome with DEADLINE_EXCEEDED", err)
	}
	sendN(t, p, "t", "after", 2)
	if got := cl.calls("ProduceStream"); got != 1 {
		t.Errorf("%d streams opened, want 1 (a timed-out request does not break it)", got)
	}
}
