// Package prodstream serves the Broker service's ProduceStream method: it
// runs each request of the stream through the same handler as a unary
// Produce call and sends back one response per request. The broker's
// gRPC server (package api) and the client tests' fake broker share it,
// so both answer streamed requests exactly as they answer Produce calls,
// trailers included.
//
// golang.org/x/sync/semaphore bounds the bytes of the requests a stream
// has in flight.
package prodstream

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// OutcomeTrailer is the response trailer of a failed Produce that says
// what became of it: OutcomeNotApplied means the request was refused
// before it reached Raft, so none of it was stored, whatever the status
// code (UNAVAILABLE while a group has no leader, say). Without it an
// UNAVAILABLE or DEADLINE_EXCEEDED produce may have been stored. The one
// definition the broker (api), the client and this package share.
const (
	OutcomeTrailer    = "raftmq-outcome"
	OutcomeNotApplied = "not-applied"
)

// StreamWindow and ConnWindow are the HTTP/2 flow-control windows of a
// stream and of a connection, on the broker, the client and the broker's
// calls to other nodes. Fixed windows turn off grpc-go's bandwidth
// estimator, which otherwise pings on every request that arrives after the
// previous ping's answer: with one synchronous producer that is a PING and
// its ACK per request each way, and a write syscall more per response.
// 4 MiB per stream lets a full produce batch go without waiting for a
// window update.
const (
	StreamWindow = 4 << 20
	ConnWindow   = 16 << 20
)

// MaxInFlight is how many requests of one stream are handled at once, and
// MaxInFlightBytes how many bytes of requests (a larger request alone is
// allowed); the stream's next request is not read until there is room.
const (
	MaxInFlight      = 1024
	MaxInFlightBytes = 64 << 20
)

// Handler answers one Produce request, as the unary method does: ctx ends
// at the request's timeout, and grpc.SetTrailer on ctx sets the trailer of
// its response.
type Handler func(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error)

// Serve reads requests from stream and runs each in its own goroutine,
// with method (the unary Produce method's full name) as the name
// grpc.Method reports. It returns nil when the client has closed its side
// and every request read is answered. When stop is closed (the server is
// shutting down), it reads no more, answers the requests it read, and
// ends the stream UNAVAILABLE with the "raftmq-outcome: not-applied"
// trailer: the requests the client has no answer for were not read, so
// nothing of them was stored. When the stream cannot be read (a message
// over the size limit), grpc-go ends it at once with that error and no
// such trailer, so the requests in flight have unknown outcomes (the
// client sends requests over 1 MiB as unary calls, well below any
// broker's limit).
func Serve(stream pb.Broker_ProduceStreamServer, method string, h Handler, stop <-chan struct{}) error {
	ctx := stream.Context()
	var (
		sendMu  sync.Mutex
		wg      sync.WaitGroup
		mu      sync.Mutex // guards stopped, orders wg.Add before wg.Wait
		stopped bool
	)
	slots := make(chan struct{}, MaxInFlight)
	budget := semaphore.NewWeighted(MaxInFlightBytes)
	// dispatch runs in by itself; false once Serve stopped taking requests.
	dispatch := func(in *pb.ProduceStreamRequest) bool {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		n := min(int64(proto.Size(in)), MaxInFlightBytes)
		if err := budget.Acquire(ctx, n); err != nil {
			<-slots
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			budget.Release(n)
			<-slots
			return false
		}
		wg.Go(func() {
			defer func() { budget.Release(n); <-slots }()
			out := handle(ctx, method, in, h)
			sendMu.Lock()
			defer sendMu.Unlock()
			// A failed Send means the stream is gone: Recv fails too.
			_ = stream.Send(out)
		})
		return true
	}
	recvErr := make(chan error, 1)
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if !dispatch(in) {
				recvErr <- nil
				return
			}
		}
	}()
	end := func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		wg.Wait()
	}
	select {
	case err := <-recvErr:
		end()
		switch {
		case ctx.Err() != nil:
			// Checked first: the receive loop also stops (err nil) when
			// the context ends while it waits for room.
			return status.FromContextError(ctx.Err()).Err()
		case err == nil || errors.Is(err, io.EOF):
			return nil
		}
		return err
	case <-stop:
		end()
		stream.SetTrailer(metadata.Pairs(OutcomeTrailer, OutcomeNotApplied))
		return status.Error(codes.Unavailable, "broker is shutting down: requests without an answer were not applied")
	}
}

// handle answers one request.
func handle(ctx context.Context, method string, in *pb.ProduceStreamRequest, h Handler) *pb.ProduceStreamResponse {
	out := &pb.ProduceStreamResponse{Id: in.GetId()}
	if in.GetRequest() == nil {
		out.Code, out.Message = uint32(codes.InvalidArgument), "produce stream request without a request"
		out.Trailer = map[string]string{OutcomeTrailer: OutcomeNotApplied}
		return out
	}
	if ms := in.GetTimeoutMs(); ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	ts := &transportStream{method: method}
	resp, err := h(grpc.NewContextWithServerTransportStream(ctx, ts), in.GetRequest())
	if err != nil {
		st := status.Convert(err)
		out.Code, out.Message = uint32(st.Code()), st.Message()
	} else {
		out.Response = resp
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, v := range ts.trailer {
		if len(v) > 0 {
			if out.Trailer == nil {
				out.Trailer = map[string]string{}
			}
			out.Trailer[k] = v[0]
		}
	}
	return out
}

// transportStream is the grpc.ServerTransportStream of one request: it
// keeps the trailer the handler sets for the response. Headers are not
// part of a streamed response.
type transportStream struct {
	method  string
	mu      sync.Mutex
	trailer metadata.MD
}

func (t *transportStream) Method() string               { return t.method }
func (t *transportStream) SetHeader(metadata.MD) error  { return nil }
func (t *transportStream) SendHeader(metadata.MD) error { return nil }
func (t *transportStream) SetTrailer(md metadata.MD) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trailer = metadata.Join(t.trailer, md)
	return nil
}
