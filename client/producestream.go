package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Produce requests go over one ProduceStream per node address instead of
// one unary call each: a request is then one message each way on a stream
// that stays open, without a call's stream setup, headers and trailers
// (on a 2-core VM a bare round trip through gRPC drops from 0.19-0.25 ms
// to 0.16 ms; see docs/PERFORMANCE.md). The
// stream is opened on first use and again after it breaks; a node that
// answers UNIMPLEMENTED (an older broker) gets unary Produce calls for a
// minute, then the stream is tried again. Everything above (routing, retries, unknown outcomes) sees the
// same answers as from a unary call: a status error and the trailers.

// streamBroker is the stub a call gets from Client.conn: Produce goes over
// the address's stream, every other method is the plain stub's.
type streamBroker struct {
	pb.BrokerClient
	c    *Client
	addr string
}

// Produce sends req on the stream to the node; opts may carry
// grpc.Trailer, which receives the response's trailer. A request over
// streamMaxRequest bytes goes as a unary call: a message over the node's
// size limit fails the call it is in, and on a stream that would be
// everyone's stream.
func (b streamBroker) Produce(ctx context.Context, req *pb.ProduceRequest, opts ...grpc.CallOption) (*pb.ProduceResponse, error) {
	if proto.Size(req) > streamMaxRequest {
		return b.BrokerClient.Produce(ctx, req, opts...)
	}
	var trailer *metadata.MD
	for _, o := range opts {
		if t, ok := o.(grpc.TrailerCallOption); ok {
			trailer = t.TrailerAddr
		}
	}
	s, err := b.c.produceStream(ctx, b.addr)
	if err != nil {
		return nil, notSent(trailer, err)
	}
	if s == nil {
		return b.BrokerClient.Produce(ctx, req, opts...)
	}
	resp, err := s.do(ctx, req, trailer)
	if errors.Is(err, errNoStream) {
		// Not handled: the node has no ProduceStream.
		if trailer != nil {
			*trailer = nil
		}
		return b.BrokerClient.Produce(ctx, req, opts...)
	}
	return resp, err
}

// streamMaxRequest is the largest request sent on a stream: below any
// node's receive limit (api.MaxMessageBytes is at least 1 MiB above the
// largest batch).
const streamMaxRequest = 1 << 20

// sendGrace is how long a Send may stay blocked after its caller's
// context ended before the stream is given up (the node stopped reading).
const sendGrace = 100 * time.Millisecond

// noStreamRetry is how long a node that answered ProduceStream with
// UNIMPLEMENTED gets unary calls before the stream is tried again.
var noStreamRetry = time.Minute

// errNoStream fails the requests of a stream the node answered with
// UNIMPLEMENTED; none of them was handled.
var errNoStream = errors.New("client: node has no ProduceStream")

// produceStream returns the open stream to addr, opening one if there is
// none, or nil when the node has no ProduceStream (or the client was
// built WithUnaryProduce).
func (c *Client) produceStream(ctx context.Context, addr string) (*prodStream, error) {
	if c.cfg.unaryProduce {
		return nil, nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if since, ok := c.noStream[addr]; ok {
		if time.Since(since) < noStreamRetry {
			c.mu.Unlock()
			return nil, nil
		}
		delete(c.noStream, addr)
	}
	s := c.streams[addr]
	if s == nil || s.failed() {
		cc, ok := c.conns[addr]
		if !ok {
			c.mu.Unlock()
			return nil, fmt.Errorf("client: no connection to %s", addr)
		}
		s = &prodStream{c: c, addr: addr, cc: cc, opened: make(chan struct{}), sendSlot: make(chan struct{}, 1),
			pending: map[uint64]chan *pb.ProduceStreamResponse{}}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		c.streams[addr] = s
		c.streamsWG.Add(1)
		go s.open()
	}
	c.mu.Unlock()
	select {
	case <-s.opened:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err := s.openErr; err != nil {
		return nil, err
	}
	return s, nil
}

// prodStream is one open ProduceStream: callers send on it (one at a
// time), a receiver goroutine hands each response to the caller waiting
// for its id.
type prodStream struct {
	c      *Client
	addr   string
	cc     *grpc.ClientConn
	ctx    context.Context
	cancel context.CancelFunc
	st     pb.Broker_ProduceStreamClient

	opened  chan struct{} // closed when the stream is open or failed to open
	openErr error         // set before opened is closed

	sendSlot chan struct{} // held while sending
	sending  atomic.Uint64 // id of the request in Send, 0 when none
	nextID   atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan *pb.ProduceStreamResponse // nil once failed
	err     error                                     // why the stream failed
	// notRead: the stream failed because the node ended it saying that
	// the requests it did not answer were not read (prodstream.Serve's
	// not-applied trailer at shutdown); set with err, by the same call.
	notRead bool
}

// open opens the stream and then receives on it until it fails.
func (s *prodStream) open() {
	defer s.c.streamsWG.Done()
	st, err := pb.NewBrokerClient(s.cc).ProduceStream(s.ctx)
	if err != nil {
		s.openErr = err
		s.fail(err)
		close(s.opened)
		return
	}
	s.st = st
	close(s.opened)
	for {
		r, err := st.Recv()
		if err != nil {
			// Only the node's own end of the stream can vouch for the
			// requests it did not answer, not a failure on this side.
			if v := st.Trailer().Get(outcomeTrailer); len(v) > 0 && v[0] == outcomeNotApplied &&
				s.ctx.Err() == nil && status.Code(err) == codes.Unavailable {
				s.failWith(err, true)
				return
			}
			if status.Code(err) == codes.Unimplemented {
				s.c.mu.Lock()
				s.c.noStream[s.addr] = time.Now()
				s.c.mu.Unlock()
				err = errNoStream
			}
			s.fail(err)
			return
		}
		s.mu.Lock()
		ch := s.pending[r.GetId()]
		delete(s.pending, r.GetId())
		s.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// failed reports whether the stream has failed.
func (s *prodStream) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// fail ends the stream with err: every request in flight gets it.
func (s *prodStream) fail(err error) { s.failWith(err, false) }

// failWith is fail; notRead says the node ended the stream without
// reading the requests it did not answer. Only the first failure counts.
func (s *prodStream) failWith(err error, notRead bool) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("stream closed by the node")
	}
	s.err, s.notRead = err, notRead
	pend := s.pending
	s.pending = nil
	s.mu.Unlock()
	s.cancel()
	for _, ch := range pend {
		close(ch)
	}
}

// lost is the error of a request in flight on a stream that failed: its
// outcome is unknown, as after a unary call's connection broke.
func (s *prodStream) lost() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if errors.Is(err, errNoStream) || errors.Is(err, ErrClosed) {
		return err
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return err
	}
	return status.Errorf(codes.Unavailable, "produce stream to %s broke: %v", s.addr, err)
}

// notSent fails a request that never left this client: nothing of it was
// stored, which the trailer says as a broker would.
func notSent(trailer *metadata.MD, err error) error {
	if trailer != nil {
		*trailer = metadata.Pairs(outcomeTrailer, outcomeNotApplied)
	}
	if errors.Is(err, errNoStream) || errors.Is(err, ErrClosed) {
		return err
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	return status.Error(codes.Unavailable, err.Error())
}

// do sends one request and waits for its response or the end of ctx.
func (s *prodStream) do(ctx context.Context, req *pb.ProduceRequest, trailer *metadata.MD) (*pb.ProduceResponse, error) {
	id := s.nextID.Add(1)
	ch := make(chan *pb.ProduceStreamResponse, 1)
	s.mu.Lock()
	if s.pending == nil {
		err := s.err
		s.mu.Unlock()
		return nil, notSent(trailer, err)
	}
	s.pending[id] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}

	msg := &pb.ProduceStreamRequest{Id: id, Request: req}
	if d, ok := ctx.Deadline(); ok {
		ms := time.Until(d).Milliseconds() + 1
		msg.TimeoutMs = uint32(min(max(ms, 1), 1<<31))
	}
	select {
	case s.sendSlot <- struct{}{}:
	case <-ctx.Done():
		forget()
		return nil, notSent(trailer, status.FromContextError(ctx.Err()).Err())
	}
	if err := ctx.Err(); err != nil {
		<-s.sendSlot
		forget()
		return nil, notSent(trailer, status.FromContextError(err).Err())
	}
	// Send blocks while the stream's flow-control window is full (a node
	// that stopped reading). If ctx ends and Send is still blocked a
	// little later, the stream is given up: every request on it fails as
	// UNAVAILABLE with an unknown outcome, and the next opens a new one.
	s.sending.Store(id)
	stop := context.AfterFunc(ctx, func() {
		time.Sleep(sendGrace)
		if s.sending.Load() == id {
			s.fail(status.Errorf(codes.Unavailable, "produce stream to %s: send blocked", s.addr))
		}
	})
	err := s.st.Send(msg)
	s.sending.Store(0)
	stop()
	<-s.sendSlot
	if err != nil {
		forget()
		if errors.Is(err, io.EOF) {
			// The stream was closed before the message went out (the
			// real error comes from Recv).
			return nil, notSent(trailer, s.lostOrEOF(ctx))
		}
		s.fail(err)
		return nil, s.lost()
	}

	select {
	case r, ok := <-ch:
		if !ok {
			s.mu.Lock()
			notRead := s.notRead
			s.mu.Unlock()
			if notRead {
				return nil, notSent(trailer, s.lost())
			}
			return nil, s.lost()
		}
		if trailer != nil && len(r.GetTrailer()) > 0 {
			md := metadata.MD{}
			for k, v := range r.GetTrailer() {
				md.Set(k, v)
			}
			*trailer = md
		}
		if c := codes.Code(r.GetCode()); c != codes.OK {
			return nil, status.Error(c, r.GetMessage())
		}
		return r.GetResponse(), nil
	case <-ctx.Done():
		forget()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// lostOrEOF waits briefly for the receiver to record why the stream ended
// after Send saw io.EOF, and returns that error.
func (s *prodStream) lostOrEOF(ctx context.Context) error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
	case <-ctx.Done():
	case <-t.C:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return errors.New("stream closed by the node")
	}
	return s.err
}

// closeStreams fails every stream with ErrClosed and waits for their
// goroutines. Called by Close, without c.mu.
func (c *Client) closeStreams(streams map[string]*prodStream) {
	for _, s := range streams {
		s.fail(ErrClosed)
	}
	c.streamsWG.Wait()
}
