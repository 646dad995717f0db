package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/prodstream"
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
				cl.nodes[0].SetProduceStream(false)
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

// TestProduceStreamTriedAgainAfterUpgrade: a node that had no
// ProduceStream is asked again after noStreamRetry, so a broker upgraded
// in place gets the stream.
func TestProduceStreamTriedAgainAfterUpgrade(t *testing.T) {
	defer func(d time.Duration) { noStreamRetry = d }(noStreamRetry)
	noStreamRetry = 50 * time.Millisecond
	cl := startCluster(t, 1)
	cl.nodes[0].SetProduceStream(false)
	c := dial(t, []string{cl.nodes[0].Addr()})
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	sendN(t, p, "t", "old", 2)
	cl.nodes[0].SetProduceStream(true)
	time.Sleep(2 * noStreamRetry)
	sendN(t, p, "t", "new", 2)
	if got := cl.calls("ProduceStream"); got != 2 {
		t.Errorf("%d streams asked for, want 2 (refused once, then served)", got)
	}
	if got, want := cl.b.Count("t"), 4; got != want {
		t.Errorf("broker holds %d messages, want %d", got, want)
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

// TestCanceledCallerLeavesOthersAlone: callers whose context is already
// done never break the stream other callers' requests are in flight on
// (found by review: a done context could win the send slot and give the
// stream up).
func TestCanceledCallerLeavesOthersAlone(t *testing.T) {
	cl := startCluster(t, 1)
	addr := cl.nodes[0].Addr()
	c := dial(t, []string{addr})
	createTopic(t, c, "t", 1)
	b, err := c.conn(addr)
	if err != nil {
		t.Fatal(err)
	}
	release := cl.nodes[0].Block("Produce")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := b.Produce(ctx, &pb.ProduceRequest{Topic: "t", Messages: []*pb.ProduceMessage{{Body: []byte("a")}}})
		done <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the request at the node", func() bool { return cl.nodes[0].Calls("Produce") == 1 })
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 40 {
		var trailer metadata.MD
		_, err := b.Produce(canceled, &pb.ProduceRequest{Topic: "t", Messages: []*pb.ProduceMessage{{Body: []byte("c")}}}, grpc.Trailer(&trailer))
		if status.Code(err) != codes.Canceled || trailer.Get(outcomeTrailer)[0] != outcomeNotApplied {
			t.Fatalf("produce with a canceled context: %v, trailer %v; want CANCELED, not applied", err, trailer)
		}
	}
	time.Sleep(2 * sendGrace)
	release()
	if err := <-done; err != nil {
		t.Fatalf("request in flight failed because other callers' contexts were canceled: %v", err)
	}
	if got := cl.calls("ProduceStream"); got != 1 {
		t.Errorf("%d streams opened, want 1", got)
	}
}

// streamOnly serves ProduceStream only, with prodstream.Serve and a
// handler that waits for gate.
type streamOnly struct {
	pb.UnimplementedBrokerServer
	started chan<- struct{} // gets a value when a "slow" request reaches the handler
	gate    <-chan struct{}
	stop    <-chan struct{}
}

func (s streamOnly) ProduceStream(st pb.Broker_ProduceStreamServer) error {
	return prodstream.Serve(st, pb.Broker_Produce_FullMethodName, func(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error) {
		if req.GetTopic() == "slow" {
			s.started <- struct{}{}
			<-s.gate
		}
		return &pb.ProduceResponse{}, nil
	}, s.stop)
}

// TestServerStopEndsProduceStream: a server that stops (the broker's
// shutdown closes stop) answers the request it is handling, ends the
// stream, and so does not hold up GracefulStop while a client keeps its
// stream open (found by review).
func TestServerStopEndsProduceStream(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, gate, stop := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	gs := grpc.NewServer()
	pb.RegisterBrokerServer(gs, streamOnly{started: started, gate: gate, stop: stop})
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	addr := lis.Addr().String()
	c := dial(t, []string{addr})
	b, err := c.conn(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Produce(ctx, &pb.ProduceRequest{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := b.Produce(ctx, &pb.ProduceRequest{Topic: "slow"})
		slow <- err
	}()
	<-started // the slow request is in its handler
	close(stop)
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	close(gate)
	if err := <-slow; err != nil {
		t.Fatalf("request in flight when the server stopped: %v, want its answer", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop still waiting: the open ProduceStream holds it")
	}
}
