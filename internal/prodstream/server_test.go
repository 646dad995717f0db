package prodstream

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// fakeStream is a ProduceStream server side fed from a channel; close in
// to end the client's side.
type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	in      chan *pb.ProduceStreamRequest
	mu      sync.Mutex
	out     []*pb.ProduceStreamResponse
	trailer metadata.MD
}

func newFakeStream(ctx context.Context) *fakeStream {
	return &fakeStream{ctx: ctx, in: make(chan *pb.ProduceStreamRequest)}
}

func (f *fakeStream) Context() context.Context { return f.ctx }
func (f *fakeStream) Recv() (*pb.ProduceStreamRequest, error) {
	select {
	case r, ok := <-f.in:
		if !ok {
			return nil, io.EOF
		}
		return r, nil
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
}
func (f *fakeStream) Send(r *pb.ProduceStreamResponse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, r)
	return nil
}
func (f *fakeStream) SetTrailer(md metadata.MD) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trailer = metadata.Join(f.trailer, md)
}
func (f *fakeStream) responses() map[uint64]*pb.ProduceStreamResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[uint64]*pb.ProduceStreamResponse{}
	for _, r := range f.out {
		m[r.GetId()] = r
	}
	return m
}

func req(id uint64, topic string) *pb.ProduceStreamRequest {
	return &pb.ProduceStreamRequest{Id: id, TimeoutMs: 5000, Request: &pb.ProduceRequest{Topic: topic}}
}

// TestServeAnswersEachRequestLikeACall: each request gets one response
// with its id: the handler's result, or its status code, message and
// trailer; a request without a request body is refused without reaching
// the handler; the handler sees the request's timeout and the method.
func TestServeAnswersEachRequestLikeACall(t *testing.T) {
	f := newFakeStream(t.Context())
	h := func(ctx context.Context, r *pb.ProduceRequest) (*pb.ProduceResponse, error) {
		if m, _ := grpc.Method(ctx); m != "/m" {
			return nil, status.Errorf(codes.Internal, "method %q", m)
		}
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > 5*time.Second {
			return nil, status.Error(codes.Internal, "no request timeout")
		}
		if r.GetTopic() == "bad" {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(OutcomeTrailer, OutcomeNotApplied))
			return nil, status.Error(codes.NotFound, "no topic bad")
		}
		return &pb.ProduceResponse{Results: []*pb.SendResult{{MsgId: r.GetTopic()}}}, nil
	}
	done := make(chan error, 1)
	go func() { done <- Serve(f, "/m", h, nil) }()
	f.in <- req(1, "good")
	f.in <- req(2, "bad")
	f.in <- &pb.ProduceStreamRequest{Id: 3}
	close(f.in)
	if err := <-done; err != nil {
		t.Fatalf("Serve after the client closed its side: %v", err)
	}
	got := f.responses()
	if len(got) != 3 {
		t.Fatalf("%d responses, want 3", len(got))
	}
	if r := got[1]; r.GetCode() != 0 || r.GetResponse().GetResults()[0].GetMsgId() != "good" {
		t.Errorf("request 1: %v", r)
	}
	if r := got[2]; codes.Code(r.GetCode()) != codes.NotFound || r.GetMessage() != "no topic bad" || r.GetTrailer()[OutcomeTrailer] != OutcomeNotApplied {
		t.Errorf("request 2: %v", r)
	}
	if r := got[3]; codes.Code(r.GetCode()) != codes.InvalidArgument || r.GetTrailer()[OutcomeTrailer] != OutcomeNotApplied {
		t.Errorf("request 3 (no request): %v", r)
	}
}

// TestServeStopAnswersWhatItRead: on stop, Serve answers the request it
// is handling, reads nothing more, and ends the stream UNAVAILABLE with
// the not-applied trailer.
func TestServeStopAnswersWhatItRead(t *testing.T) {
	f := newFakeStream(t.Context())
	started, release := make(chan struct{}), make(chan struct{})
	h := func(ctx context.Context, r *pb.ProduceRequest) (*pb.ProduceResponse, error) {
		close(started)
		<-release
		return &pb.ProduceResponse{}, nil
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- Serve(f, "/m", h, stop) }()
	f.in <- req(1, "t")
	<-started
	close(stop)
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in its handler", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	err := <-done
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Serve after stop: %v, want UNAVAILABLE", err)
	}
	if v := f.trailer.Get(OutcomeTrailer); len(v) != 1 || v[0] != OutcomeNotApplied {
		t.Fatalf("trailer %v, want %s: %s", f.trailer, OutcomeTrailer, OutcomeNotApplied)
	}
	if got := f.responses(); len(got) != 1 || got[1].GetCode() != 0 {
		t.Fatalf("responses %v, want request 1 answered", got)
	}
}

// TestServeEndsWithItsContext: when the stream's context ends (the client
// went away), Serve returns without waiting for more requests.
func TestServeEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := newFakeStream(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Serve(f, "/m", func(context.Context, *pb.ProduceRequest) (*pb.ProduceResponse, error) {
			return &pb.ProduceResponse{}, nil
		}, nil)
	}()
	f.in <- req(1, "t")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Fatalf("Serve after the context ended: %v", err)
	}
}

type streamServer struct {
	pb.UnimplementedBrokerServer
	h Handler
}

func (s *streamServer) ProduceStream(st pb.Broker_ProduceStreamServer) error {
	return Serve(st, "/m", s.h, nil)
}

// TestServeUnreadableRequestIsNotNotApplied: over real gRPC, a message
// over the server's size limit ends the stream at once (grpc-go writes
// the status itself). A request in its handler then has no answer, so the
// stream must not end with the not-applied trailer, which would let the
// client treat that request as never stored (found by review).
func TestServeUnreadableRequestIsNotNotApplied(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := func(ctx context.Context, r *pb.ProduceRequest) (*pb.ProduceResponse, error) {
		close(started)
		<-release
		return &pb.ProduceResponse{}, nil
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(1000))
	pb.RegisterBrokerServer(gs, &streamServer{h: h})
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := pb.NewBrokerClient(cc).ProduceStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(req(1, "t")); err != nil {
		t.Fatal(err)
	}
	<-started
	_ = st.Send(req(2, strings.Repeat("x", 2000))) // over the server's limit
	defer close(release)
	for {
		r, err := st.Recv()
		if err == nil {
			continue // an answer (request 1's) is fine
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("stream ended with %v (answer %v), want RESOURCE_EXHAUSTED", err, r)
		}
		break
	}
	if v := st.Trailer().Get(OutcomeTrailer); len(v) > 0 {
		t.Fatalf("stream with a request in flight ended with trailer %s: %v", OutcomeTrailer, v)
	}
}
