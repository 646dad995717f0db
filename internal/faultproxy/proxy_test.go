package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers every line with the same line until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T, target string, opts ...Option) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

// client is one connection through the proxy.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// roundTrip sends line and reads the answer within timeout; it returns
// the answer or the read error.
func (cl *client) roundTrip(line string, timeout time.Duration) (string, error) {
	cl.t.Helper()
	if _, err := cl.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	cl.c.SetReadDeadline(time.Now().Add(timeout))
	s, err := cl.br.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func (cl *client) mustEcho(line string) {
	cl.t.Helper()
	got, err := cl.roundTrip(line, 5*time.Second)
	if err != nil || got != line {
		cl.t.Fatalf("echo %q: got %q, %v", line, got, err)
	}
}

// wantTimeout checks that a round trip gets no answer: a blackhole.
func (cl *client) wantTimeout(line string) {
	cl.t.Helper()
	_, err := cl.roundTrip(line, 200*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		cl.t.Fatalf("round trip %q: got %v, want a timeout (blackhole)", line, err)
	}
}

// wantClosed checks that the proxy closed the connection.
func (cl *client) wantClosed() {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := cl.br.ReadString('\n')
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		cl.t.Fatalf("read after block: %v, want the connection closed", err)
	}
}

func TestForward(t *testing.T) {
	p := newProxy(t, echoServer(t))
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for _, s := range []string{"one", "two", strings.Repeat("x", 100<<10)} {
		a.mustEcho(s)
		b.mustEcho(s)
	}
}

func TestBlockUnblock(t *testing.T) {
	p := newProxy(t, echoServer(t))
	before := dial(t, p.Addr())
	before.mustEcho("hello")
	p.Block()
	before.wantClosed()
	held := dial(t, p.Addr())
	held.wantTimeout("anyone?")
	p.Unblock()
	held.wantClosed()
	dial(t, p.Addr()).mustEcho("back")
}

// lineSniffer names a connection by its first line ("from <peer>").
func lineSniffer(prefix []byte) string {
	s, ok := strings.CutPrefix(string(prefix), "from ")
	if !ok {
		return ""
	}
	peer, _, ok := strings.Cut(s, "\n")
	if !ok {
		return ""
	}
	return peer
}

func TestBlockFrom(t *testing.T) {
	p := newProxy(t, echoServer(t), WithSniffer(64, lineSniffer))
	conn := func(peer string) *client {
		cl := dial(t, p.Addr())
		cl.mustEcho("from " + peer)
		return cl
	}
	a, b := conn("a"), conn("b")
	anon := dial(t, p.Addr()) // 64 bytes without a name: forwarded, unnamed
	anon.mustEcho(strings.Repeat("z", 70))
	if n := p.Unnamed(); n != 1 {
		t.Fatalf("Unnamed() = %d, want 1", n)
	}
	p.BlockFrom("a")
	a.wantClosed()
	b.mustEcho("still here")
	anon.mustEcho("anonymous unaffected")
	a2 := dial(t, p.Addr())
	a2.wantTimeout("from a")
	conn("b").mustEcho("new b")

	p.Block() // both blocks on a: lifting one keeps a2 held
	p.UnblockFrom("a")
	a2.wantTimeout("still from a")
	p.Unblock()
	a2.wantClosed()
	conn("a").mustEcho("a again")

	p.BlockFrom("a")
	p.Block()
	p.Unblock() // a stays blocked by BlockFrom
	dial(t, p.Addr()).wantTimeout("from a")
	conn("b").mustEcho("b unaffected")
}

func TestDelay(t *testing.T) {
	p := newProxy(t, echoServer(t))
	cl := dial(t, p.Addr())
	cl.mustEcho("warm")
	const d = 100 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	cl.mustEcho("slow")
	if took := time.Since(start); took < 2*d {
		t.Fatalf("round trip took %v with a %v delay each way, want >= %v", took, d, 2*d)
	}
	p.SetDelay(0)
	cl.mustEcho("fast")
}

func TestCloseWithConnections(t *testing.T) {
	p, err := New("127.0.0.1:0", echoServer(t), WithSniffer(64, lineSniffer))
	if err != nil {
		t.Fatal(err)
	}
	open := dial(t, p.Addr())
	open.mustEcho("from x")
	p.BlockFrom("y")
	held := dial(t, p.Addr())
	held.wantTimeout("from y")
	silent := dial(t, p.Addr()) // never sends: stuck in the sniffer
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client{open, held, silent} {
		cl.wantClosed()
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("dial after close succeeded")
	}
}

func TestNewInvalid(t *testing.T) {
	tests := []struct {
		name   string
		target string
		opts   []Option
	}{
		{"empty target", "", nil},
		{"sniffer without prefix", "127.0.0.1:1", []Option{WithSniffer(0, lineSniffer)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New("127.0.0.1:0", tt.target, tt.opts...); !errors.Is(err, ErrInvalid) {
				t.Fatalf("New: %v, want ErrInvalid", err)
			}
		})
	}
}
