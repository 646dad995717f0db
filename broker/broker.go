package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Broker is one node's message service over its group's Replicator. All
// methods are safe for concurrent use. It owns four goroutines, stopped
// by Close: the produce batcher, the offset-commit batcher, the
// consumer-session reaper and the leader's apply watchdog (watchdog.go).
type Broker struct {
	cfg Config
	rep Replicator
	dir Directory
	log *slog.Logger

	produce *batcher[raftfsm.ProduceRequest, raftfsm.ProduceResult]
	commits *batcher[[]raftfsm.OffsetCommit, struct{}]
	coord   *coordinator
	peers   atomic.Pointer[Peers] // other groups; nil until SetPeers
	placeMu sync.Mutex            // one topic placement at a time (placement.go)

	rrMu sync.Mutex        // guards rr
	rr   map[string]uint32 // topic -> next round-robin queue

	closed    atomic.Bool
	stop      chan struct{} // closed by Close: loops exit, long polls return
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the loops above
}

// New starts a broker over rep, which it owns from now on (Close closes
// it). cfg is completed with defaults and validated.
func New(cfg Config, rep Replicator) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:  cfg,
		rep:  rep,
		dir:  cfg.Directory,
		log:  cfg.Logger.With("group", cfg.GroupID, "node", cfg.NodeID),
		rr:   make(map[string]uint32),
		stop: make(chan struct{}),
	}
	b.produce = newBatcher(cfg.MaxBatchMessages, cfg.MaxBatchBytes, cfg.ProducePipeline, produceSize, b.applyProduce, b.stop)
	b.commits = newBatcher(cfg.MaxCommitOffsets, int(^uint(0)>>1), 1, commitSize, b.applyCommits, b.stop)
	b.coord = newCoordinator(b.stop)
	b.wg.Add(3)
	go func() { defer b.wg.Done(); b.produce.run() }()
	go func() { defer b.wg.Done(); b.commits.run() }()
	go func() { defer b.wg.Done(); b.coord.reap() }()
	if cfg.ApplyStallTimeout > 0 {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.watchApply() }()
	}
	if cfg.DiskFullCheck > 0 {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.watchDisk() }()
	}
	return b, nil
}

// Close stops the broker: new calls fail with ErrClosed, long polls
// return, the batchers finish the Raft apply in flight and fail what is
// queued, and then the Replicator is closed (which hands leadership to
// another voter first when this node leads). Close is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		close(b.stop)
		b.wg.Wait()
		b.closeErr = b.rep.Close()
		b.log.Info("broker closed", "err", b.closeErr)
	})
	return b.closeErr
}

// Config returns the broker's configuration with defaults applied.
func (b *Broker) Config() Config { return b.cfg }

// NodeID returns this node's id.
func (b *Broker) NodeID() string { return b.cfg.NodeID }

// Failed is non-nil once this node's replica failed for good (see
// Replicator.Err): the API then refuses everything but cluster status.
func (b *Broker) Failed() error { return b.rep.Err() }

// GroupID returns this node's broker group.
func (b *Broker) GroupID() string { return b.cfg.GroupID }

// IsLeader reports whether this node leads its group.
func (b *Broker) IsLeader() bool { return b.rep.IsLeader() }

// checkOpen fails with ErrClosed once Close has begun.
func (b *Broker) checkOpen() error {
	if b.closed.Load() {
		return ErrClosed
	}
	return nil
}

// checkLeader fails unless the broker is open and leads its group.
func (b *Broker) checkLeader() error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if !b.rep.IsLeader() {
		return b.notLeader()
	}
	return nil
}

// notLeader describes the current leader as an error: a *NotLeaderError
// when its gRPC address is known, ErrNoLeader otherwise.
func (b *Broker) notLeader() error {
	id, _ := b.rep.Leader()
	if id == "" || id == b.cfg.NodeID {
		// Our own id as leader while IsLeader is false means leadership
		// is being lost right now.
		return ErrNoLeader
	}
	addr := b.dir.GRPCAddr(id)
	if addr == "" {
		return fmt.Errorf("%w: leader %s has no known gRPC address", ErrNoLeader, id)
	}
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
}

// writeErr translates a Replicator write error: not-leader and
// no-leader become the broker's errors (with the leader's address), a
// command refused during a leadership transfer a no-leader error marked
// not applied; the rest is returned as is.
func (b *Broker) writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftfsm.ErrNotLeader):
		return b.notLeader()
	case errors.Is(err, raftfsm.ErrTransferInProgress):
		// Refused before Raft appended anything: the client may send
		// it again (to the next leader) without storing it twice.
		return notAppliedError{fmt.Errorf("%w: %w", ErrNoLeader, err)}
	case errors.Is(err, raftfsm.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	case errors.Is(err, store.ErrClosed) && b.closed.Load():
		return ErrClosed
	}
	return err
}

// applyCtx bounds one Raft apply by ApplyTimeout, on top of ctx.
func (b *Broker) applyCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.ApplyTimeout)
}

// withStore runs fn on the current store, once more on a fresh one if the
// store was closed under it by a snapshot install.
func (b *Broker) withStore(fn func(*store.Store) error) error {
	err := fn(b.rep.Store())
	if errors.Is(err, store.ErrClosed) && !b.closed.Load() {
		err = fn(b.rep.Store())
	}
	return err
}
