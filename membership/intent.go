package membership

import (
	"encoding/json"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// leaveIntent is the user message Leave sends over TCP to every alive peer
// before memberlist's leave broadcast (format: see doc.go).
type leaveIntent struct {
	V    int    `json:"v"`
	Type string `json:"t"`
	ID   string `json:"id"`
}

// intentLeave is leaveIntent.Type for a leave (format).
const intentLeave = "leave"

// sendLeaveIntent tells every alive peer directly, over memberlist's TCP
// user messages, that this node is leaving, so that they record it as Left
// even if memberlist's leave broadcast reaches them before the gossiped
// leaving metadata. It waits for the sends until deadline; sends still in
// flight then finish on their own (bounded by memberlist's TCP timeout) and
// Close waits for them.
func (m *Membership) sendLeaveIntent(deadline time.Time) {
	msg, err := json.Marshal(leaveIntent{V: metaVersion, Type: intentLeave, ID: m.cfg.NodeID})
	if err != nil {
		m.log.Error("encode leave intent", "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, mem := range m.Alive("") {
		if mem.ID == m.cfg.NodeID {
			continue
		}
		node, ok := gossipNode(mem)
		if !ok {
			continue
		}
		wg.Add(1)
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			defer wg.Done()
			if err := m.ml.SendReliable(node, msg); err != nil {
				m.log.Debug("leave intent not delivered", "to", node.Name, "err", err)
			}
		}()
	}
	done := make(chan struct{})
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		m.log.Warn("leave intent: not every peer confirmed before the deadline")
	}
}

// gossipNode builds the memberlist address of a member from its
// GossipAddr (memberlist's own Node values are shared with its state and
// must not be read outside its callbacks).
func gossipNode(mem Member) (*memberlist.Node, bool) {
	host, port, err := net.SplitHostPort(mem.GossipAddr)
	if err != nil {
		return nil, false
	}
	ip := net.ParseIP(host)
	p, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil {
		return nil, false
	}
	return &memberlist.Node{Name: mem.ID, Addr: ip, Port: uint16(p)}, true
}

// observeIntent handles a user message: a leave intent marks its sender
// Left and publishes EventLeave (once). Anything else is logged and
// ignored.
func (m *Membership) observeIntent(buf []byte) {
	var in leaveIntent
	if err := json.Unmarshal(buf, &in); err != nil || in.V != metaVersion || in.Type != intentLeave {
		m.log.Warn("ignoring unknown user message", "bytes", len(buf), "err", err)
		return
	}
	m.mu.Lock()
	r, ok := m.members[in.ID]
	if !ok || r.member.State == StateLeft || in.ID == m.cfg.NodeID {
		m.mu.Unlock()
		return
	}
	r.member.State = StateLeft
	r.since = m.now()
	mem := r.member
	m.mu.Unlock()
	m.log.Debug("member leave", "id", mem.ID, "group", mem.Group, "via", "intent")
	m.hub.publish(Event{Type: EventLeave, Member: mem})
}
