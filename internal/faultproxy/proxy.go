package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds the proxy's dial of its target.
const dialTimeout = 5 * time.Second

// Option configures a Proxy in New.
type Option func(*Proxy)

// WithSniffer makes the proxy read up to maxPrefix bytes of each new
// connection, calling sniff after every read with all bytes so far, until
// sniff names the peer (a non-empty string) or maxPrefix bytes have come;
// the bytes are then forwarded. sniff is called on the connection's own
// goroutine and must not keep prefix.
func WithSniffer(maxPrefix int, sniff func(prefix []byte) string) Option {
	return func(p *Proxy) { p.sniffMax, p.sniff = maxPrefix, sniff }
}

// Proxy forwards the connections accepted on its listener to its target,
// injecting the faults set by its methods. Its methods are safe for
// concurrent use.
type Proxy struct {
	ln       net.Listener
	target   string
	sniff    func([]byte) string
	sniffMax int
	delay    atomic.Int64 // nanoseconds added to every chunk
	unnamed  atomic.Int64 // connections the sniffer could not name
	wg       sync.WaitGroup

	// mu guards blocked, blockedFrom, conns and closed.
	mu          sync.Mutex
	blocked     bool
	blockedFrom map[string]bool
	conns       map[*conn]struct{}
	closed      bool
}

// conn is one accepted connection: forwarded to server, or held (a
// blackhole) with server nil.
type conn struct {
	client, server net.Conn
	peer           string
	once           sync.Once
}

func (c *conn) close() {
	c.once.Do(func() {
		c.client.Close()
		if c.server != nil {
			c.server.Close()
		}
	})
}

// New listens on listen (host:port; port 0 picks a free one) and forwards
// every accepted connection to target until Close.
func New(listen, target string, opts ...Option) (*Proxy, error) {
	p := &Proxy{target: target, blockedFrom: map[string]bool{}, conns: map[*conn]struct{}{}}
	for _, o := range opts {
		o(p)
	}
	if target == "" || (p.sniff != nil && p.sniffMax < 1) {
		return nil, ErrInvalid
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Block closes every connection and blackholes new ones until Unblock.
func (p *Proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		if c.server != nil {
			c.close()
		}
	}
}

// Unblock ends Block: blackholed connections are closed (so their clients
// dial again) unless their peer is blocked by BlockFrom, and new ones are
// forwarded.
func (p *Proxy) Unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
	for c := range p.conns {
		if c.server == nil && !p.blockedFrom[c.peer] {
			c.close()
		}
	}
}

// BlockFrom does what Block does, to the connections the sniffer names
// peer only, until UnblockFrom(peer).
func (p *Proxy) BlockFrom(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockedFrom[peer] = true
	for c := range p.conns {
		if c.peer == peer && c.server != nil {
			c.close()
		}
	}
}

// UnblockFrom ends BlockFrom(peer); like Unblock it closes the peer's
// blackholed connections unless the whole proxy is blocked.
func (p *Proxy) UnblockFrom(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.blockedFrom, peer)
	if p.blocked {
		return
	}
	for c := range p.conns {
		if c.peer == peer && c.server == nil {
			c.close()
		}
	}
}

// Unnamed returns how many connections so far sent their first maxPrefix
// bytes without the sniffer naming them (0 without a sniffer). BlockFrom
// does not apply to them, so a test that cuts by peer can check this to
// be sure its cuts were real.
func (p *Proxy) Unnamed() int64 { return p.unnamed.Load() }

// SetDelay delays every chunk forwarded from now on by d in each
// direction; 0 (or less) forwards at once. Close may wait up to d for a
// chunk being delayed.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(max(d, 0))) }

// Close stops the listener, closes every connection and waits for every
// goroutine of the proxy. Later calls return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error (e.g. EMFILE)
		}
		c := &conn{client: nc}
		if !p.track(c) {
			nc.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track adds c to the proxy's connections, unless the proxy is closed.
func (p *Proxy) track(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c *conn) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
