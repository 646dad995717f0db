package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/checker"
)

// checkOptions are the flags of mqctl check.
type checkOptions struct {
	topic        string
	queues       uint32
	producers    int
	duration     time.Duration
	bodySize     int
	history      string
	seed         int64
	replicaAddrs string
	faultFile    string
}

func newCheckCmd(g *globals) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check --topic T",
		Short: "Run the durability checker's workload against a cluster and report what it broke",
		Long: `check runs a Jepsen-style workload: --producers producers send messages
with unique, self-verifying bodies to --topic (created with --queues queues
if missing) for --duration, recording each send as ok, failed or unknown.
Then it reads every replica of the topic's group directly and the whole
topic through a fresh consumer group, and reports:

  lost, inconsistent offsets, order violations, corrupt payloads,
  incomplete reads       forbidden: the check fails (exit status 1)
  duplicates, unknown-then-present, failed-then-present, unexpected
                         counted only (delivery is at-least-once)

The replicas read are every node of the topic's group in 'cluster status',
unless --replica-addrs lists them. Faults are injected from outside (kill
or pause nodes while check runs); heal them before --duration ends, since
every replica must be read. With --fault-file, every line appended to that
file (or a touch, named after the file) marks a fault at that moment, and
the report gives the failover time after each: until the first successful
send started after it.

--timeout bounds the setup calls (cluster status, topic creation); each
produce attempt is bounded by 5s and each send with its retries by 15s.
--history writes every send, fault and read as JSON lines.`,
		Example: `  mqctl check -s 127.0.0.1:9876 --topic chk --duration 60s --fault-file /tmp/faults &
  kill -9 "$(pgrep -f 'raftmq.*n2')"; echo "kill -9 n2" >> /tmp/faults`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runCheck(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.topic, "topic", "", "topic to write (required)")
	f.Uint32Var(&o.queues, "queues", 4, "queues of the topic when check creates it")
	f.IntVar(&o.producers, "producers", 4, "concurrent producers")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long the producers run")
	f.IntVar(&o.bodySize, "body-size", 256, "body size in bytes (at least the ~60-byte header)")
	f.StringVar(&o.history, "history", "", "write the full history as JSON lines to this file")
	f.Int64Var(&o.seed, "seed", 0, "seed of the run id and the payloads (default: from the clock)")
	f.StringVar(&o.replicaAddrs, "replica-addrs", "", "comma-separated gRPC addresses of every replica (default: from cluster status)")
	f.StringVar(&o.faultFile, "fault-file", "", "mark a fault named by each line appended to this file")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

// validate checks the flags before anything is dialed.
func (o *checkOptions) validate() error {
	switch {
	case o.queues < 1:
		return usagef("--queues %d must be at least 1", o.queues)
	case o.producers < 1:
		return usagef("--producers %d must be at least 1", o.producers)
	case o.duration <= 0:
		return usagef("--duration %v must be positive", o.duration)
	case o.bodySize < 0:
		return usagef("--body-size %d must not be negative", o.bodySize)
	case o.replicaAddrs != "" && len(splitList(o.replicaAddrs)) == 0:
		return usagef("--replica-addrs: no address given")
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	return nil
}

// runCheck prepares the topic and replicas, runs the workload (marking
// faults from the fault file), checks, writes the history and prints the
// report. A report that is not OK exits 1.
func runCheck(cmd *cobra.Command, g *globals, o *checkOptions) error {
	addrs, err := g.addrs()
	if err != nil {
		return err
	}
	addrMap, err := parseAddrMap(g.addrMap)
	if err != nil {
		return err
	}
	var replicas []string
	var queues uint32
	err = g.call(cmd, func(ctx context.Context, c *client.Client) error {
		var err error
		queues, replicas, err = prepareCheck(ctx, cmd, c, addrs, g.addrMap, o)
		return err
	})
	if err != nil {
		return err
	}
	ck, err := checker.New(checker.Config{
		Addrs: addrs, AddrMap: addrMap, Replicas: replicas, Topic: o.topic, Queues: queues, Producers: o.producers,
		BodySize: o.bodySize, Seed: o.seed, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return usagef("%v", err)
	}
	defer ck.Close()
	rep, err := workload(cmd.Context(), g.timeout, ck, o)
	if err != nil {
		return failure(fmt.Errorf("check: %w", err))
	}
	if o.history != "" {
		if err := ck.WriteHistoryFile(o.history); err != nil {
			return failure(fmt.Errorf("check: write history: %w", err))
		}
	}
	if err := printCheck(cmd, g.json, rep, o); err != nil {
		return failure(err)
	}
	if !rep.OK() {
		return failure(fmt.Errorf("check of topic %s failed: %d lost, %d inconsistent, %d order violations, %d corrupt, %d read errors",
			rep.Topic, rep.Lost, rep.Inconsistent, rep.OrderViolations, rep.Corrupt, len(rep.ReadErrors)))
	}
	return nil
}

// prepareCheck creates the topic when it is missing and returns its queue
// count and the replicas to read: --replica-addrs, or every node of the
// topic's groups in cluster status.
func prepareCheck(ctx context.Context, cmd *cobra.Command, c *client.Client, addrs []string, addrMap string, o *checkOptions) (uint32, []string, error) {
	desc, err := c.DescribeTopic(ctx, o.topic)
	if errors.Is(err, client.ErrNotFound) {
		if err := c.CreateTopic(ctx, o.topic, o.queues); err != nil && !errors.Is(err, client.ErrAlreadyExists) {
			return 0, nil, fmt.Errorf("create topic %s: %w", o.topic, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "mqctl: created topic %s with %d queues\n", o.topic, o.queues)
		desc, err = describeCreated(ctx, c, o.topic)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("describe topic %s: %w", o.topic, err)
	}
	queues := desc.GetTopic().GetQueues()
	if o.replicaAddrs != "" {
		return queues, splitList(o.replicaAddrs), nil
	}
	groups := map[string]bool{}
	for _, r := range desc.GetRoutes() {
		groups[r.GetGroup()] = true
	}
	nodes, err := clusterNodes(ctx, c, addrs, cmd)
	if err != nil {
		return 0, nil, fmt.Errorf("cluster status: %w", err)
	}
	// Cluster status gives advertised addresses; --addr-map says how to
	// reach them from here.
	m, err := parseAddrMap(addrMap)
	if err != nil {
		return 0, nil, err
	}
	var replicas []string
	for _, n := range nodes {
		addr := cmp.Or(m[n.GRPCAddr], n.GRPCAddr)
		if (len(groups) == 0 || groups[n.Group]) && addr != "" && !slices.Contains(replicas, addr) {
			replicas = append(replicas, addr)
		}
	}
	if len(replicas) == 0 {
		return 0, nil, fmt.Errorf("cluster status lists no node of topic %s's group; give --replica-addrs", o.topic)
	}
	return queues, replicas, nil
}

// describeCreated describes a topic just created: the node asked may be
// a follower that has not applied the creation yet, so not found is
// retried every 100ms until ctx ends.
func describeCreated(ctx context.Context, c *client.Client, topic string) (*raftmqpb.DescribeTopicResponse, error) {
	for {
		desc, err := c.DescribeTopic(ctx, topic)
		if !errors.Is(err, client.ErrNotFound) {
			return desc, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// workload starts ck (setup bounded by timeout), runs it for o.duration
// or until ctx ends while watching the fault file, stops it and checks.
// The check runs even when ctx ended: an interrupted workload is still
// checked.
func workload(ctx context.Context, timeout time.Duration, ck *checker.Checker, o *checkOptions) (*checker.Report, error) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	err := ck.Start(sctx)
	cancel()
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	watchErr := make(chan error, 1)
	if o.faultFile != "" {
		w, err := newFaultWatcher(o.faultFile)
		if err != nil {
			return nil, errors.Join(err, ck.Stop())
		}
		go func() { watchErr <- w.run(wctx, ck.Fault) }()
	} else {
		close(watchErr)
	}
	<-wctx.Done()
	err = <-watchErr
	if err := errors.Join(err, ck.Stop()); err != nil {
		return nil, err
	}
	return ck.Check(context.WithoutCancel(ctx))
}

// checkJSON is the stable JSON shape of a check report; durations are
// milliseconds.
type checkJSON struct {
	OK              bool                `json:"ok"`
	Topic           string              `json:"topic"`
	RunID           string              `json:"run_id"`
	Seed            int64               `json:"seed"`
	Queues          int                 `json:"queues"`
	Sources         []string            `json:"sources"`
	ElapsedMS       int64               `json:"elapsed_ms"`
	Attempted       int                 `json:"attempted"`
	Acked           int                 `json:"acked"`
	Failed          int                 `json:"failed"`
	Unknown         int                 `json:"unknown"`
	Lost            int                 `json:"lost"`
	Missing         map[string]int      `json:"missing"`
	Inconsistent    int                 `json:"inconsistent"`
	OrderViolations int                 `json:"order_violations"`
	Corrupt         int                 `json:"corrupt"`
	Duplicates      int                 `json:"duplicates"`
	UnknownPresent  int                 `json:"unknown_present"`
	FailedPresent   int                 `json:"failed_present"`
	Unexpected      int                 `json:"unexpected"`
	Foreign         int                 `json:"foreign"`
	Redelivered     int                 `json:"redelivered"`
	ReadErrors      []string            `json:"read_errors"`
	Failovers       []failoverJSON      `json:"failovers"`
	FailoverP50MS   int64               `json:"failover_p50_ms"`
	FailoverP99MS   int64               `json:"failover_p99_ms"`
	FailoverMaxMS   int64               `json:"failover_max_ms"`
	Examples        map[string][]string `json:"examples,omitempty"`
	History         string              `json:"history,omitempty"`
}

type failoverJSON struct {
	Fault     string    `json:"fault"`
	At        time.Time `json:"at"`
	Recovered bool      `json:"recovered"`
	TookMS    int64     `json:"took_ms"`
}

func toCheckJSON(r *checker.Report, o *checkOptions) checkJSON {
	v := checkJSON{
		OK: r.OK(), Topic: r.Topic, RunID: r.RunID, Seed: o.seed, Queues: r.Queues, Sources: r.Sources,
		ElapsedMS: r.Elapsed.Milliseconds(), Attempted: r.Attempted, Acked: r.Acked, Failed: r.Failed, Unknown: r.Unknown,
		Lost: r.Lost, Missing: r.Missing, Inconsistent: r.Inconsistent, OrderViolations: r.OrderViolations,
		Corrupt: r.Corrupt, Duplicates: r.Duplicates, UnknownPresent: r.UnknownPresent, FailedPresent: r.FailedPresent,
		Unexpected: r.Unexpected, Foreign: r.Foreign, Redelivered: r.Redelivered, ReadErrors: r.ReadErrors,
		Failovers:     []failoverJSON{},
		FailoverP50MS: r.FailoverP50.Milliseconds(), FailoverP99MS: r.FailoverP99.Milliseconds(),
		FailoverMaxMS: r.FailoverMax.Milliseconds(), Examples: r.Examples, History: o.history,
	}
	if v.ReadErrors == nil {
		v.ReadErrors = []string{}
	}
	for _, f := range r.Failovers {
		v.Failovers = append(v.Failovers, failoverJSON{Fault: f.Fault, At: f.At, Recovered: f.Recovered, TookMS: f.Took.Milliseconds()})
	}
	return v
}

func printCheck(cmd *cobra.Command, asJSON bool, r *checker.Report, o *checkOptions) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), toCheckJSON(r, o))
	}
	w := cmd.OutOrStdout()
	if _, err := fmt.Fprintf(w, "%s\n  seed %d\n", r, o.seed); err != nil {
		return err
	}
	if o.history != "" {
		_, err := fmt.Fprintf(w, "  history written to %s\n", o.history)
		return err
	}
	return nil
}

// faultPoll is how often the fault file's size is polled.
const faultPoll = 100 * time.Millisecond

// faultWatcher turns appends to a file into faults: each line appended
// names one fault; a change of the modification time without new bytes
// or a truncation (a touch) is one fault named after the file. Content
// present when the watch starts is ignored; a truncated file is read on
// from its new end. Only run's goroutine uses it.
type faultWatcher struct {
	path string
	// off is how far the file has been read.
	off int64
	// mod is the modification time last seen.
	mod time.Time
}

// newFaultWatcher starts watching path from its current end (a missing
// file is empty).
func newFaultWatcher(path string) (*faultWatcher, error) {
	w := &faultWatcher{path: path}
	st, err := os.Stat(path)
	switch {
	case err == nil:
		w.off, w.mod = st.Size(), st.ModTime()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("fault file: %w", err)
	}
	return w, nil
}

// run polls the file every faultPoll until ctx ends, calling fault for
// each fault seen. It returns an error only when the file cannot be read.
func (w *faultWatcher) run(ctx context.Context, fault func(name string)) error {
	tick := time.NewTicker(faultPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		names, err := w.poll()
		if err != nil {
			return err
		}
		for _, n := range names {
			fault(n)
		}
	}
}

// poll returns the faults that happened since the last poll.
func (w *faultWatcher) poll() ([]string, error) {
	st, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		w.off, w.mod = 0, time.Time{}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fault file: %w", err)
	}
	size, mod := st.Size(), st.ModTime()
	touched := !mod.Equal(w.mod)
	w.mod = mod
	if size < w.off {
		w.off, touched = size, true
	}
	if size == w.off {
		if touched {
			return []string{"touch " + filepath.Base(w.path)}, nil
		}
		return nil, nil
	}
	f, err := os.Open(w.path)
	if err != nil {
		return nil, fmt.Errorf("fault file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, size-w.off)
	n, err := f.ReadAt(buf, w.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("fault file: %w", err)
	}
	w.off += int64(n)
	var names []string
	for line := range strings.Lines(string(buf[:n])) {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	if len(names) == 0 {
		names = []string{"touch " + filepath.Base(w.path)}
	}
	return names, nil
}
