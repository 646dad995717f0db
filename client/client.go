package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/grpcbuf"
	"github.com/raftmq/raftmq/internal/prodstream"
)

// Client is a connection pool to a raftmq cluster plus its route cache. It
// is safe for concurrent use; Producers and Consumers share one Client.
type Client struct {
	cfg    config
	log    *slog.Logger
	seeds  []string
	routes *routeCache
	// probes answers which node leads a group, for slow calls at its
	// leader (leaderprobe.go).
	probes leaderProbes

	// seedNext is the index of the seed to try first (the last one that
	// answered).
	seedNext atomic.Uint32

	mu sync.Mutex // guards conns, streams, noStream and closed
	// conns holds one connection per node address, created on first use.
	conns map[string]*grpc.ClientConn
	// streams holds the ProduceStream per node address (producestream.go);
	// noStream the addresses that answered it UNIMPLEMENTED, and when
	// (they get unary calls for noStreamRetry, then the stream is tried
	// again: the node may have been upgraded).
	streams   map[string]*prodStream
	noStream  map[string]time.Time
	streamsWG sync.WaitGroup // stream goroutines
	closed    bool
}

var (
	_ io.Closer = (*Client)(nil)
	_ io.Closer = (*Producer)(nil)
	_ io.Closer = (*Consumer)(nil)
)

// Dial returns a Client for the cluster reachable through the seed
// addresses (host:port of any nodes). It does not contact any node:
// connections are created lazily, on the first call to each address, and
// cached until Close. ctx is only checked for being done already.
func Dial(ctx context.Context, addrs []string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var seeds []string
	for _, a := range addrs {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("client: no seed address: %w", ErrInvalidArgument)
	}
	return &Client{
		cfg:      cfg,
		log:      cfg.logger,
		seeds:    seeds,
		routes:   newRouteCache(),
		conns:    make(map[string]*grpc.ClientConn),
		streams:  make(map[string]*prodStream),
		noStream: make(map[string]time.Time),
	}, nil
}

// conn returns the cached stub for addr, creating the connection if needed.
func (c *Client) conn(addr string) (pb.BrokerClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cc, ok := c.conns[addr]; ok {
		return streamBroker{BrokerClient: pb.NewBrokerClient(cc), c: c, addr: addr}, nil
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(c.cfg.creds),
		// Fixed windows: no bandwidth estimator pings per request.
		grpc.WithInitialWindowSize(prodstream.StreamWindow), grpc.WithInitialConnWindowSize(prodstream.ConnWindow),
		// Received messages into uncleared pooled buffers (grpcbuf).
		experimental.WithBufferPool(grpcbuf.Pool)}, c.cfg.dialOptions...)
	target := addr
	if to, ok := c.cfg.addrMap[addr]; ok {
		target = to
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: connect %s: %w", addr, err)
	}
	c.conns[addr] = cc
	return streamBroker{BrokerClient: pb.NewBrokerClient(cc), c: c, addr: addr}, nil
}

// Close closes every connection. Close Producers and Consumers first: calls
// made after Close fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	streams := c.streams
	c.streams = nil
	c.mu.Unlock()
	c.closeStreams(streams)
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for addr, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("client: close %s: %w", addr, err))
		}
	}
	c.conns = nil
	return errors.Join(errs...)
}
