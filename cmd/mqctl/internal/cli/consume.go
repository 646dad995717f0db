package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

// errEnough is returned by the consume handler for messages past --count:
// the client then does not acknowledge (or commit) them.
var errEnough = errors.New("mqctl: --count reached")

type consumeOpts struct {
	group     string
	from      string
	tags      string
	broadcast bool
	count     int
	idle      time.Duration
}

func newConsumeCmd(g *globals) *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC --group G [flags]",
		Short: "Consume a topic as a member of a consumer group",
		Long: `consume joins consumer group G and prints each message of TOPIC it is given:
queue, offset, id, tags, keys and body (with --json one JSON object per line).

It stops after --count messages, when no message arrived for --idle, or on
Ctrl-C, and then commits the offsets of the messages it printed (clustering
mode). --from applies only to a group without committed offsets: earliest
(the default), latest, or a time (RFC 3339 or Unix milliseconds).
--broadcast reads every queue with offsets kept in memory only.

Exit status 1 if --idle ended it before --count messages arrived.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := o.options()
			if err != nil {
				return err
			}
			return runConsume(cmd, g, args[0], &o, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.group, "group", "", "consumer group (required)")
	f.StringVar(&o.from, "from", "earliest", "where a new group starts: earliest, latest, RFC 3339 time or Unix ms")
	f.StringVar(&o.tags, "tags", "", "comma-separated tags to receive (default all)")
	f.BoolVar(&o.broadcast, "broadcast", false, "broadcasting mode: read every queue, offsets not persisted")
	f.IntVar(&o.count, "count", 0, "exit after this many messages (0: no limit)")
	f.DurationVar(&o.idle, "idle", 0, "exit when no message arrived for this long (0: never)")
	_ = cmd.MarkFlagRequired("group")
	return cmd
}

func (o *consumeOpts) options() ([]client.ConsumerOption, error) {
	if o.count < 0 || o.idle < 0 {
		return nil, usagef("--count and --idle must not be negative")
	}
	opts, err := parseFrom(o.from)
	if err != nil {
		return nil, err
	}
	if tags := splitList(o.tags); len(tags) > 0 {
		opts = append(opts, client.WithTags(tags...))
	}
	if o.broadcast {
		opts = append(opts, client.WithMode(client.Broadcasting))
	}
	return opts, nil
}

// messagePrinter prints consumed messages and counts them; handlers of
// different queues call it concurrently.
type messagePrinter struct {
	json  bool
	out   io.Writer
	limit int // 0: no limit

	mu   sync.Mutex // guards tbl, seen and writes to out
	tbl  *streamTable
	seen int

	activity chan struct{} // gets a value (if empty) per printed message
	enough   chan struct{} // closed when limit messages were printed
}

func newMessagePrinter(asJSON bool, out io.Writer, limit int) *messagePrinter {
	return &messagePrinter{json: asJSON, out: out, limit: limit,
		activity: make(chan struct{}, 1), enough: make(chan struct{})}
}

// handle is the consumer's Handler.
func (p *messagePrinter) handle(_ context.Context, m *client.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && p.seen >= p.limit {
		return errEnough
	}
	if err := p.printLocked(m); err != nil {
		return err
	}
	p.seen++
	select {
	case p.activity <- struct{}{}:
	default:
	}
	if p.seen == p.limit {
		close(p.enough)
	}
	return nil
}

func (p *messagePrinter) printLocked(m *client.Message) error {
	if p.json {
		return writeJSONLine(p.out, toMessageJSON(m))
	}
	if p.tbl == nil {
		p.tbl = newStreamTable(p.out, messageHeader...)
	}
	return p.tbl.row(messageRow(m)...)
}

func (p *messagePrinter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

func runConsume(cmd *cobra.Command, g *globals, topic string, o *consumeOpts, opts []client.ConsumerOption) error {
	c, err := g.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	cs, err := client.NewConsumer(c, o.group, opts...)
	if err != nil {
		return failure(err)
	}
	p := newMessagePrinter(g.json, cmd.OutOrStdout(), o.count)
	if err := cs.Subscribe(topic, p.handle); err != nil {
		return failure(err)
	}
	startCtx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	err = cs.Start(startCtx)
	cancel()
	if err != nil {
		return failure(errors.Join(topicHint(err, topic), cs.Close()))
	}
	waitErr := waitConsume(cmd.Context(), p, o.idle)
	if err := cs.Close(); err != nil { // commits what was printed
		return failure(fmt.Errorf("closing the consumer (offsets may not be committed): %w", err))
	}
	return waitErr
}

// waitConsume returns when the printer saw enough messages, when none
// arrived for idle (if positive) or when ctx ends (Ctrl-C).
func waitConsume(ctx context.Context, p *messagePrinter, idle time.Duration) error {
	var (
		timer *time.Timer
		idleC <-chan time.Time // nil (never ready) without --idle
	)
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		idleC = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.enough:
			return nil
		case <-p.activity:
			if timer != nil {
				timer.Reset(idle)
			}
		case <-idleC:
			if n := p.count(); p.limit > 0 && n < p.limit {
				return failure(fmt.Errorf("no message for %v after %d of %d", idle, n, p.limit))
			}
			return nil
		}
	}
}
