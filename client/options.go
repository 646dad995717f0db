package client

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Option configures a Client.
type Option func(*config)

// config is a Client's complete configuration; defaultConfig fills every
// field.
type config struct {
	// requestTimeout bounds one attempt of one RPC (Fetch adds its long-poll
	// wait on top).
	requestTimeout time.Duration
	// retryTimeout bounds one call including all its retries when the
	// caller's context has no earlier deadline.
	retryTimeout time.Duration
	// maxRetries is how many times a call is retried after its first
	// attempt (redirects count).
	maxRetries int
	// backoffInitial and backoffMax bound the exponential backoff between
	// retries; each wait is jittered to a random value in [d/2, d].
	backoffInitial, backoffMax time.Duration
	// routeTTL is how long a topic's cached route is used before it is
	// fetched again even without an error.
	routeTTL time.Duration
	// logger receives retry, redirect and rebalance events.
	logger *slog.Logger
	// creds secures every connection.
	creds credentials.TransportCredentials
	// dialOptions are appended to every grpc.NewClient call.
	dialOptions []grpc.DialOption
	// addrMap rewrites advertised node addresses before dialing.
	addrMap map[string]string
	// unaryProduce sends each Produce request as its own call instead of
	// on the node's ProduceStream (producestream.go).
	unaryProduce bool
	// leaderProbe is how long an attempt at a group's leader runs (beyond
	// a long poll's wait) before the client asks the group's nodes whether
	// another one now leads (watchLeader); 0 never asks.
	leaderProbe time.Duration
}

func defaultConfig() config {
	return config{
		requestTimeout: 10 * time.Second,
		retryTimeout:   30 * time.Second,
		maxRetries:     10,
		backoffInitial: 50 * time.Millisecond,
		backoffMax:     2 * time.Second,
		routeTTL:       30 * time.Second,
		leaderProbe:    time.Second,
		logger:         slog.New(slog.DiscardHandler),
		creds:          insecure.NewCredentials(),
	}
}

func (c *config) validate() error {
	var errs []error
	if c.requestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request timeout %v must be positive", c.requestTimeout))
	}
	if c.retryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("retry timeout %v must be positive", c.retryTimeout))
	}
	if c.maxRetries < 0 {
		errs = append(errs, fmt.Errorf("max retries %d must not be negative", c.maxRetries))
	}
	if c.backoffInitial <= 0 || c.backoffMax < c.backoffInitial {
		errs = append(errs, fmt.Errorf("backoff %v..%v: need 0 < initial <= max", c.backoffInitial, c.backoffMax))
	}
	if c.leaderProbe < 0 || c.leaderProbe > 0 && c.leaderProbe < minLeaderProbe {
		errs = append(errs, fmt.Errorf("leader probe %v must be 0 or at least %v", c.leaderProbe, minLeaderProbe))
	}
	if c.routeTTL <= 0 {
		errs = append(errs, fmt.Errorf("route TTL %v must be positive", c.routeTTL))
	}
	return errors.Join(errs...)
}

// WithUnaryProduce makes every Produce request its own unary call instead
// of a message on one long-lived ProduceStream per node (the default,
// which costs less per request). For comparisons, and for brokers behind
// proxies that do not pass bidirectional streams.
func WithUnaryProduce() Option {
	return func(c *config) { c.unaryProduce = true }
}

// WithRequestTimeout bounds one attempt of one RPC (default 10s). A Produce
// attempt that times out has an unknown outcome, so keep it above the
// broker's Raft commit timeout.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) { c.requestTimeout = d }
}

// minLeaderProbe is the shortest leader probe (WithLeaderProbe).
const minLeaderProbe = 10 * time.Millisecond

// WithLeaderProbe sets how long a call sent to a broker group's leader
// (Produce, and a consumer's Fetch, Heartbeat, CommitOffsets and
// LeaveGroup) waits for its answer before the client asks the nodes of the
// group which one leads, and again every quarter of it while it waits
// (default 1s, the broker's election timeout; 0 never asks, else at least
// 10ms); every slow attempt of the client shares the answers. A Fetch
// long poll is asked about only once it has waited this long beyond its
// long-poll wait (WithMaxWait), so idle consumers cause no probes. If
// another node claims the leadership in the highest term seen, the
// attempt is given up as if it had timed out and retried there at once
// (a Produce's outcome is unknown; consumer calls are safe to repeat): a
// leader that was paused or cut off would otherwise hold the request for
// the whole request timeout, long after a new leader took over. A Fetch
// sent to a replica other than the leader (the group had none when it
// was routed) is not given up because some other node leads.
func WithLeaderProbe(d time.Duration) Option {
	return func(c *config) { c.leaderProbe = d }
}

// WithRetryTimeout bounds a call with all its retries when the caller's
// context has no earlier deadline (default 30s).
func WithRetryTimeout(d time.Duration) Option {
	return func(c *config) { c.retryTimeout = d }
}

// WithMaxRetries sets how many times a call is retried after the first
// attempt (default 10; 0 disables retries and redirects).
func WithMaxRetries(n int) Option {
	return func(c *config) { c.maxRetries = n }
}

// WithBackoff sets the first and the largest wait between retries (default
// 50ms and 2s). Waits double per retry and are jittered.
func WithBackoff(initial, maxWait time.Duration) Option {
	return func(c *config) { c.backoffInitial, c.backoffMax = initial, maxWait }
}

// WithRouteTTL sets how long a topic route is cached without errors
// (default 30s).
func WithRouteTTL(d time.Duration) Option {
	return func(c *config) { c.routeTTL = d }
}

// WithLogger sets the logger; nil (the default) discards logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// WithTransportCredentials secures connections (for example with
// credentials.NewTLS); the default is insecure (plain text).
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(c *config) { c.creds = creds }
}

// WithDialOptions adds gRPC dial options (interceptors, keepalive, ...) to
// every connection.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// WithAddressMap makes the client dial to[addr] whenever a node address
// (from a route, a leader redirect or a seed) is addr. Use it when nodes
// advertise names the client cannot reach, e.g. compose-network hostnames
// from the host: {"n1:9876": "127.0.0.1:19876", ...}. Addresses not in the
// map are dialed as they are.
func WithAddressMap(m map[string]string) Option {
	return func(c *config) {
		c.addrMap = make(map[string]string, len(m))
		for k, v := range m {
			c.addrMap[k] = v
		}
	}
}
