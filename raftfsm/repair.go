package raftfsm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
)

// repairer owns the node's background scrub and repair: damaged records
// reported by the store (reads, Scrub, snapshot streams) are queued by
// their CommitLog offset, and the loop rewrites them from a replica's
// verified bytes (see doc.go, "Damaged CommitLog records"). It runs from
// startRaft until Close.
type repairer struct {
	n    *Node
	kick chan struct{}
	// ctx ends when the repairer closes; it bounds repair exchanges.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards pending
	pending map[int64]struct{}

	repaired int64 // records rewritten; guarded by mu
}

func newRepairer(n *Node) *repairer {
	ctx, cancel := context.WithCancel(context.Background())
	return &repairer{n: n, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, pending: map[int64]struct{}{}}
}

// report queues the damaged record of e. It never blocks (store.OnCorrupt).
func (r *repairer) report(e *store.CorruptError) {
	r.mu.Lock()
	r.pending[e.Offset] = struct{}{}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *repairer) start() { r.wg.Go(r.loop) }

func (r *repairer) close() {
	r.cancel()
	r.wg.Wait()
}

// loop scrubs every ScrubInterval and repairs what is pending, retrying
// every RepairRetry while a repair fails (no replica reachable or caught
// up yet).
func (r *repairer) loop() {
	scrub := time.NewTicker(r.n.cfg.ScrubInterval)
	defer scrub.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-scrub.C:
			if st := r.n.Store(); st != nil && r.n.failedErr() == nil {
				if err := st.Scrub(); err != nil && !errors.Is(err, store.ErrCorrupt) {
					r.n.log.Warn("scrub failed", "err", err)
				}
			}
		case <-r.kick:
		case <-retry.C:
		}
		if !r.repairPending() {
			retry.Reset(r.n.cfg.RepairRetry)
		}
	}
}

// repairPending tries every pending offset once; false if some remain.
func (r *repairer) repairPending() bool {
	r.mu.Lock()
	offs := slices.Sorted(maps.Keys(r.pending))
	r.mu.Unlock()
	done := true
	for _, off := range offs {
		if r.ctx.Err() != nil {
			return true
		}
		st := r.n.Store()
		n, err := r.n.repairOnline(st, off)
		r.mu.Lock()
		if err == nil {
			delete(r.pending, off)
			r.repaired += int64(n)
		} else {
			done = false
		}
		r.mu.Unlock()
		if err != nil {
			r.n.log.Warn("repair of damaged commitlog record failed; will retry", "offset", off, "err", err)
		}
	}
	if done && len(offs) > 0 {
		// Other damage in the same segments may hide behind the first
		// record each read or scrub reported.
		if st := r.n.Store(); st != nil {
			_ = st.Scrub()
		}
	}
	return done
}

// Repairs reports how many damaged CommitLog records this node rewrote
// from replicas, and how many damaged offsets still wait for a repair.
func (n *Node) Repairs() (repaired int64, pending int) {
	r := n.repairs
	if r == nil {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.repaired, len(r.pending)
}

// repairOnline repairs the damaged record at off in the open store st from
// the first replica that holds the bytes of its segment, verified.
func (n *Node) repairOnline(st *store.Store, off int64) (int, error) {
	if st == nil {
		return 0, fmt.Errorf("%w: no store", ErrUnavailable)
	}
	if off < st.MinCommitLogOffset() {
		return 0, nil // deleted by retention meanwhile
	}
	base, end := repairRange(off, st.SegmentSize(), st.MaxCommitLogOffset())
	return n.repairFromPeers(n.repairs.ctx, n.peerAddrs(), off, base, end, func(data []byte) (int, error) {
		k, err := st.RepairCommitLog(base, data)
		if err != nil {
			return k, err
		}
		// Everything repaired must now read back valid.
		if _, err := st.ReadVerified(base, len(data)); err != nil {
			return k, fmt.Errorf("raftfsm: still damaged after repair: %w", err)
		}
		return k, nil
	})
}

// repairWindow is how many bytes one repair asks a replica for: more than
// the largest record (store.MaxMessageSize defaults to 4 MiB), far less
// than a segment. Damage further on is found by the scrub that follows
// every successful repair.
const repairWindow = 8 << 20

// repairRange is the byte range a repair of the damaged record starting
// at off asks for: from off (a record start) for repairWindow bytes, cut
// at the segment end and at end (what the store vouches for).
func repairRange(off, segSize, end int64) (from, to int64) {
	return off, min(off+repairWindow, off-off%segSize+segSize, end)
}

// repairFromPeers fetches [base, end) from each peer in turn until one
// answers with verified bytes that cover the damaged record at off, and
// applies them.
func (n *Node) repairFromPeers(ctx context.Context, peers []string, off, base, end int64, apply func([]byte) (int, error)) (int, error) {
	if len(peers) == 0 {
		return 0, errors.New("raftfsm: no replica to repair from")
	}
	var errs []error
	for _, p := range peers {
		data, err := fetchRepair(ctx, p, base, int(end-base))
		if err == nil && base+int64(len(data)) <= off {
			err = fmt.Errorf("replica holds only [%d, %d), not the damaged record at %d", base, base+int64(len(data)), off)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		k, err := apply(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		n.log.Warn("REPAIRED damaged commitlog records from a replica", "replica", p, "offset", off,
			"range", fmt.Sprintf("[%d, %d)", base, base+int64(len(data))), "records", k)
		return k, nil
	}
	return 0, errors.Join(errs...)
}

// peerAddrs lists the Raft addresses of the other servers of the current
// configuration, leader first (it is the most up to date).
func (n *Node) peerAddrs() []string {
	if n.raft == nil {
		return nil
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	leader, _ := n.raft.LeaderWithID()
	var out []string
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == n.cfg.NodeID {
			continue
		}
		if s.Address == leader {
			out = append([]string{string(s.Address)}, out...)
		} else {
			out = append(out, string(s.Address))
		}
	}
	return out
}

// storedPeerAddrs is peerAddrs before Raft runs: the latest configuration
// in the Raft log, or else the newest snapshot's.
func (n *Node) storedPeerAddrs(metas []fileMeta) []string {
	var conf *raft.Configuration
	if n.logStore != nil {
		first, _ := n.logStore.FirstIndex()
		last, _ := n.logStore.LastIndex()
		for i := last; i >= first && i > 0; i-- {
			var l raft.Log
			if err := n.logStore.GetLog(i, &l); err != nil {
				continue
			}
			if l.Type == raft.LogConfiguration {
				c := raft.DecodeConfiguration(l.Data)
				conf = &c
				break
			}
		}
	}
	if conf == nil && len(metas) > 0 {
		conf = &metas[0].Raft.Configuration
	}
	var out []string
	if conf != nil {
		for _, s := range conf.Servers {
			if string(s.ID) != n.cfg.NodeID {
				out = append(out, string(s.Address))
			}
		}
	}
	if len(out) == 0 {
		for _, p := range n.cfg.Peers {
			if p.ID != n.cfg.NodeID {
				out = append(out, p.RaftAddr)
			}
		}
	}
	return out
}

// openRepairing opens the store; when recovery (or open) meets a damaged
// record in the region the store reported durable, it repairs the closed
// store from a replica and opens again, retrying for up to
// cfg.RepairTimeout. Nothing acknowledged is truncated away.
func (n *Node) openRepairing(metas []fileMeta, knownDurable int64) (*store.Store, error) {
	opts := n.storeOptions()
	opts.KnownDurable = knownDurable
	deadline := time.Now().Add(n.cfg.RepairTimeout)
	last := int64(-1)
	for {
		st, err := store.Open(n.storeDir(), opts)
		var cerr *store.CorruptError
		if err == nil || !errors.As(err, &cerr) {
			return st, err
		}
		if cerr.Offset == last {
			return nil, fmt.Errorf("raftfsm: store still damaged at %d after a repair: %w", last, err)
		}
		n.log.Error("store damaged at open; repairing from a replica before serving", "err", err)
		seg := n.cfg.Store.SegmentSize
		if seg <= 0 {
			seg = store.DefaultOptions().SegmentSize
		}
		base, end := repairRange(cerr.Offset, seg, cerr.End)
		_, rerr := n.repairFromPeers(context.Background(), n.storedPeerAddrs(metas), cerr.Offset, base, end, func(data []byte) (int, error) {
			return store.RepairDir(n.cfg.Store.FS, n.storeDir(), seg, base, data)
		})
		if rerr == nil {
			last = cerr.Offset
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("raftfsm: store damaged and no replica could repair it within %v: %w (last attempt: %v)", n.cfg.RepairTimeout, err, rerr)
		}
		n.log.Warn("repair at open failed; retrying", "err", rerr)
		time.Sleep(n.cfg.RepairRetry)
	}
}

// replayRepairing rebuilds the tables from the system records after
// CommitLog offset from; a damaged system record is repaired from a
// replica first (the replay collects every record before it applies any,
// so a retry starts clean).
func (n *Node) replayRepairing(st *store.Store, metas []fileMeta, from int64) error {
	deadline := time.Now().Add(n.cfg.RepairTimeout)
	for {
		err := n.replaySystem(st, from)
		var cerr *store.CorruptError
		if err == nil || !errors.As(err, &cerr) {
			return err
		}
		base, end := repairRange(cerr.Offset, st.SegmentSize(), st.MaxCommitLogOffset())
		_, rerr := n.repairFromPeers(context.Background(), n.storedPeerAddrs(metas), cerr.Offset, base, end, func(data []byte) (int, error) {
			return st.RepairCommitLog(base, data)
		})
		if rerr != nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("raftfsm: system record damaged and no replica could repair it within %v: %w (last attempt: %v)", n.cfg.RepairTimeout, err, rerr)
			}
			time.Sleep(n.cfg.RepairRetry)
		}
	}
}
