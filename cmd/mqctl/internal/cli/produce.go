package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

// maxLineBytes bounds one stdin line of produce (a message body).
const maxLineBytes = 64 << 20

type produceOpts struct {
	body, file  string
	count       int
	tags, keys  string
	props       []string
	queue       uint32
	shardingKey string
	async       bool
}

func newProduceCmd(g *globals) *cobra.Command {
	var o produceOpts
	cmd := &cobra.Command{
		Use:   "produce TOPIC [--body TEXT | --file PATH] [flags]",
		Short: "Send messages to a topic",
		Long: `produce sends messages to TOPIC and prints, per message, its id, queue and
queue offset (with --json one JSON object per line).

The body comes from --body, from --file (the whole file is one message), or
else from standard input, one message per line (empty lines are skipped).
--count N sends --body or --file N times; with --body and N > 1 the bodies
are "BODY-1" ... "BODY-N".

Without --async each message is one synchronous Send and the first failure
stops produce; with --async messages are batched (SendAsync) and every
failure is reported. Exit status 1 if any message failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, err := o.template(cmd)
			if err != nil {
				return err
			}
			src, err := o.source(cmd)
			if err != nil {
				return err
			}
			return runProduce(cmd, g, args[0], tmpl, src, o.async)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.body, "body", "", "message body")
	f.StringVar(&o.file, "file", "", "read one message body from this file")
	f.IntVar(&o.count, "count", 1, "send --body or --file this many times")
	f.StringVar(&o.tags, "tags", "", "message tag")
	f.StringVar(&o.keys, "keys", "", "comma-separated message keys (indexed for msg query)")
	f.StringArrayVar(&o.props, "property", nil, "user property key=value (repeatable)")
	f.Uint32Var(&o.queue, "queue", 0, "send to this queue id")
	f.StringVar(&o.shardingKey, "sharding-key", "", "messages with the same key go to the same queue")
	f.BoolVar(&o.async, "async", false, "batch sends asynchronously")
	cmd.MarkFlagsMutuallyExclusive("body", "file")
	cmd.MarkFlagsMutuallyExclusive("queue", "sharding-key")
	return cmd
}

// template is the message every body is sent with.
func (o *produceOpts) template(cmd *cobra.Command) (client.Message, error) {
	props, err := parseProperties(o.props)
	if err != nil {
		return client.Message{}, err
	}
	m := client.Message{Tags: o.tags, Keys: splitList(o.keys), Properties: props, ShardingKey: o.shardingKey}
	if cmd.Flags().Changed("queue") {
		q := o.queue
		m.QueueID = &q
	}
	return m, nil
}

// bodySource hands each body to emit, in order, and stops at emit's
// first error.
type bodySource func(emit func(body []byte) error) error

func (o *produceOpts) source(cmd *cobra.Command) (bodySource, error) {
	if o.count < 1 {
		return nil, usagef("--count %d: must be at least 1", o.count)
	}
	fromBody, fromFile := cmd.Flags().Changed("body"), cmd.Flags().Changed("file")
	switch {
	case fromBody:
		return func(emit func([]byte) error) error {
			for i := 1; i <= o.count; i++ {
				b := o.body
				if o.count > 1 {
					b += "-" + strconv.Itoa(i)
				}
				if err := emit([]byte(b)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case fromFile:
		data, err := os.ReadFile(o.file)
		if err != nil {
			return nil, failure(err)
		}
		return func(emit func([]byte) error) error {
			for range o.count {
				if err := emit(data); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case o.count != 1:
		return nil, usagef("--count needs --body or --file (standard input sends one message per line)")
	}
	return stdinSource(cmd.InOrStdin()), nil
}

func stdinSource(r io.Reader) bodySource {
	return func(emit func([]byte) error) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			if err := emit(append([]byte(nil), sc.Bytes()...)); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return failure(fmt.Errorf("reading standard input: %w", err))
		}
		return nil
	}
}

// sendPrinter prints send results; async callbacks call it from the
// producer's goroutine.
type sendPrinter struct {
	json   bool
	out    io.Writer
	errOut io.Writer

	mu     sync.Mutex // guards tbl, failed and writes to out and errOut
	tbl    *streamTable
	failed int
}

// sendJSON is the stable JSON shape of one produce result line.
type sendJSON struct {
	MsgID  string `json:"msg_id"`
	Queue  uint32 `json:"queue"`
	Offset uint64 `json:"offset"`
}

func (p *sendPrinter) result(seq int, r client.SendResult, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed++
		_, werr := fmt.Fprintf(p.errOut, "mqctl: message %d: %v\n", seq, err)
		return werr
	}
	if p.json {
		return writeJSONLine(p.out, sendJSON{MsgID: r.MsgID, Queue: r.QueueID, Offset: r.QueueOffset})
	}
	if p.tbl == nil {
		p.tbl = newStreamTable(p.out, "MSG ID", "QUEUE", "OFFSET")
	}
	return p.tbl.row(r.MsgID, strconv.FormatUint(uint64(r.QueueID), 10), strconv.FormatUint(r.QueueOffset, 10))
}

func (p *sendPrinter) failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func runProduce(cmd *cobra.Command, g *globals, topic string, tmpl client.Message, src bodySource, async bool) error {
	c, err := g.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := client.NewProducer(c, client.WithSendTimeout(g.timeout))
	if err != nil {
		return failure(err)
	}
	pr := &sendPrinter{json: g.json, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
	seq := 0
	newMsg := func(body []byte) *client.Message {
		m := tmpl
		m.Body = body
		seq++
		return &m
	}
	var srcErr error
	if async {
		srcErr = src(func(body []byte) error {
			m := newMsg(body)
			n := seq
			p.SendAsync(cmd.Context(), topic, m, func(r client.SendResult, err error) { _ = pr.result(n, r, topicHint(err, topic)) })
			return nil
		})
	} else {
		srcErr = src(func(body []byte) error {
			m := newMsg(body)
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			res, err := p.Send(ctx, topic, m)
			if err != nil {
				return failure(fmt.Errorf("message %d: %w", seq, topicHint(err, topic)))
			}
			return pr.result(seq, res[0], nil)
		})
	}
	closeErr := p.Close() // waits for every async callback
	switch {
	case srcErr != nil:
		return asFailure(srcErr)
	case closeErr != nil:
		return failure(closeErr)
	case pr.failures() > 0:
		return failure(fmt.Errorf("%d of %d message(s) failed", pr.failures(), seq))
	}
	return nil
}
