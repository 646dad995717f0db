package checker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/raftmq/raftmq/client"
)

// Checker phases.
const (
	phaseNew = iota
	phaseRunning
	phaseStopped
	phaseClosed
)

// Client settings of the workload: short back-offs and many retries, so
// that a send blocked across a failover resumes within a round trip of
// the new leader and gives up only at the send timeout.
const (
	backoffInitial = 10 * time.Millisecond
	backoffMax     = 200 * time.Millisecond
	maxRetries     = 1 << 20
	routeTTL       = time.Second
	// failurePause is how long a producer waits after a send that did not
	// succeed, so a cluster that fails fast is not hammered.
	failurePause = 10 * time.Millisecond
)

// Checker runs one workload and checks it. Start, Fault (any number of
// times), Stop, Check, Close; WriteHistory any time after Stop. All
// methods are safe for concurrent use.
type Checker struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex // guards every field below
	// phase is phaseNew, phaseRunning, phaseStopped or phaseClosed.
	phase int
	cl    *client.Client
	// stop is closed by Stop to end the producers.
	stop chan struct{}
	// start and end bound the workload.
	start, end time.Time
	sends      []Send
	faults     []Fault
	// reads are those of the last Check.
	reads []Read
	// checks counts Check calls (each uses a fresh consumer group).
	checks int

	wg sync.WaitGroup // producers
}

// New returns a Checker for cfg; it contacts nothing until Start.
func New(cfg Config) (*Checker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Checker{cfg: cfg, log: cfg.Logger.With("topic", cfg.Topic, "run", cfg.RunID)}, nil
}

// Topic returns the topic the workload writes.
func (c *Checker) Topic() string { return c.cfg.Topic }

// Start connects, creates the topic if Config.Queues is set (ctx bounds
// this) and starts the producers, which run until Stop.
func (c *Checker) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseNew {
		return fmt.Errorf("%w: Start in phase %d", ErrState, c.phase)
	}
	cl, err := client.Dial(ctx, c.cfg.Addrs,
		client.WithRequestTimeout(c.cfg.RequestTimeout), client.WithRetryTimeout(c.cfg.SendTimeout),
		client.WithBackoff(backoffInitial, backoffMax), client.WithMaxRetries(maxRetries),
		client.WithRouteTTL(routeTTL), client.WithLogger(c.cfg.Logger), client.WithAddressMap(c.cfg.AddrMap))
	if err != nil {
		return err
	}
	if c.cfg.Queues > 0 {
		if err := cl.CreateTopic(ctx, c.cfg.Topic, c.cfg.Queues); err != nil {
			return errors.Join(fmt.Errorf("checker: create topic %s: %w", c.cfg.Topic, err), cl.Close())
		}
		// A follower applies the new topic a moment after the leader
		// answered; a producer asking it for the route meanwhile gets
		// NOT_FOUND, which would count as failed sends.
		if err := waitTopic(ctx, c.cfg.Replicas, c.cfg.Topic); err != nil {
			return errors.Join(err, cl.Close())
		}
	}
	p, err := client.NewProducer(cl)
	if err != nil {
		return errors.Join(err, cl.Close())
	}
	c.cl, c.stop, c.phase, c.start = cl, make(chan struct{}), phaseRunning, time.Now()
	for id := range c.cfg.Producers {
		c.wg.Go(func() { c.produce(p, id) })
	}
	c.log.Info("checker started", "producers", c.cfg.Producers)
	return nil
}

// Fault records a fault named name as happening now.
func (c *Checker) Fault(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, Fault{Name: name, Time: time.Now()})
}

// Stop ends the producers and waits for their sends in flight (bounded by
// Config.SendTimeout).
func (c *Checker) Stop() error {
	c.mu.Lock()
	if c.phase != phaseRunning {
		c.mu.Unlock()
		return fmt.Errorf("%w: Stop in phase %d", ErrState, c.phase)
	}
	c.phase = phaseStopped
	close(c.stop)
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	c.end = time.Now()
	n := len(c.sends)
	c.mu.Unlock()
	c.log.Info("checker stopped", "sends", n)
	return nil
}

// produce is producer id's loop: one message per Send until Stop.
func (c *Checker) produce(p *client.Producer, id int) {
	for seq := uint64(0); ; seq++ {
		select {
		case <-c.stop:
			return
		default:
		}
		k := msgKey{Producer: id, Seq: seq}
		body := encodeBody(c.cfg.RunID, c.cfg.Seed, k, c.cfg.BodySize)
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.SendTimeout)
		s := Send{Producer: id, Seq: seq, Start: time.Now()}
		res, err := p.Send(ctx, c.cfg.Topic, &client.Message{Body: body})
		s.End = time.Now()
		cancel()
		s.Outcome = classify(err)
		if err != nil {
			s.Err = err.Error()
		} else {
			s.MsgID, s.Queue, s.Offset = res[0].MsgID, res[0].QueueID, res[0].QueueOffset
		}
		c.mu.Lock()
		c.sends = append(c.sends, s)
		c.mu.Unlock()
		if s.Outcome != OutcomeOK {
			select {
			case <-c.stop:
				return
			case <-time.After(failurePause):
			}
		}
	}
}

// classify maps a Send error to an outcome (see the package doc).
func classify(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, client.ErrUnknownOutcome), errors.Is(err, client.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return OutcomeUnknown
	case errors.Is(err, client.ErrNotLeader), errors.Is(err, client.ErrInvalidArgument),
		errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrResourceExhausted),
		errors.Is(err, client.ErrAlreadyExists), errors.Is(err, client.ErrClosed):
		return OutcomeFailed
	}
	// An error the client does not classify: assume it may have stored.
	return OutcomeUnknown
}

// Sends returns a copy of the sends recorded so far.
func (c *Checker) Sends() []Send {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Send(nil), c.sends...)
}

// Counts returns how many sends so far were acked, failed and unknown.
func (c *Checker) Counts() (acked, failed, unknown int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.sends {
		switch c.sends[i].Outcome {
		case OutcomeOK:
			acked++
		case OutcomeFailed:
			failed++
		default:
			unknown++
		}
	}
	return acked, failed, unknown
}

// WriteHistory writes the sends, faults and the last Check's reads as
// JSON lines to w.
func (c *Checker) WriteHistory(w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return writeHistory(w, c.sends, c.faults, c.reads)
}

// WriteHistoryFile writes the history (see WriteHistory) to path.
func (c *Checker) WriteHistoryFile(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return writeHistoryFile(path, c.sends, c.faults, c.reads)
}

// Close stops the producers if they run and closes the connections.
func (c *Checker) Close() error {
	c.mu.Lock()
	running := c.phase == phaseRunning
	c.mu.Unlock()
	var errs []error
	if running {
		errs = append(errs, c.Stop())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase = phaseClosed
	if c.cl != nil {
		errs = append(errs, c.cl.Close())
		c.cl = nil
	}
	return errors.Join(errs...)
}

// Run is Start, a workload of duration d (or until ctx ends), Stop and
// Check: the whole check without faults, as `mqctl check` runs it. The
// Check runs even when ctx ended (an interrupted workload is still
// checked), bounded by its own settle and consume timeouts.
func (c *Checker) Run(ctx context.Context, d time.Duration) (*Report, error) {
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	if err := c.Stop(); err != nil {
		return nil, err
	}
	return c.Check(context.WithoutCancel(ctx))
}
