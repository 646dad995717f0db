package raftfsm

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft TCP port also serves the repair protocol (see doc.go): the
// stream layer reads the first byte of every accepted connection; raft's
// own RPC types are small integers, repairMagic is not one of them.
//
// Repair request (format: must not change without a new magic):
//
//	'R' (0x52) | version u8 = 1 | from int64 | length uint32
//
// Response: status u8 (0 = ok, 1 = refused) and then
//
//	ok:      length uint32 | CommitLog bytes | crc32c of the bytes uint32
//	refused: length uint16 | message
//
// The bytes are whole records starting at from, each verified by the
// sender (store.ReadVerified); the receiver checks the crc32c of the
// transfer and every record again before writing anything. The protocol
// is as trusted as Raft's own on that port: whoever can reach it can read
// the CommitLog, as whoever can reach it can send Raft RPCs.
const (
	repairMagic   byte = 'R'
	repairVersion byte = 1
	// repairIOTimeout bounds one repair exchange.
	repairIOTimeout = 30 * time.Second
	// maxRepairBytes bounds one response, whatever the request asks: room
	// for the largest record (repair asks for repairWindow).
	maxRepairBytes = 2 * repairWindow
)

// muxLayer is a raft.StreamLayer on a TCP listener that hands repair
// connections to serve and everything else to raft's NetworkTransport. Its
// goroutines (the accept loop and one per connection being sorted or
// served) end when Close is called.
type muxLayer struct {
	ln        net.Listener
	advertise net.Addr
	serve     func(net.Conn)

	conns chan net.Conn
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu sync.Mutex // guards pending and handed
	// pending are connections being sorted or served here; handed are
	// those given to raft. Close closes both: raft's NetworkTransport
	// does not close the connections it accepted, so their readers
	// would outlive it until every peer hung up.
	pending map[net.Conn]struct{}
	handed  map[*peekedConn]struct{}
}

var _ raft.StreamLayer = (*muxLayer)(nil)

func newMuxLayer(bind string, advertise net.Addr, serve func(net.Conn)) (*muxLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	m := &muxLayer{ln: ln, advertise: advertise, serve: serve, conns: make(chan net.Conn),
		stop: make(chan struct{}), pending: map[net.Conn]struct{}{}, handed: map[*peekedConn]struct{}{}}
	if a, ok := m.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raftfsm: raft address %v is not advertisable", m.Addr())
	}
	m.wg.Go(m.acceptLoop)
	return m, nil
}

func (m *muxLayer) acceptLoop() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		m.track(c, true)
		m.wg.Go(func() { m.sort(c) })
	}
}

func (m *muxLayer) track(c net.Conn, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if add {
		m.pending[c] = struct{}{}
	} else {
		delete(m.pending, c)
	}
}

// sort reads the first byte of c and routes it.
func (m *muxLayer) sort(c net.Conn) {
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(repairIOTimeout))
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		m.track(c, false)
		c.Close()
		return
	}
	if first[0] == repairMagic {
		m.serve(&peekedConn{Conn: c, r: br})
		m.track(c, false)
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br, m: m}
	m.mu.Lock()
	delete(m.pending, c)
	m.handed[pc] = struct{}{}
	m.mu.Unlock()
	select {
	case m.conns <- pc:
	case <-m.stop:
		pc.Close()
	}
}

// Accept returns the next raft connection.
func (m *muxLayer) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.stop:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes connections still being sorted or served,
// and waits for the layer's goroutines.
func (m *muxLayer) Close() error {
	var err error
	m.once.Do(func() {
		close(m.stop)
		err = m.ln.Close()
		m.mu.Lock()
		for c := range m.pending {
			c.Close()
		}
		for c := range m.handed {
			c.Conn.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return err
}

// Addr is the advertised address, or the listener's.
func (m *muxLayer) Addr() net.Addr {
	if m.advertise != nil {
		return m.advertise
	}
	return m.ln.Addr()
}

// Dial opens a raft connection.
func (m *muxLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}

// peekedConn is a connection whose first bytes were buffered by r; m,
// when set, tracks it until it is closed.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
	m *muxLayer
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// Close closes the connection and forgets it.
func (p *peekedConn) Close() error {
	if p.m != nil {
		p.m.mu.Lock()
		delete(p.m.handed, p)
		p.m.mu.Unlock()
	}
	return p.Conn.Close()
}

// serveRepair answers one repair request on c from this node's store.
func (n *Node) serveRepair(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(repairIOTimeout))
	var req [1 + 1 + 8 + 4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return
	}
	if req[1] != repairVersion {
		writeRefusal(c, fmt.Sprintf("repair protocol version %d unsupported", req[1]))
		return
	}
	from := int64(binary.BigEndian.Uint64(req[2:]))
	length := binary.BigEndian.Uint32(req[10:])
	st := n.Store()
	if st == nil {
		writeRefusal(c, "no store open")
		return
	}
	data, err := st.ReadVerified(from, int(min(int64(length), maxRepairBytes)))
	if err != nil {
		writeRefusal(c, err.Error())
		return
	}
	out := make([]byte, 0, 1+4+len(data)+4)
	out = append(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(data, crcTable))
	if _, err := c.Write(out); err != nil {
		n.log.Warn("repair: answering a replica failed", "err", err)
	}
}

func writeRefusal(c net.Conn, msg string) {
	msg = msg[:min(len(msg), 1<<15)]
	b := append([]byte{1}, byte(len(msg)>>8), byte(len(msg)))
	_, _ = c.Write(append(b, msg...))
}

// errRepairRefused: the replica asked for bytes could not give them.
var errRepairRefused = errors.New("raftfsm: replica refused the repair read")

// fetchRepair asks the node at raftAddr for CommitLog bytes [from,
// from+length); it may return fewer (whole records only).
// Ending ctx abandons the exchange.
func fetchRepair(ctx context.Context, raftAddr string, from int64, length int) ([]byte, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", raftAddr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(repairIOTimeout))
	req := []byte{repairMagic, repairVersion}
	req = binary.BigEndian.AppendUint64(req, uint64(from))
	req = binary.BigEndian.AppendUint32(req, uint32(length))
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	status, err := br.ReadByte()
	if err != nil {
		return nil, err
	}
	if status != 0 {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, err
		}
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(br, msg); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", errRepairRefused, msg)
	}
	var l [4]byte
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(l[:])
	if size > maxRepairBytes || int(size) > length {
		return nil, fmt.Errorf("raftfsm: repair response of %d bytes for %d asked", size, length)
	}
	data := make([]byte, size+4)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, err
	}
	if crc32.Checksum(data[:size], crcTable) != binary.BigEndian.Uint32(data[size:]) {
		return nil, errors.New("raftfsm: repair response checksum mismatch")
	}
	return data[:size], nil
}
