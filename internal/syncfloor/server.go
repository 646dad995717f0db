package syncfloor

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// seqBytes is the frame header: the message's sequence number, little-endian.
// A frame is the header and Config.Size bytes; an acknowledgement is the
// header alone (see the package doc).
const seqBytes = 8

// server is a leader or a follower: it appends every frame it reads to its
// log. A follower acknowledges each frame once durable; the leader also
// sends each frame to its followers and acknowledges it to the client
// once a majority holds it. Each serves one connection at a time (the
// client's, or the leader's): its log takes one writer.
type server struct {
	ln       net.Listener
	log      *wal
	size     int
	quorum   int           // acknowledgements needed, the leader's own included
	peers    []net.Conn    // the leader's followers
	acks     chan uint64   // the followers' acknowledgements
	lost     chan struct{} // closed when a follower's connection fails
	lostOnce sync.Once
	done     chan struct{} // closed by close
	delay    time.Duration // tests: how long a follower waits before each append

	closeMu    sync.Mutex
	conns      []net.Conn     // guarded by closeMu
	isClosed   bool           // guarded by closeMu
	goroutines sync.WaitGroup // serve's handler and readAcks; close waits for them before it closes the log
}

func newServer(sc serverConfig) (*server, error) {
	log, err := openLog(sc.Log, sc.LogSize, sc.Fallocate)
	if err != nil {
		return nil, err
	}
	s := &server{log: log, size: sc.Size, quorum: 1, acks: make(chan uint64, 16),
		lost: make(chan struct{}), done: make(chan struct{})}
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		log.close()
		return nil, fmt.Errorf("syncfloor: listen: %w", err)
	}
	if sc.Leader {
		s.quorum = sc.Replicas/2 + 1
		for _, p := range sc.Peers {
			c, err := net.Dial("tcp", p)
			if err != nil {
				s.close()
				return nil, fmt.Errorf("syncfloor: dial follower %s: %w", p, err)
			}
			s.peers = append(s.peers, c)
			if !s.track(c) {
				break
			}
			go func() {
				defer s.goroutines.Done()
				s.readAcks(c)
			}()
		}
	}
	return s, nil
}

func (s *server) logLen() int64 { return s.log.written.Load() }

func (s *server) addr() string { return s.ln.Addr().String() }

// serve handles connections one after another until the listener is
// closed: the leader's from the client, a follower's from the leader.
func (s *server) serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return err
		}
		if !s.track(c) {
			return net.ErrClosed
		}
		s.handle(c)
		s.goroutines.Done()
	}
}

// track records c so that close closes it, and counts the goroutine that
// serves it; false if the server is closed.
func (s *server) track(c net.Conn) bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		c.Close()
		return false
	}
	s.conns = append(s.conns, c)
	s.goroutines.Add(1)
	return true
}

// close closes the listener and every connection, waits for the goroutines
// that served them and removes the log. Safe to call more than once.
func (s *server) close() {
	s.closeMu.Lock()
	if s.isClosed {
		s.closeMu.Unlock()
		return
	}
	s.isClosed = true
	close(s.done)
	conns := s.conns
	s.closeMu.Unlock()
	s.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	s.goroutines.Wait() // each ends at its connection's close, after the append it is in
	s.log.close()
}

// handle serves one connection: for each frame, replicate (leader only),
// append, wait for the quorum (leader only) and acknowledge.
func (s *server) handle(c net.Conn) {
	defer c.Close()
	frame := make([]byte, seqBytes+s.size)
	for {
		if _, err := io.ReadFull(c, frame); err != nil {
			return
		}
		seq := binary.LittleEndian.Uint64(frame)
		for _, p := range s.peers {
			if _, err := p.Write(frame); err != nil {
				return // a follower is gone: the client sees the connection end
			}
		}
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		if err := s.log.append(frame); err != nil {
			return
		}
		for have := 1; have < s.quorum; {
			select {
			case got := <-s.acks:
				if got == seq { // older ones are the slower followers' acknowledgements of earlier frames
					have++
				}
			case <-s.lost:
				return
			case <-s.done:
				return
			}
		}
		if _, err := c.Write(frame[:seqBytes]); err != nil {
			return
		}
	}
}

// readAcks passes one follower's acknowledgements to the leader's handler.
// A follower that fails ends the measurement: the leader's handler stops
// waiting and its client sees the connection end (the floor is measured
// with every follower up).
func (s *server) readAcks(c net.Conn) {
	ack := make([]byte, seqBytes)
	for {
		if _, err := io.ReadFull(c, ack); err != nil {
			s.lostOnce.Do(func() { close(s.lost) })
			return
		}
		select {
		case s.acks <- binary.LittleEndian.Uint64(ack):
		case <-s.done:
			return
		}
	}
}
