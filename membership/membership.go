package membership

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership is this node's view of the cluster through gossip. Its methods
// are safe for concurrent use.
type Membership struct {
	cfg        Config
	log        *slog.Logger
	ml         *memberlist.Memberlist
	gossipAddr string           // this node's advertised gossip host:port
	now        func() time.Time // clock for state-change times

	hub hub

	// leaving is set by Leave; NodeMeta then announces it.
	leaving atomic.Bool
	// closed is set by Close.
	closed atomic.Bool
	// joinAttempts counts Join calls made by the join loop (tests read it).
	joinAttempts atomic.Int64

	joinCancel context.CancelFunc // stops the join loop
	joinDone   chan struct{}      // closed when the join loop has exited
	bg         sync.WaitGroup     // leave-intent senders; Close waits

	// lifecycle serializes Leave and Close: memberlist panics on a Leave
	// after Shutdown.
	lifecycle sync.Mutex
	closeOnce sync.Once
	closeErr  error

	mu sync.Mutex // guards members
	// members maps node ID to the last known state of every member seen,
	// including this node; dead and left members stay until reaped.
	members map[string]*record
}

// record is one member and when it entered its current state.
type record struct {
	member Member
	since  time.Time
}

// New validates cfg, starts memberlist on cfg.BindAddr and, when cfg.Join is
// not empty, a goroutine that joins the seeds with exponential backoff until
// one answers (and again whenever this node finds itself alone). Close
// stops everything New started.
func New(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("node", cfg.NodeID)
	m := &Membership{
		cfg:      cfg,
		log:      logger,
		now:      time.Now,
		members:  make(map[string]*record),
		joinDone: make(chan struct{}),
	}
	mc := cfg.memberlistConfig(logger)
	d := &delegate{m: m}
	mc.Delegate, mc.Events = d, d
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	m.ml = ml
	m.gossipAddr = ml.LocalNode().Address()
	ctx, cancel := context.WithCancel(context.Background())
	m.joinCancel = cancel
	if len(cfg.Join) == 0 {
		close(m.joinDone)
	} else {
		go m.joinLoop(ctx)
	}
	m.log.Info("membership started", "gossip", m.gossipAddr, "group", cfg.Group, "seeds", cfg.Join)
	return m, nil
}

// Local returns this node as a member, with HasRaftState evaluated now.
// Its State is Alive, or Left after Leave.
func (m *Membership) Local() Member {
	st := StateAlive
	if m.leaving.Load() {
		st = StateLeft
	}
	return Member{
		ID:           m.cfg.NodeID,
		Group:        m.cfg.Group,
		GRPCAddr:     m.cfg.GRPCAddr,
		RaftAddr:     m.cfg.RaftAddr,
		Version:      m.cfg.Version,
		GossipAddr:   m.gossipAddr,
		HasRaftState: m.hasRaftState(),
		State:        st,
	}
}

// Members returns every known member, including this node (as Local
// reports it) and dead or left members not yet reaped, sorted by ID.
func (m *Membership) Members() []Member {
	local := m.Local()
	m.mu.Lock()
	m.reapLocked()
	out := make([]Member, 0, len(m.members)+1)
	for id, r := range m.members {
		if id != local.ID {
			out = append(out, r.member)
		}
	}
	m.mu.Unlock()
	out = append(out, local)
	sortMembers(out)
	return out
}

// Alive returns the alive members of group ("" means every group), this
// node included when it matches, sorted by ID.
func (m *Membership) Alive(group string) []Member {
	all := m.Members()
	out := all[:0]
	for _, mem := range all {
		if mem.State == StateAlive && (group == "" || mem.Group == group) {
			out = append(out, mem)
		}
	}
	return out
}

// UpdateMeta re-broadcasts this node's metadata, re-evaluating
// Config.HasRaftState; call it after that answer changes. It waits up to
// Config.BroadcastTimeout for the broadcast (ErrBroadcastTimeout; the new
// metadata still spreads with push/pull). ErrLeft after Leave, ErrClosed
// after Close.
func (m *Membership) UpdateMeta() error {
	switch {
	case m.closed.Load():
		return ErrClosed
	case m.leaving.Load():
		return ErrLeft
	}
	if err := m.ml.UpdateNode(m.cfg.BroadcastTimeout); err != nil {
		return fmt.Errorf("%w: update metadata: %v", ErrBroadcastTimeout, err)
	}
	return nil
}

// Subscribe returns a channel of membership events from now on, and a
// cancel function that stops delivery and closes the channel (Close does
// the same for every subscriber). Read Members after subscribing for the
// current state.
//
// Delivery never blocks memberlist: a subscriber that falls behind has its
// undelivered events coalesced per member — at most one pending event per
// member, carrying the member's latest state (an Update after an
// undelivered Join stays a Join). Memory is therefore bounded by the
// number of members, no event about a member's latest state is lost, and
// events for one member arrive in order; intermediate transitions (a fail
// followed by a rejoin) may be collapsed, so handlers must treat events as
// level-triggered ("this is the member now").
func (m *Membership) Subscribe() (<-chan Event, func()) {
	return m.hub.subscribe()
}

// Leave announces that this node is leaving: its metadata is re-gossiped
// with a leaving flag and a leave intent is sent directly to every alive
// peer (so peers record it as Left, not Dead), then memberlist's leave
// message is broadcast. It waits up to timeout in all
// (ErrBroadcastTimeout when it could not confirm the broadcast). The node
// keeps answering gossip until Close; the join loop stops. A timeout <= 0
// means Config.BroadcastTimeout. Calling it again is a no-op.
func (m *Membership) Leave(timeout time.Duration) error {
	m.lifecycle.Lock()
	defer m.lifecycle.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.leaving.Swap(true) {
		return nil
	}
	if timeout <= 0 {
		timeout = m.cfg.BroadcastTimeout
	}
	m.joinCancel()
	deadline := time.Now().Add(timeout)
	if err := m.ml.UpdateNode(timeout); err != nil {
		m.log.Warn("leave: metadata broadcast not confirmed", "err", err)
	}
	m.sendLeaveIntent(deadline)
	remaining := max(time.Until(deadline), time.Millisecond)
	if err := m.ml.Leave(remaining); err != nil {
		return fmt.Errorf("%w: leave: %v", ErrBroadcastTimeout, err)
	}
	m.log.Info("left the cluster")
	return nil
}

// Close stops the join loop and memberlist (without announcing a leave:
// call Leave first for a graceful exit, otherwise peers declare this node
// dead) and closes every subscriber's channel. It waits for all goroutines
// New and Subscribe started. Safe to call more than once.
func (m *Membership) Close() error {
	m.closeOnce.Do(func() {
		m.lifecycle.Lock()
		m.closed.Store(true)
		m.lifecycle.Unlock()
		m.joinCancel()
		if err := m.ml.Shutdown(); err != nil {
			m.closeErr = fmt.Errorf("membership: shutdown memberlist: %w", err)
		}
		<-m.joinDone
		m.bg.Wait()
		m.hub.closeAll()
		m.log.Info("membership closed")
	})
	return m.closeErr
}

// hasRaftState calls Config.HasRaftState (nil means false).
func (m *Membership) hasRaftState() bool {
	return m.cfg.HasRaftState != nil && m.cfg.HasRaftState()
}

// reapLocked forgets members dead or left for longer than Config.ReapAfter.
func (m *Membership) reapLocked() {
	if m.cfg.ReapAfter == 0 {
		return
	}
	now := m.now()
	for id, r := range m.members {
		gone := r.member.State == StateDead || r.member.State == StateLeft
		if gone && now.Sub(r.since) > m.cfg.ReapAfter {
			delete(m.members, id)
		}
	}
}
