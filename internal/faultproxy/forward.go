package faultproxy

import (
	"io"
	"net"
	"time"
)

// chunkSize is the read buffer of one direction; chunkQueue is how many
// chunks a direction holds while they wait for their delay.
const (
	chunkSize  = 32 << 10
	chunkQueue = 256
)

// serve sniffs c's peer, then either blackholes c or forwards it, until
// c is closed (by either side, a fault or Close).
func (p *Proxy) serve(c *conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	prefix, err := p.sniffPrefix(c)
	if err != nil {
		return
	}
	if p.shouldHold(c) {
		io.Copy(io.Discard, c.client)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return
	}
	if !p.attach(c, server) {
		server.Close()
		io.Copy(io.Discard, c.client) // blocked while dialing: hold
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, c.client, prefix); c.close(); done <- struct{}{} }()
	go func() { p.pipe(c.client, server, nil); c.close(); done <- struct{}{} }()
	<-done
	<-done
}

// sniffPrefix reads c's first bytes and names c's peer with the sniffer;
// without one it reads nothing.
func (p *Proxy) sniffPrefix(c *conn) ([]byte, error) {
	if p.sniff == nil {
		return nil, nil
	}
	buf := make([]byte, 0, p.sniffMax)
	for len(buf) < p.sniffMax {
		n, err := c.client.Read(buf[len(buf):p.sniffMax])
		buf = buf[:len(buf)+n]
		if peer := p.sniff(buf); peer != "" {
			p.mu.Lock()
			c.peer = peer
			p.mu.Unlock()
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	p.unnamed.Add(1)
	return buf, nil
}

// shouldHold reports whether c is to be blackholed now.
func (p *Proxy) shouldHold(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked || p.blockedFrom[c.peer]
}

// attach records c's server connection, unless a fault blocked c (or the
// proxy closed) while it was dialed.
func (p *Proxy) attach(c *conn, server net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.blocked || p.blockedFrom[c.peer] {
		return false
	}
	c.server = server
	return true
}

// chunk is bytes read from one side, to be written at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, first writing prefix, each chunk delayed by the
// proxy's delay at the time it was read. It returns when either side
// fails; the caller closes both.
func (p *Proxy) pipe(dst, src net.Conn, prefix []byte) {
	q := make(chan chunk, chunkQueue)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		p.writeChunks(dst, q, stop)
	}()
	defer func() { <-writerDone }()
	defer close(q)
	if len(prefix) > 0 {
		q <- chunk{data: prefix, due: time.Now().Add(time.Duration(p.delay.Load()))}
	}
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case q <- chunk{data: buf[:n], due: time.Now().Add(time.Duration(p.delay.Load()))}:
			case <-stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// writeChunks writes q's chunks to dst when due, until q is closed or a
// write fails (then it closes stop and dst, so the reader ends too).
func (p *Proxy) writeChunks(dst net.Conn, q <-chan chunk, stop chan<- struct{}) {
	for ch := range q {
		if d := time.Until(ch.due); d > 0 {
			time.Sleep(d) // the delay being injected, not a test wait
		}
		if _, err := dst.Write(ch.data); err != nil {
			close(stop)
			dst.Close()
			for range q { // drain until the reader stops
			}
			return
		}
	}
}
