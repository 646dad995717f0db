package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/prodstream"
)

// leaderTrailer is the response trailer in which a node that is not the
// leader names the leader's gRPC address (host:port).
const leaderTrailer = "raftmq-leader"

// outcomeTrailer is the response trailer in which a node says a failed
// Produce was refused before it reached Raft ("not-applied"): nothing of
// it was stored, whatever the status code.
const outcomeTrailer, outcomeNotApplied = prodstream.OutcomeTrailer, prodstream.OutcomeNotApplied

// callSpec says where the attempts of one call go and how its errors read.
//
// An attempt of a routed call (topic set, addr not) at the node the route
// names as its group's leader is watched once it runs slow (attemptOnce):
// if another node of the group claims the leadership, the attempt is
// given up and, unless it is a produce that is not idempotent, retried
// there at once.
type callSpec struct {
	method string
	// addr pins every attempt to one node.
	addr string
	// topic, when set (and addr is not), routes the call to a broker group
	// of the topic: the owner of queue if hasQueue, else the group named
	// group, else the topic's first group. Empty topic and addr: any seed.
	topic    string
	group    string
	queue    uint32
	hasQueue bool
	// read lets the call go to a replica when the group has no leader.
	read bool
	// produce marks a write whose outcome may be unknown: DEADLINE_EXCEEDED
	// (or the context ending in flight) means ErrUnknownOutcome.
	produce bool
	// idempotent marks a produce that the broker stores at most once however
	// often it is sent (producer id and sequence): an attempt with an
	// unknown outcome is retried, and only when the retries end without an
	// answer does the call fail with ErrUnknownOutcome.
	idempotent bool
	// extraTimeout is added to the per-attempt timeout (a long poll's
	// wait, which a healthy broker may hold the call for); the leader
	// watch starts that much later too.
	extraTimeout time.Duration
	// hedge marks a read sent to a seed that may go to the next seed as
	// well when the first has not answered within the leader probe
	// (hedgedSeeds): a paused seed would hold it for the whole request
	// timeout.
	hedge bool
}

// rpcFunc makes one attempt of a call through stub b.
type rpcFunc[T any] func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (T, error)

// invoke runs fn with retries: UNAVAILABLE, FAILED_PRECONDITION and (for
// calls other than Produce) an attempt's DEADLINE_EXCEEDED are retried
// with backoff, DATA_LOSS (a replica's damaged copy) at once at another
// replica of the group (FAILED_PRECONDITION with a "raftmq-leader" trailer
// is retried at once at that leader), NOT_FOUND on a routed call is retried
// once after refreshing the route, anything else is returned. Retries stop
// at cfg.maxRetries or when ctx (shortened to cfg.retryTimeout) ends. An
// idempotent produce also retries DEADLINE_EXCEEDED; when it fails after
// an attempt whose outcome was unknown, the error is ErrUnknownOutcome.
// An attempt given up because another node took over its group's
// leadership (attemptOnce) is retried at once at that node, except a
// produce that is not idempotent, whose outcome is unknown.
func invoke[T any](ctx context.Context, c *Client, spec callSpec, fn rpcFunc[T]) (_ T, err error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, c.cfg.retryTimeout)
	defer cancel()
	maybeStored := false // an earlier attempt may have been applied
	defer func() {
		if err != nil && maybeStored {
			err = unknownOutcome(err)
		}
	}()
	var hint, hintGroup string
	// hintLeader: hint is the group's leader (a redirect or a move), not
	// another replica (a read moving off a damaged copy).
	hintLeader := false
	// pinned keeps an unrouted idempotent produce (sent to a seed, which
	// stores it in its own broker group) at the seed of the attempt that
	// may have stored it: another seed may be in another group, whose
	// producer table has never seen the sequence.
	var pinned string
	refreshed := false
	for attempt := 0; ; attempt++ {
		addr, group, atLeader := hint, hintGroup, hintLeader
		hint, hintGroup, hintLeader = "", "", false
		if pinned != "" && addr == "" {
			addr = pinned
		}
		var err error
		if addr == "" {
			var retry bool
			addr, group, atLeader, retry, err = c.resolve(ctx, spec, attempt)
			if err != nil && !retry {
				return zero, err
			}
		}
		var trailer metadata.MD
		moved := "" // another replica leads now: the attempt was given up
		if err == nil {
			if ctx.Err() != nil {
				// Not sent: a plain context error even for Produce.
				return zero, wrapRPC(ctx, spec.method, addr, ctx.Err(), false)
			}
			var resp T
			var by string
			resp, by, moved, err = attemptOnce(ctx, c, spec, addr, group, atLeader, fn, &trailer)
			if err == nil {
				c.rememberSeed(spec, by)
				return resp, nil
			}
			if errors.Is(err, ErrClosed) {
				return zero, err
			}
			// A node that refused the request before Raft says so: then
			// nothing was stored, whatever the code.
			notApplied := firstValue(trailer, outcomeTrailer) == outcomeNotApplied
			err = wrapRPC(ctx, spec.method, addr, err, spec.produce && !notApplied)
			switch status.Code(err) {
			case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable:
				if notApplied {
					break
				}
				maybeStored = maybeStored || spec.produce
				if spec.produce && spec.topic == "" && spec.addr == "" && pinned == "" {
					pinned = addr
				}
			}
		}
		if moved != "" {
			// Like a timed-out attempt (a produce's outcome is unknown),
			// but the new leader is known: go there at once, and ask it
			// first for routes too (the old one may answer nothing for
			// long). Only a produce that is not idempotent is not safe to
			// repeat; reads, heartbeats, offset commits and group leaves
			// are.
			c.routes.setLeader(spec.topic, group, moved)
			c.preferSeed(moved)
			retry := !(spec.produce && !spec.idempotent) && attempt < c.cfg.maxRetries && ctx.Err() == nil
			c.log.Warn("client: the leadership moved while a call was in flight", "method", spec.method,
				"from", addr, "to", moved, "retry", retry)
			if !retry {
				return zero, err
			}
			hint, hintGroup, hintLeader = moved, group, true
			continue
		}
		switch status.Code(err) {
		case codes.FailedPrecondition:
			if l := firstValue(trailer, leaderTrailer); l != "" && l != addr {
				c.log.Debug("client: redirected to leader", "method", spec.method, "from", addr, "to", l)
				if spec.topic != "" && group != "" {
					c.routes.setLeader(spec.topic, group, l)
				}
				if attempt >= c.cfg.maxRetries {
					return zero, err
				}
				hint, hintGroup, hintLeader = l, group, true
				continue
			}
			c.invalidate(spec)
		case codes.Unavailable:
			c.invalidate(spec)
		case codes.DeadlineExceeded:
			// The node may be hung (paused, partitioned) rather than
			// dead: forget the route that led there, so the next call
			// looks the leader up again. A plain produce's outcome is
			// unknown and is not retried; other calls, an idempotent
			// produce included, are safe to repeat and move on (a seed
			// call to the next seed).
			c.invalidate(spec)
			if (spec.produce && !spec.idempotent) || ctx.Err() != nil {
				return zero, err
			}
		case codes.DataLoss:
			// That replica holds a damaged copy of what was asked for: it
			// refuses to serve it and repairs itself from the others,
			// which hold the data. Ask another replica (a seed call moves
			// to the next seed by itself); only a call pinned to one node
			// gives up at once.
			if spec.addr != "" || attempt >= c.cfg.maxRetries {
				return zero, err
			}
			if alt := c.otherReplica(spec, group, addr, attempt); alt != "" {
				c.log.Warn("client: replica holds damaged data; reading from another", "method", spec.method, "from", addr, "to", alt)
				hint, hintGroup = alt, group
				continue
			}
			if spec.topic == "" {
				continue
			}
		case codes.NotFound:
			if spec.topic == "" || refreshed || attempt >= c.cfg.maxRetries {
				return zero, err
			}
			refreshed = true
			c.routes.invalidate(spec.topic)
			continue
		default:
			return zero, err
		}
		if attempt >= c.cfg.maxRetries {
			return zero, err
		}
		d := backoffDelay(c.cfg.backoffInitial, c.cfg.backoffMax, attempt)
		c.log.Debug("client: retrying", "method", spec.method, "addr", addr, "after", d, "err", err)
		if !sleepCtx(ctx, d) {
			return zero, err
		}
	}
}

// attemptOnce makes one attempt at addr with the per-attempt timeout; by
// is the node that answered. A call routed to group at its leader
// (atLeader) is given up early, as if it had timed out
// (DEADLINE_EXCEEDED), once another node of the group claims the
// leadership (watchLeader); moved is then that node's address. The watch
// starts when the attempt has run leaderProbe beyond its expected length
// (spec.extraTimeout, a long poll's wait), so that neither fast calls nor
// healthy long polls cause probes. A hedged seed read may be answered by
// another seed (hedgedSeeds).
func attemptOnce[T any](ctx context.Context, c *Client, spec callSpec, addr, group string, atLeader bool, fn rpcFunc[T], trailer *metadata.MD) (_ T, by, moved string, _ error) {
	var zero T
	actx, cancel := context.WithTimeout(ctx, c.cfg.requestTimeout+spec.extraTimeout)
	defer cancel()
	if spec.hedge && spec.addr == "" && spec.topic == "" && len(c.seeds) > 1 && c.cfg.leaderProbe > 0 {
		resp, by, err := hedgedSeeds(actx, c, addr, fn, trailer)
		return resp, by, "", err
	}
	b, err := c.conn(addr)
	if err != nil {
		return zero, addr, "", err
	}
	// Only an attempt at the node believed to lead (atLeader) is watched.
	// watchLeader reports any node other than addr that claims the
	// leadership in the highest term seen. For an attempt at the leader
	// that is a newer term than addr's (one leader per term): addr was
	// deposed. But a read may have gone to another replica (the route
	// knew no leader, or the leader's copy was damaged); for it the
	// claimant is just a leader it did not ask, which says nothing about
	// whether the replica asked is hung, and leaving would cancel every
	// slow read there for good. Such a read waits for its own timeout.
	if spec.topic == "" || spec.addr != "" || group == "" || !atLeader || c.cfg.leaderProbe <= 0 {
		resp, err := fn(actx, b, []grpc.CallOption{grpc.Trailer(trailer)})
		return resp, addr, "", err
	}
	// The watch starts only once the attempt is slow: a fast call pays
	// for a timer, not a goroutine.
	pctx, pcancel := context.WithCancelCause(actx)
	defer pcancel(nil)
	var newLeader string
	done := make(chan struct{})
	timer := time.AfterFunc(spec.extraTimeout+c.cfg.leaderProbe, func() {
		defer close(done)
		if l := c.watchLeader(pctx, spec.topic, group, addr); l != "" {
			newLeader = l
			pcancel(errLeaderMoved)
		}
	})
	resp, err := fn(pctx, b, []grpc.CallOption{grpc.Trailer(trailer)})
	if !timer.Stop() {
		pcancel(nil) // ends the watch; a move it saw first stays the cause
		<-done
	}
	if err != nil && errors.Is(context.Cause(pctx), errLeaderMoved) {
		return zero, addr, newLeader, status.Errorf(codes.DeadlineExceeded, "gave the attempt up: %s leads group %s now", newLeader, group)
	}
	return resp, addr, "", err
}

// hedgedSeeds sends a seed read to addr and, each time leaderProbe passes
// without an answer, also to the next seed, until one answers; it returns
// the first success (and who sent it), or the last failure once every
// seed tried has failed or ctx ended. The others are cancelled.
func hedgedSeeds[T any](ctx context.Context, c *Client, addr string, fn rpcFunc[T], trailer *metadata.MD) (T, string, error) {
	type answer struct {
		resp T
		md   metadata.MD
		err  error
		by   string
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	next := slices.Index(c.seeds, addr) // -1 if addr is not a seed: start at seeds[0]
	answers := make(chan answer, len(c.seeds)+1)
	send := func(a string) {
		wg.Go(func() {
			var md metadata.MD
			b, err := c.conn(a)
			var resp T
			if err == nil {
				resp, err = fn(ctx, b, []grpc.CallOption{grpc.Trailer(&md)})
			}
			answers <- answer{resp, md, err, a}
		})
	}
	send(addr)
	pending, tried := 1, 1
	t := time.NewTimer(c.cfg.leaderProbe)
	defer t.Stop()
	var last answer
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			if a.err == nil {
				*trailer = a.md
				return a.resp, a.by, nil
			}
			last = a
		case <-t.C:
			if tried < len(c.seeds) {
				next = (next + 1) % len(c.seeds)
				if c.seeds[next] == addr {
					next = (next + 1) % len(c.seeds)
				}
				c.log.Debug("client: seed slow to answer; asking another too", "slow", addr, "also", c.seeds[next])
				send(c.seeds[next])
				pending++
				tried++
				t.Reset(c.cfg.leaderProbe)
			}
		}
	}
	*trailer = last.md
	return last.resp, last.by, last.err
}

// resolve picks the address of one attempt and, for a routed call, its
// broker group; leader reports whether addr is that group's leader per the
// route (a read may go to another replica). retry reports whether a
// resolution error is worth retrying (a group without a leader).
func (c *Client) resolve(ctx context.Context, spec callSpec, attempt int) (addr, group string, leader, retry bool, err error) {
	switch {
	case spec.addr != "":
		return spec.addr, "", false, false, nil
	case spec.topic == "":
		i := (int(c.seedNext.Load()) + attempt) % len(c.seeds)
		return c.seeds[i], "", false, false, nil
	}
	rt, err := c.route(ctx, spec.topic)
	if err != nil {
		return "", "", false, false, err
	}
	var g *groupRoute
	switch {
	case spec.hasQueue:
		if g = rt.byQueue[spec.queue]; g == nil {
			return "", "", false, false, clientError(spec.method, codes.InvalidArgument, "topic %q has no queue %d", spec.topic, spec.queue)
		}
	case spec.group != "":
		g = rt.byName[spec.group]
	}
	if g == nil {
		g = rt.groups[0]
	}
	addr = g.leader
	if spec.read {
		addr = g.readAddr()
	}
	if addr == "" {
		return "", g.name, false, true, clientError(spec.method, codes.Unavailable, "group %q of topic %q has no leader", g.name, spec.topic)
	}
	return addr, g.name, addr == g.leader, false, nil
}

// otherReplica returns a replica of spec's group other than addr (rotating
// with attempt), or "" if the route names none.
func (c *Client) otherReplica(spec callSpec, group, addr string, attempt int) string {
	if spec.topic == "" || group == "" {
		return ""
	}
	rt := c.routes.get(spec.topic, c.cfg.routeTTL, time.Now())
	if rt == nil || rt.byName[group] == nil {
		return ""
	}
	var others []string
	for _, r := range rt.byName[group].replicas {
		if r != addr {
			others = append(others, r)
		}
	}
	if len(others) == 0 {
		return ""
	}
	return others[attempt%len(others)]
}

// invalidate forgets the route a failed call used, so the next attempt
// fetches it again.
func (c *Client) invalidate(spec callSpec) {
	if spec.topic != "" && spec.addr == "" {
		c.routes.invalidate(spec.topic)
	}
}

// rememberSeed makes the seed that answered a seed call the first one tried
// next time.
func (c *Client) rememberSeed(spec callSpec, addr string) {
	if spec.addr != "" || spec.topic != "" {
		return
	}
	c.preferSeed(addr)
}

// preferSeed makes addr, if it is a seed, the first one the next seed
// call tries.
func (c *Client) preferSeed(addr string) {
	for i, s := range c.seeds {
		if s == addr {
			c.seedNext.Store(uint32(i))
			return
		}
	}
}

func firstValue(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
