package raftfsm

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
)

// Node is one member of a broker group: a hashicorp/raft instance whose
// state machine appends committed entries to this node's store.
type Node struct {
	cfg Config
	log *slog.Logger

	st       atomic.Pointer[store.Store]
	raft     *raft.Raft
	trans    *raft.NetworkTransport
	snaps    *snapshotStore
	closer   []func() error // log/stable store closers
	logStore raft.LogStore
	// leaderLog is the log store's parallel leader append (nil with
	// Config.SerialLeaderAppend).
	leaderLog *leaderLog
	clamp     *clampTransport

	tablesMu sync.RWMutex // guards tables
	tables   *tables
	// producers is the idempotent-produce table (producers.go), owned by
	// the FSM goroutine (and by Open and installStaged, when no apply runs).
	producers *producerTable

	appliedIndex atomic.Uint64
	appliedMu    sync.Mutex // guards appliedCh
	appliedCh    chan struct{}
	failed       atomic.Pointer[error]
	// applyingSince is when the running ApplyBatch started, in
	// nanoseconds since epoch plus one (monotonic clock), 0 between calls
	// (Status.ApplyingFor).
	applyingSince atomic.Int64
	epoch         time.Time
	// raftStop stops Raft once; every caller waits for that one shutdown
	// (hashicorp/raft's second Shutdown returns a future that does not
	// wait).
	raftStop     sync.Once
	raftStopping raft.Future
	// raftUp is set once raft holds the started Raft instance, so that
	// fail, which may run earlier on another goroutine, reads it only then.
	raftUp    atomic.Bool
	lastTS    atomic.Int64 // last store timestamp the leader proposed
	installs  atomic.Int64 // snapshots installed from a leader
	closeOnce sync.Once

	stable  raft.StableStore
	repairs *repairer // scrub and repair of damaged CommitLog records
}

// Open starts a node: it opens (and if needed recovers) the store,
// installs a snapshot that was received but not yet swapped in, rebuilds
// the FSM tables, and starts Raft.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), tables: newTables(), producers: newProducerTable(), appliedCh: make(chan struct{}), epoch: time.Now()}
	n.repairs = newRepairer(n)
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()
	raftDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o755); err != nil {
		return nil, err
	}
	var err error
	if n.snaps, err = newSnapshotStore(filepath.Join(raftDir, "snapshots"), n); err != nil {
		return nil, err
	}
	// The Raft log opens first: a store damaged at open is repaired from
	// the replicas its latest configuration names.
	if n.logStore, n.stable, err = n.openLogStore(raftDir); err != nil {
		return nil, err
	}
	if cfg.WrapLogStore != nil {
		n.logStore = cfg.WrapLogStore(n.logStore)
	}
	n.logStore = &appendFailure{LogStore: n.logStore, onFail: func(err error) { n.fail(err) }}
	if cfg.LogCacheEntries > 0 {
		// The cache sits under the leader log, never over it: a cache
		// over it would serve a former leader's queued, not yet durable
		// entries to hashicorp/raft's follower path, which would then
		// acknowledge them as stored (leaderLog.GetLog drains first).
		cached, err := raft.NewLogCache(cfg.LogCacheEntries, n.logStore)
		if err != nil {
			return nil, fmt.Errorf("raftfsm: raft log cache: %w", err)
		}
		n.logStore = cached
	}
	if !cfg.SerialLeaderAppend {
		ll, err := newLeaderLog(n.logStore, func(err error) { n.fail(err) })
		if err != nil {
			return nil, err
		}
		n.leaderLog, n.logStore = ll, ll
		// Written out before the stores underneath close.
		n.closer = append([]func() error{ll.Close}, n.closer...)
	}
	if err := n.openStore(); err != nil {
		return nil, err
	}
	if err := n.startRaft(); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

func (n *Node) storeDir() string { return filepath.Join(n.cfg.Dir, "store") }

func (n *Node) storeOptions() store.Options {
	o := n.cfg.Store
	o.Logger = n.log
	o.RetentionFloor = n.snaps.floor
	// A replica must apply whatever was committed; the leader checks the
	// disk before proposing instead (Produce).
	o.SkipDiskCheck = true
	o.OnCorrupt = n.repairs.report
	// A store that failed (an I/O error writing or syncing) refuses
	// appends until it is reopened: the node cannot apply what is
	// committed and must stop, also when the failure came from the
	// flusher or the checkpoint rather than from an apply.
	o.OnFail = func(err error) { n.fail(err) }
	return o
}

// openStore opens the store, finishing a snapshot install if one was
// staged, and rebuilds the tables: the newest local snapshot's copy plus a
// replay of the system records written after it.
func (n *Node) openStore() error {
	metas, err := n.snaps.all()
	if err != nil {
		return err
	}
	if len(metas) > 0 && metas[0].Snap.Kind == kindStaged {
		return n.installStaged(metas[0].Raft.ID)
	}
	known := int64(0)
	for _, m := range metas {
		if m.Snap.Kind == kindLocal {
			known = m.Snap.CLEnd // fsynced before the snapshot existed
			break
		}
	}
	st, err := n.openRepairing(metas, known)
	if err != nil {
		return err
	}
	n.st.Store(st)
	from := int64(0)
	for _, m := range metas {
		if m.Snap.Kind == kindLocal {
			n.tables, from = m.Snap.Tables.clone(), m.Snap.CLEnd
			n.producers = m.Snap.producerTable()
			break
		}
	}
	return n.replayRepairing(st, metas, from)
}

// replaySystem applies the system records at or after CommitLog offset
// from to the tables.
func (n *Node) replaySystem(st *store.Store, from int64) error {
	type rec struct {
		off int64
		c   command
	}
	var recs []rec
	for _, topic := range []string{SysTopicTopics, SysTopicOffsets} {
		off, err := st.QueueOffsetAt(topic, 0, from)
		if err != nil {
			return err
		}
		for off < st.MaxOffset(topic, 0) {
			r, err := st.GetMessages(store.GetRequest{Topic: topic, Offset: off, MaxMessages: 256})
			if err != nil {
				return fmt.Errorf("raftfsm: replay %s: %w", topic, err)
			}
			for _, m := range r.Messages {
				c, err := decodeCommand(m.Body)
				if err != nil {
					return fmt.Errorf("raftfsm: replay %s at %d: %w", topic, m.CommitLogOffset, err)
				}
				recs = append(recs, rec{m.CommitLogOffset, c})
			}
			if r.NextOffset == off {
				break
			}
			off = r.NextOffset
		}
	}
	prods, err := n.rebuildProducers(st, from)
	if err != nil {
		return err
	}
	// Both topics interleave in the CommitLog; apply in log order.
	slices.SortFunc(recs, func(a, b rec) int { return cmp.Compare(a.off, b.off) })
	for _, r := range recs {
		_ = n.tables.apply(r.c) // refused commands were refused the first time too
	}
	n.producers = prods
	n.log.Info("tables rebuilt", "from", from, "system_records", len(recs), "topics", len(n.tables.Topics), "producers", len(prods.byID))
	return nil
}

func (n *Node) startRaft() error {
	logs, stable := n.logStore, n.stable
	hl := hclogFor(n.log)
	var adv net.Addr
	var err error
	if n.cfg.RaftAdvertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", n.cfg.RaftAdvertise); err != nil {
			return fmt.Errorf("raftfsm: advertise address: %w", err)
		}
	}
	// The Raft port also answers replicas' repair reads (mux.go).
	mux, err := newMuxLayer(n.cfg.RaftBind, adv, n.serveRepair)
	if err != nil {
		return fmt.Errorf("raftfsm: raft transport on %s: %w", n.cfg.RaftBind, err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: mux, MaxPool: 3, Timeout: 10 * time.Second, Logger: hl,
		// Pipelined replication is off (one AppendEntries in flight per
		// follower). hashicorp/raft's pipeline can wedge when a follower
		// answers Success=false: the sender parks on the in-flight channel
		// while the decoder parks on the done channel, so that follower is
		// never replicated to again and Raft.Shutdown never returns
		// (hashicorp/raft#612). Seen here as a six-node test hanging in
		// Close with exactly those two goroutines stuck.
		MaxRPCsInFlight: 1,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.MaxAppendEntries = n.cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = hl
	if n.cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, stable, n.snaps)
		if err != nil {
			return err
		}
		if !has {
			if err := raft.BootstrapCluster(rc, logs, stable, n.snaps, n.trans, n.bootstrapConfig()); err != nil {
				return fmt.Errorf("raftfsm: bootstrap: %w", err)
			}
		}
	}
	var trans raft.Transport = n.trans
	if n.leaderLog != nil {
		n.clamp = &clampTransport{NetworkTransport: n.trans, log: n.leaderLog, epoch: n.epoch}
		if !n.cfg.LeaderCopyBeforeApply {
			n.clamp.acks = &followerAcks{raft: n.termAndVoters}
		}
		trans = n.clamp
	}
	n.raft, err = raft.NewRaft(rc, &fsm{n: n}, logs, stable, n.snaps, trans)
	if err != nil {
		return err
	}
	n.raftUp.Store(true)
	if n.failedErr() != nil {
		go n.shutdownRaft() // failed before Raft started (fail saw raftUp false)
	}
	if n.leaderLog != nil {
		n.leaderLog.setRaft(n.raft)
		if a := n.clamp.acks; a != nil {
			f := a.quorumHolds
			n.leaderLog.quorum.Store(&f)
		}
	}
	n.repairs.start()
	return nil
}

// termAndVoters returns Raft's current term and the voters of its latest
// configuration (followerAcks); both are read without Raft's main loop.
func (n *Node) termAndVoters() (uint64, []raft.Server) { return n.raft.CurrentTerm(), n.voters() }

func (n *Node) bootstrapConfig() raft.Configuration {
	servers := []raft.Server{{ID: raft.ServerID(n.cfg.NodeID), Address: n.trans.LocalAddr()}}
	for _, p := range n.cfg.Peers {
		if p.ID == n.cfg.NodeID {
			continue
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	return raft.Configuration{Servers: servers}
}

// installStaged swaps a snapshot received from the leader in as this
// node's store. Called by FSM.Restore (no Apply runs concurrently) or at
// Open when a previous install was interrupted. Each step is safe to redo.
func (n *Node) installStaged(id string) error {
	m, err := n.snaps.load(id)
	if err != nil {
		return err
	}
	stage := filepath.Join(n.snaps.dir, id, "stage")
	dir, trash := n.storeDir(), n.storeDir()+".old"
	if old := n.st.Load(); old != nil {
		if err := old.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			n.log.Warn("closing store for snapshot install", "err", err)
		}
	}
	if _, err := os.Stat(stage); err == nil {
		if err := os.RemoveAll(trash); err != nil {
			return err
		}
		if err := os.Rename(dir, trash); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Rename(stage, dir); err != nil {
			return err
		}
		if err := syncDir(n.cfg.Dir); err != nil {
			return err
		}
	}
	st, err := store.Open(dir, n.storeOptions())
	if err != nil {
		return fmt.Errorf("raftfsm: open installed store: %w", err)
	}
	if end := st.MaxCommitLogOffset(); end != m.Snap.CLEnd {
		st.Close()
		return fmt.Errorf("raftfsm: installed store ends at %d, snapshot says %d", end, m.Snap.CLEnd)
	}
	for topic, qs := range m.Snap.Queues {
		for id, next := range qs {
			if st.MaxOffset(topic, id) == 0 && next > 0 {
				if err := st.ResetQueue(topic, id, next); err != nil {
					st.Close()
					return err
				}
			}
		}
	}
	n.installs.Add(1) // before the swap: tests watch the store, then this
	n.st.Store(st)
	n.tablesMu.Lock()
	n.tables = m.Snap.Tables.clone()
	n.tablesMu.Unlock()
	n.producers = m.Snap.producerTable()
	m.Snap.Kind = kindLocal
	if err := n.snaps.save(filepath.Join(n.snaps.dir, id), m); err != nil {
		return err
	}
	if n.leaderLog != nil {
		if err := n.leaderLog.restored(m.Raft.Index); err != nil {
			return err
		}
	}
	n.log.Info("installed snapshot", "id", id, "index", m.Raft.Index, "commitlog", fmt.Sprintf("[%d, %d)", st.MinCommitLogOffset(), m.Snap.CLEnd))
	n.notifyApplied()
	return os.RemoveAll(trash)
}

// fail stops the node for good: its store failed (an error applying, or
// the store failed in the background) or its Raft log could not be
// written. Raft is shut down (now, or as soon as it has started), and
// Status reports the error until the process is restarted.
func (n *Node) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if n.failed.CompareAndSwap(nil, &wrapped) {
		n.log.Error("node failed: its store or Raft log cannot be written; shutting Raft down (restart the node once the disk works)", "err", err)
		if n.raftUp.Load() {
			go n.shutdownRaft()
		}
	}
	return *n.failed.Load()
}

// shutdownRaft stops Raft on a failed node and closes its transport: the
// node's Raft port then refuses connections, so its peers see it down at
// once instead of waiting for requests to it to time out. A failed leader
// first hands off (handOff), once Raft's goroutines have ended (so the
// followers' acknowledgements it picks the target by are final) and
// while its transport is still open (clampTransport.Close leaves that to
// the Node).
func (n *Node) shutdownRaft() {
	start := time.Now()
	leading := n.raft.State() == raft.Leader && n.clamp != nil
	var voters []raft.Server
	if leading {
		voters = n.voters()
	}
	f := n.stopRaft()
	stopped := make(chan error, 1)
	go func() { stopped <- f.Error() }()
	var err error
	done := false
	select {
	case err = <-stopped:
		done = true
	case <-time.After(handOffWait): // an AppendEntries to a silent follower is still out
	}
	if leading {
		handed := make(chan struct{})
		go func() { defer close(handed); n.handOff(voters) }()
		select {
		case <-handed:
		case <-time.After(handOffWait):
		}
	}
	n.trans.Close()
	if !done {
		err = <-stopped
	}
	if err != nil {
		n.log.Warn("raft shutdown of the failed node", "err", err)
		return
	}
	n.log.Info("raft stopped on the failed node; its raft port is closed", "took", time.Since(start).Round(time.Millisecond))
}

// stopRaft starts Raft's shutdown the first time and returns its future
// to every caller.
func (n *Node) stopRaft() raft.Future {
	n.raftStop.Do(func() { n.raftStopping = n.raft.Shutdown() })
	return n.raftStopping
}

// applyStarted and applyEnded bracket an ApplyBatch for Status.ApplyingFor.
func (n *Node) applyStarted() { n.applyingSince.Store(int64(time.Since(n.epoch)) + 1) }
func (n *Node) applyEnded()   { n.applyingSince.Store(0) }

// applyingFor is how long the running ApplyBatch has run, 0 between calls.
func (n *Node) applyingFor() time.Duration {
	since := n.applyingSince.Load()
	if since == 0 {
		return 0
	}
	return max(time.Since(n.epoch)-time.Duration(since-1), 1)
}

// handOffWait bounds each wait of a failed leader's shutdown: for Raft's
// goroutines (an AppendEntries to a follower that does not answer) and
// for its hand-off request; a silent follower must not keep the failed
// node's Raft port open.
const handOffWait = 500 * time.Millisecond

// handOff, on a leader that failed, asks the voter that acknowledged the
// most of its log to start an election at once: Raft's TimeoutNow, the
// last step of a leadership transfer, which also lets the other voters
// vote while they still remember this leader. Without it the followers
// wait out their heartbeat timeout, and a first candidate is often
// refused by a follower that heard from this leader more recently (leader
// stickiness), which adds an election timeout: 1.3-3.7 s after a failed
// leader disk. The election itself stays the judge: a target whose log
// is behind another voter's loses it, and a normal election follows.
func (n *Node) handOff(voters []raft.Server) {
	// (Only a leader with the parallel append, n.clamp set, hands off.)
	// A follower that accepted this leader's AppendEntries within a
	// lease still follows it (the leader steps down without a quorum's
	// answers within its lease).
	follows := func(id raft.ServerID) bool { return n.clamp.answeredWithin(id, n.cfg.LeaderLeaseTimeout) }
	target, ok := handOffTarget(voters, raft.ServerID(n.cfg.NodeID), n.clamp.acks, follows)
	if !ok {
		return
	}
	req := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(n.cfg.NodeID), Addr: []byte(n.trans.LocalAddr()),
	}}
	var resp raft.TimeoutNowResponse
	if err := n.trans.TimeoutNow(target.ID, target.Address, req, &resp); err != nil {
		n.log.Warn("the failed leader could not hand off", "to", target.ID, "err", err)
		return
	}
	n.log.Info("the failed leader asked a follower to start an election now", "to", target.ID)
}

// handOffTarget picks, among the voters other than self that follows
// says still follow this leader, the one that acknowledged the highest
// index in the current term (acks may be nil: then the first of them).
// None when no voter follows: a leader that was already deposed without
// knowing must not start elections that would disrupt the new one.
func handOffTarget(voters []raft.Server, self raft.ServerID, acks *followerAcks, follows func(raft.ServerID) bool) (raft.Server, bool) {
	var best raft.Server
	var bestIdx uint64
	found := false
	for _, v := range voters {
		if v.ID == self || !follows(v.ID) {
			continue
		}
		idx := acks.ackedIndex(v.ID)
		if !found || idx > bestIdx {
			best, bestIdx, found = v, idx, true
		}
	}
	return best, found
}

func (n *Node) notifyApplied() {
	n.appliedMu.Lock()
	close(n.appliedCh)
	n.appliedCh = make(chan struct{})
	n.appliedMu.Unlock()
}

func (n *Node) storeMin() int64 {
	if st := n.st.Load(); st != nil {
		return st.MinCommitLogOffset()
	}
	return 0
}

// Close shuts the node down. A leader first hands leadership to another
// voter so the group does not wait for an election timeout.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		if n.raft != nil && n.raft.State() == raft.Leader {
			if len(n.voters()) > 1 {
				if terr := n.raft.LeadershipTransfer().Error(); terr != nil {
					n.log.Warn("leadership transfer on close", "err", terr)
				}
			}
		}
		err = n.closeAll()
	})
	return err
}

// Kill stops the node abruptly (no leadership transfer), for tests that
// simulate a crash of the Raft layer.
func (n *Node) Kill() error {
	var err error
	n.closeOnce.Do(func() { err = n.closeAll() })
	return err
}

func (n *Node) closeAll() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if n.repairs != nil {
		n.repairs.close()
	}
	if n.raft != nil {
		keep(n.stopRaft().Error())
	}
	if n.trans != nil {
		keep(n.trans.Close())
	}
	for _, c := range n.closer {
		keep(c())
	}
	if st := n.st.Load(); st != nil {
		if err := st.Close(); !errors.Is(err, store.ErrClosed) {
			keep(err)
		}
	}
	return first
}

func (n *Node) voters() []raft.Server {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []raft.Server
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, s)
		}
	}
	return out
}
