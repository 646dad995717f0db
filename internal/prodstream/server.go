// Package prodstream serves the Broker service's ProduceStream method: it
// runs each request of the stream through the same handler as a unary
// Produce call and sends back one response per request. The broker's
// gRPC server (package api) and the client tests' fake broker share it,
// so both answer streamed requests exactly as they answer Produce calls,
// trailers included.
package prodstream

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// The trailer a broker sets on a produce it refused before Raft (api's
// OutcomeTrailer; api imports this package).
const outcomeTrailer, outcomeNotApplied = "raftmq-outcome", "not-applied"

// MaxInFlight is how many requests of one stream are handled at once; the
// stream's next request is not read until one of them is answered.
const MaxInFlight = 1024

// Handler answers one Produce request, as the unary method does: ctx ends
// at the request's timeout, and grpc.SetTrailer on ctx sets the trailer of
// its response.
type Handler func(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error)

// Serve reads requests from stream until the client closes its side (then
// it answers the requests in flight and returns nil) or the stream fails.
// Each request runs in its own goroutine, with method (the unary Produce
// method's full name) as the name grpc.Method reports.
func Serve(stream pb.Broker_ProduceStreamServer, method string, h Handler) error {
	ctx := stream.Context()
	var (
		sendMu sync.Mutex
		wg     sync.WaitGroup
	)
	slots := make(chan struct{}, MaxInFlight)
	defer wg.Wait()
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
		wg.Go(func() {
			defer func() { <-slots }()
			out := handle(ctx, method, in, h)
			sendMu.Lock()
			defer sendMu.Unlock()
			// A failed Send means the stream is gone: Recv fails too and
			// ends the loop.
			_ = stream.Send(out)
		})
	}
}

// handle answers one request.
func handle(ctx context.Context, method string, in *pb.ProduceStreamRequest, h Handler) *pb.ProduceStreamResponse {
	if ms := in.GetTimeoutMs(); ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	out := &pb.ProduceStreamResponse{Id: in.GetId()}
	if in.GetRequest() == nil {
		out.Code, out.Message = uint32(codes.InvalidArgument), "produce stream request without a request"
		out.Trailer = map[string]string{outcomeTrailer: outcomeNotApplied}
		return out
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
