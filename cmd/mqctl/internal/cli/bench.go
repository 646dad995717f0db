package cli

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

// Bench body layout (format), big endian, at the start of every body of
// at least benchHeaderLen bytes; the rest is zeros:
//
//	+--------+---------------------------------------------+
//	| bytes  | field                                       |
//	+--------+---------------------------------------------+
//	| 0..7   | run nonce (random per bench run)            |
//	| 8..15  | send time, Unix nanoseconds (int64)         |
//	+--------+---------------------------------------------+
//
// e2e reads both: messages of other runs are skipped, and the latency is
// the receive time minus the send time (one host's clock on both ends).
const benchHeaderLen = 16

// Histogram bounds (microseconds): 1µs to 10 minutes, 3 significant
// digits.
const (
	histMinMicros = 1
	histMaxMicros = int64(10 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// benchOpts are the flags of every bench mode.
type benchOpts struct {
	topic     string
	size      int
	producers int
	inflight  int
	batch     int
	count     int
	duration  time.Duration
	queues    uint32
	group     string
	progress  bool
	unary     bool
	cpuprof   string
}

func newBenchCmd(g *globals) *cobra.Command {
	cmd := groupCmd("bench", "Measure produce, consume and end-to-end throughput and latency")
	cmd.Long = `bench drives a raftmq group with synthetic messages and reports messages,
bytes, elapsed time, msg/s, MiB/s, latency percentiles (p50, p90, p99,
p99.9, max, from an HDR histogram at 3 significant digits) and errors.

  produce  --producers clients each keep up to --inflight messages in
           flight (SendAsync; --inflight 1 is one synchronous Send per
           message); latency is send to acknowledgement.
  consume  reads --count messages (or for --duration) as consumer group
           --group from the oldest stored message; throughput only.
  e2e      consumes while producing; latency is from the send time written
           in the body to the handler call.

The topic is created with --queues queues if it does not exist. --count
is the total over all producers. A progress line goes to standard error
once a second with --progress or when standard error is a terminal.
produce and e2e stop once no message has been acknowledged for --timeout
(the group is down or has no leader): messages still in flight fail at
once, and the throughput is over the time until the last acknowledgement;
consume stops once no message arrived for --timeout.
Exit status 1 if any message failed or a run stopped that way.`
	cmd.AddCommand(
		benchModeCmd(g, "produce", "Send messages as fast as the in-flight bound allows", runBenchProduce),
		benchModeCmd(g, "consume", "Read messages back with a consumer group", runBenchConsume),
		benchModeCmd(g, "e2e", "Produce and consume at once; latency from send to delivery", runBenchE2E),
	)
	return cmd
}

type benchRun func(cmd *cobra.Command, g *globals, o *benchOpts) error

func benchModeCmd(g *globals, mode, short string, run benchRun) *cobra.Command {
	var o benchOpts
	cmd := &cobra.Command{
		Use:   mode + " --topic T [flags]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(cmd, mode); err != nil {
				return err
			}
			if o.cpuprof == "" {
				return run(cmd, g, &o)
			}
			return withCPUProfile(o.cpuprof, func() error { return run(cmd, g, &o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.topic, "topic", "", "topic to use (required; created if missing)")
	f.IntVar(&o.size, "size", 1024, "message body size in bytes")
	f.IntVar(&o.producers, "producers", 1, "concurrent producers, each with its own connection")
	f.IntVar(&o.inflight, "inflight", 500, "messages in flight per producer (1: synchronous Send)")
	f.IntVar(&o.batch, "batch", 128, "client batch: max messages per Produce (consume: per Fetch)")
	f.IntVar(&o.count, "count", 0, "total messages (default 10000 unless --duration)")
	f.DurationVar(&o.duration, "duration", 0, "run for this long instead of --count")
	f.Uint32Var(&o.queues, "queues", 8, "queues of the topic if bench creates it")
	f.StringVar(&o.group, "group", "", "consumer group (default mqctl-bench, e2e: a new one per run)")
	f.BoolVar(&o.progress, "progress", false, "print progress to standard error once a second")
	f.BoolVar(&o.unary, "unary-produce", false, "send each Produce as its own call instead of on one stream per node (for comparisons)")
	f.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of this process (the load generator) to this file (go tool pprof)")
	_ = cmd.MarkFlagRequired("topic")
	cmd.MarkFlagsMutuallyExclusive("count", "duration")
	return cmd
}

// withCPUProfile runs fn under a CPU profile written to path: the load
// generator shares the machine with the brokers, so its own CPU is part
// of what a run measures.
func withCPUProfile(path string, fn func() error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	defer func() {
		pprof.StopCPUProfile()
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--cpuprofile: %w", cerr)
		}
	}()
	return fn()
}

func (o *benchOpts) validate(cmd *cobra.Command, mode string) error {
	switch {
	case o.size < 0:
		return usagef("--size %d: must not be negative", o.size)
	case o.producers < 1 || o.inflight < 1 || o.batch < 1:
		return usagef("--producers, --inflight and --batch must be at least 1")
	case o.count < 0 || o.duration < 0:
		return usagef("--count and --duration must not be negative")
	case o.queues < 1:
		return usagef("--queues must be at least 1")
	case mode == "e2e" && o.size < benchHeaderLen:
		return usagef("--size %d: e2e needs at least %d bytes for the send time", o.size, benchHeaderLen)
	}
	if !cmd.Flags().Changed("count") && o.duration == 0 {
		o.count = 10000
	}
	if o.count == 0 && o.duration == 0 {
		return usagef("--count 0: give a positive --count or a --duration")
	}
	if o.group == "" && mode != "e2e" {
		o.group = "mqctl-bench"
	}
	return nil
}

// benchReport is the stable JSON shape of a bench result. Latency fields
// are in microseconds and absent in consume mode.
type benchReport struct {
	Mode           string   `json:"mode"`
	Topic          string   `json:"topic"`
	Size           int      `json:"size"`
	Producers      int      `json:"producers,omitempty"`
	Inflight       int      `json:"inflight,omitempty"`
	Batch          int      `json:"batch"`
	Messages       int64    `json:"messages"`
	Bytes          int64    `json:"bytes"`
	ElapsedSeconds float64  `json:"elapsed_seconds"`
	MsgPerSec      float64  `json:"msg_per_sec"`
	MiBPerSec      float64  `json:"mib_per_sec"`
	Latency        *latency `json:"latency_us,omitempty"`
	Errors         int64    `json:"errors"`
	Unknown        int64    `json:"unknown_outcome"`
	FirstError     string   `json:"first_error,omitempty"`
}

// latency holds percentiles in microseconds.
type latency struct {
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p99_9"`
	Max  int64 `json:"max"`
}

// benchStats collects one run's outcomes from many goroutines.
type benchStats struct {
	done    atomic.Int64 // messages completed without error
	errs    atomic.Int64 // failed messages, unknown outcomes included
	unknown atomic.Int64 // messages whose outcome is unknown
	lastOK  atomic.Int64 // Unix ns of the first send or the latest success; 0 before

	mu       sync.Mutex // guards hist and firstErr
	hist     *hdrhistogram.Histogram
	firstErr error
}

func newBenchStats() *benchStats {
	return &benchStats{hist: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)}
}

// sinceOK is how long ago the latest message succeeded or the first was
// sent.
func (s *benchStats) sinceOK() time.Duration {
	return time.Since(time.Unix(0, s.lastOK.Load()))
}

// record counts one message: a success with its latency (d < 0: none
// measured) or a failure.
func (s *benchStats) record(d time.Duration, err error) {
	if err != nil {
		s.errs.Add(1)
		if errors.Is(err, client.ErrUnknownOutcome) {
			s.unknown.Add(1)
		}
		s.mu.Lock()
		if s.firstErr == nil {
			s.firstErr = err
		}
		s.mu.Unlock()
		return
	}
	s.done.Add(1)
	s.lastOK.Store(time.Now().UnixNano())
	if d < 0 {
		return
	}
	us := max(int64(d/time.Microsecond), histMinMicros)
	s.mu.Lock()
	_ = s.hist.RecordValue(min(us, histMaxMicros)) // clamped: cannot fail
	s.mu.Unlock()
}

// report builds the result of a run that moved messages over elapsed.
func (s *benchStats) report(mode string, o *benchOpts, elapsed time.Duration, withLatency bool) benchReport {
	r := benchReport{Mode: mode, Topic: o.topic, Size: o.size, Batch: o.batch,
		Messages: s.done.Load(), Errors: s.errs.Load(), Unknown: s.unknown.Load(),
		ElapsedSeconds: elapsed.Seconds()}
	if mode != "consume" {
		r.Producers, r.Inflight = o.producers, o.inflight
	}
	r.Bytes = r.Messages * int64(o.size)
	if secs := elapsed.Seconds(); secs > 0 {
		r.MsgPerSec = float64(r.Messages) / secs
		r.MiBPerSec = float64(r.Bytes) / secs / (1 << 20)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstErr != nil {
		r.FirstError = s.firstErr.Error()
	}
	if withLatency && s.hist.TotalCount() > 0 {
		r.Latency = &latency{P50: s.hist.ValueAtQuantile(50), P90: s.hist.ValueAtQuantile(90),
			P99: s.hist.ValueAtQuantile(99), P999: s.hist.ValueAtQuantile(99.9), Max: s.hist.Max()}
	}
	return r
}

// printBenchReport prints r as JSON or as a two-column table, and makes
// errors the exit status.
func printBenchReport(w io.Writer, asJSON bool, r benchReport) error {
	var err error
	if asJSON {
		err = writeJSON(w, r)
	} else {
		err = printBenchTable(w, r)
	}
	if err != nil {
		return failure(err)
	}
	if r.Errors > 0 {
		return failure(fmt.Errorf("%d message(s) failed (%d unknown outcome); first: %s", r.Errors, r.Unknown, r.FirstError))
	}
	return nil
}

func printBenchTable(w io.Writer, r benchReport) error {
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\t\n", k, v) }
	row("mode", r.Mode)
	row("topic", r.Topic)
	row("message size", strconv.Itoa(r.Size)+" B")
	if r.Mode != "consume" {
		row("producers x in flight", fmt.Sprintf("%d x %d", r.Producers, r.Inflight))
	}
	row("client batch", strconv.Itoa(r.Batch))
	row("messages", strconv.FormatInt(r.Messages, 10))
	row("bytes", strconv.FormatInt(r.Bytes, 10))
	row("elapsed", fmt.Sprintf("%.3fs", r.ElapsedSeconds))
	row("throughput", fmt.Sprintf("%.0f msg/s, %.2f MiB/s", r.MsgPerSec, r.MiBPerSec))
	if l := r.Latency; l != nil {
		us := func(v int64) string { return (time.Duration(v) * time.Microsecond).String() }
		row("latency", fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
			us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max)))
	}
	row("errors", fmt.Sprintf("%d (unknown outcome %d)", r.Errors, r.Unknown))
	if r.FirstError != "" {
		row("first error", r.FirstError)
	}
	return tw.Flush()
}

// benchPlan hands out messages to producers: count of them, or as many as
// fit before the deadline.
type benchPlan struct {
	count    int64
	deadline time.Time
	next     atomic.Int64
}

func newBenchPlan(o *benchOpts) *benchPlan {
	p := &benchPlan{count: int64(o.count)}
	if o.duration > 0 {
		p.deadline = time.Now().Add(o.duration)
	}
	return p
}

// claim reports whether one more message is to be sent.
func (p *benchPlan) claim(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.count > 0 {
		return p.next.Add(1) <= p.count
	}
	return time.Now().Before(p.deadline)
}

// errStalled ends a produce run in which no message succeeded for the
// client timeout (watchStall).
var errStalled = errors.New("no message acknowledged")

// watchStall cancels the run (cancel, with errStalled as the cause) once
// no message has succeeded for idle since the first one was sent or the
// latest one succeeded: a group that is down or has no leader fails each
// message only after the client's whole retry time, so a run that went on
// would take that long per message, and messages still queued in the
// client would each wait it out too. It returns when ctx ends.
func watchStall(ctx context.Context, stats *benchStats, idle time.Duration, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(min(idle/10, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if stats.lastOK.Load() != 0 && stats.sinceOK() >= idle {
			cancel(fmt.Errorf("stopped: %w for %v (is the group down or without a leader?)", errStalled, idle))
			return
		}
	}
}

// newBenchNonce returns a random run nonce.
func newBenchNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.BigEndian.Uint64(b[:])
}

// benchBody returns a body of size bytes stamped with nonce and now.
func benchBody(size int, nonce uint64, now time.Time) []byte {
	b := make([]byte, size)
	if size >= benchHeaderLen {
		binary.BigEndian.PutUint64(b[0:8], nonce)
		binary.BigEndian.PutUint64(b[8:16], uint64(now.UnixNano()))
	}
	return b
}

// parseBenchBody returns the nonce and send time of a bench body.
func parseBenchBody(b []byte) (nonce uint64, sent time.Time, ok bool) {
	if len(b) < benchHeaderLen {
		return 0, time.Time{}, false
	}
	return binary.BigEndian.Uint64(b[0:8]), time.Unix(0, int64(binary.BigEndian.Uint64(b[8:16]))), true
}

// ensureTopic creates topic with queues queues unless it exists.
func ensureTopic(ctx context.Context, g *globals, topic string, queues uint32) error {
	c, err := g.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	_, err = c.DescribeTopic(ctx, topic)
	if errors.Is(err, client.ErrNotFound) {
		err = c.CreateTopic(ctx, topic, queues)
	}
	if err != nil {
		return failure(fmt.Errorf("topic %s: %w", topic, err))
	}
	return nil
}

// produceAll runs o.producers producers until the plan runs out or the run
// stalls (watchStall) and returns when every message has completed; stats
// gets one record per message, with its send-to-acknowledgement latency.
// After a stall, the messages still in flight fail at once and the error
// wraps errStalled.
func produceAll(ctx context.Context, g *globals, o *benchOpts, nonce uint64, stats *benchStats) error {
	plan := newBenchPlan(o)
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var watch sync.WaitGroup
	watch.Go(func() { watchStall(run, stats, g.timeout, cancel) })
	var wg sync.WaitGroup
	errs := make([]error, o.producers)
	for i := range o.producers {
		wg.Go(func() { errs[i] = produceOne(run, g, o, plan, nonce, stats) })
	}
	wg.Wait()
	if cause := context.Cause(run); errors.Is(cause, errStalled) {
		errs = []error{failure(cause)} // the producers' errors are the cancellation
	}
	cancel(nil)
	watch.Wait()
	return errors.Join(errs...)
}

// produceOne is one producer with its own connection.
func produceOne(ctx context.Context, g *globals, o *benchOpts, plan *benchPlan, nonce uint64, stats *benchStats) error {
	var opts []client.Option
	if o.unary {
		opts = append(opts, client.WithUnaryProduce())
	}
	c, err := g.dial(ctx, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := client.NewProducer(c, client.WithBatchMaxMessages(o.batch),
		client.WithMaxPending(o.inflight), client.WithSendTimeout(g.timeout))
	if err != nil {
		return failure(err)
	}
	sem := make(chan struct{}, o.inflight) // one token per message in flight
	for plan.claim(ctx) {
		stats.lastOK.CompareAndSwap(0, time.Now().UnixNano()) // the idle clock starts
		if o.inflight == 1 {
			start := time.Now()
			sctx, cancel := context.WithTimeout(ctx, g.timeout)
			_, err := p.Send(sctx, o.topic, &client.Message{Body: benchBody(o.size, nonce, start)})
			cancel()
			stats.record(time.Since(start), err)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return errors.Join(ctx.Err(), p.Close())
		}
		start := time.Now()
		m := &client.Message{Body: benchBody(o.size, nonce, start)}
		p.SendAsync(ctx, o.topic, m, func(_ client.SendResult, err error) {
			stats.record(time.Since(start), err)
			<-sem
		})
	}
	return p.Close() // waits for every callback
}

// progress prints a line to w once a second until stop is closed:
// messages so far (done()), the rate over the last second and the errors.
func progress(w io.Writer, mode string, total int64, done func() int64, errs func() int64, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		n := done()
		pct := ""
		if total > 0 {
			pct = fmt.Sprintf(" (%.0f%%)", 100*float64(n)/float64(total))
		}
		fmt.Fprintf(w, "bench %s: %d msgs%s, %d msg/s, %d errors\n", mode, n, pct, n-last, errs())
		last = n
	}
}

// startProgress starts progress if --progress was given or standard error
// is a terminal, and returns the function that stops it.
func startProgress(cmd *cobra.Command, o *benchOpts, mode string, done, errs func() int64) func() {
	w := cmd.ErrOrStderr()
	if !o.progress && !isTerminal(w) {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { progress(w, mode, int64(o.count), done, errs, stop) })
	return func() { close(stop); wg.Wait() }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func runBenchProduce(cmd *cobra.Command, g *globals, o *benchOpts) error {
	ctx := cmd.Context()
	if err := ensureTopic(ctx, g, o.topic, o.queues); err != nil {
		return err
	}
	stats := newBenchStats()
	stop := startProgress(cmd, o, "produce", stats.done.Load, stats.errs.Load)
	start := time.Now()
	err := produceAll(ctx, g, o, newBenchNonce(), stats)
	elapsed := time.Since(start)
	stop()
	if errors.Is(err, errStalled) {
		// Throughput over the time messages still went through.
		elapsed = time.Unix(0, stats.lastOK.Load()).Sub(start)
	}
	var repErr error
	if stats.done.Load()+stats.errs.Load() > 0 {
		repErr = printBenchReport(cmd.OutOrStdout(), g.json, stats.report("produce", o, elapsed, true))
	}
	if err != nil && ctx.Err() == nil {
		return failure(errors.Join(err, repErr)) // both reasons, one exit status
	}
	return repErr
}

// benchSink is the consumer's Handler of consume and e2e; handlers of
// different queues call it concurrently.
type benchSink struct {
	limit int64 // consume: accept at most this many (0: no limit)
	e2e   bool  // skip other runs' messages and record send-to-delivery latency
	nonce uint64
	stats *benchStats

	claimed atomic.Int64 // messages claimed against limit
	first   atomic.Int64 // Unix ns of the first accepted message, 0 before
	last    atomic.Int64 // Unix ns of the latest accepted message
}

func (s *benchSink) handle(_ context.Context, m *client.Message) error {
	now := time.Now()
	lat := time.Duration(-1)
	if s.e2e {
		nonce, sent, ok := parseBenchBody(m.Body)
		if !ok || nonce != s.nonce {
			return nil // another run's message
		}
		lat = now.Sub(sent)
	}
	if s.limit > 0 && s.claimed.Add(1) > s.limit {
		return errEnough
	}
	s.first.CompareAndSwap(0, now.UnixNano())
	for {
		l := s.last.Load()
		if l >= now.UnixNano() || s.last.CompareAndSwap(l, now.UnixNano()) {
			break
		}
	}
	s.stats.record(lat, nil)
	return nil
}

// span is the time from the first to the last accepted message.
func (s *benchSink) span() time.Duration {
	f := s.first.Load()
	if f == 0 {
		return 0
	}
	return time.Duration(s.last.Load() - f)
}

// startBenchConsumer joins group and feeds topic's messages to sink; the
// returned function closes the consumer (committing) and the client.
func startBenchConsumer(ctx context.Context, g *globals, topic, group string, batch int, sink *benchSink, opts ...client.ConsumerOption) (func() error, error) {
	c, err := g.dial(ctx)
	if err != nil {
		return nil, err
	}
	opts = append(opts, client.WithFetchMaxMessages(uint32(batch)))
	cs, err := client.NewConsumer(c, group, opts...)
	if err == nil {
		err = cs.Subscribe(topic, sink.handle)
	}
	if err != nil {
		return nil, failure(errors.Join(err, c.Close()))
	}
	sctx, cancel := context.WithTimeout(ctx, g.timeout)
	err = cs.Start(sctx)
	cancel()
	if err != nil {
		return nil, failure(errors.Join(topicHint(err, topic), cs.Close(), c.Close()))
	}
	return func() error { return errors.Join(cs.Close(), c.Close()) }, nil
}

// waitCount polls until have() reaches want() (want 0: never), ctx ends,
// deadline passes (zero: none) or have() did not change for idle, which
// is an error.
func waitCount(ctx context.Context, have, want func() int64, deadline time.Time, idle time.Duration) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := have(), time.Now()
	for {
		n := have()
		if w := want(); w > 0 && n >= w {
			return nil
		}
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			return nil
		}
		if n != last {
			last, lastChange = n, now
		} else if now.Sub(lastChange) >= idle {
			return failure(fmt.Errorf("no message for %v after %d of %d", idle, n, want()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func runBenchConsume(cmd *cobra.Command, g *globals, o *benchOpts) error {
	ctx := cmd.Context()
	if err := ensureTopic(ctx, g, o.topic, o.queues); err != nil {
		return err
	}
	stats := newBenchStats()
	sink := &benchSink{limit: int64(o.count), stats: stats}
	closeConsumer, err := startBenchConsumer(ctx, g, o.topic, o.group, o.batch, sink,
		client.WithStartPosition(client.StartEarliest))
	if err != nil {
		return err
	}
	stop := startProgress(cmd, o, "consume", stats.done.Load, stats.errs.Load)
	var deadline time.Time
	if o.duration > 0 {
		deadline = time.Now().Add(o.duration)
	}
	want := func() int64 { return int64(o.count) }
	waitErr := waitCount(ctx, stats.done.Load, want, deadline, g.timeout)
	stop()
	closeErr := closeConsumer()
	rep := stats.report("consume", o, sink.span(), false)
	if err := printBenchReport(cmd.OutOrStdout(), g.json, rep); err != nil {
		return err
	}
	if closeErr != nil {
		return failure(fmt.Errorf("closing the consumer (offsets may not be committed): %w", closeErr))
	}
	return waitErr
}

func runBenchE2E(cmd *cobra.Command, g *globals, o *benchOpts) error {
	ctx := cmd.Context()
	if err := ensureTopic(ctx, g, o.topic, o.queues); err != nil {
		return err
	}
	nonce := newBenchNonce()
	group := o.group
	if group == "" {
		group = fmt.Sprintf("mqctl-bench-e2e-%016x", nonce)
	}
	recv, sent := newBenchStats(), newBenchStats()
	sink := &benchSink{e2e: true, nonce: nonce, stats: recv}
	// Messages stored from a second before now on: a margin for clock
	// steps; older runs' messages are skipped by nonce anyway.
	closeConsumer, err := startBenchConsumer(ctx, g, o.topic, group, o.batch, sink,
		client.WithStartTimestamp(time.Now().Add(-time.Second)))
	if err != nil {
		return err
	}
	stop := startProgress(cmd, o, "e2e", recv.done.Load, sent.errs.Load)
	start := time.Now()
	prodErr := produceAll(ctx, g, o, nonce, sent)
	waitErr := waitCount(ctx, recv.done.Load, sent.done.Load, time.Time{}, g.timeout)
	elapsed := time.Since(start)
	stop()
	closeErr := closeConsumer()
	rep := recv.report("e2e", o, elapsed, true)
	ps := sent.report("produce", o, elapsed, false)
	rep.Errors, rep.Unknown, rep.FirstError = ps.Errors, ps.Unknown, ps.FirstError
	repErr := printBenchReport(cmd.OutOrStdout(), g.json, rep)
	if prodErr != nil && ctx.Err() == nil {
		return failure(errors.Join(prodErr, repErr)) // both reasons, one exit status
	}
	if repErr != nil {
		return repErr
	}
	if closeErr != nil {
		return failure(fmt.Errorf("closing the consumer: %w", closeErr))
	}
	return waitErr
}
