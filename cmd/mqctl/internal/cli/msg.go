package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

func newMsgCmd(g *globals) *cobra.Command {
	cmd := groupCmd("msg", "Read messages by id or key")
	cmd.AddCommand(newMsgGetCmd(g), newMsgQueryCmd(g))
	return cmd
}

func newMsgGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one message by its id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				m, err := c.GetMessage(ctx, args[0])
				if err != nil {
					return err
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), toMessageJSON(m))
				}
				return printMessage(cmd, m)
			})
		},
	}
}

// printMessage prints every field of m, one per line.
func printMessage(cmd *cobra.Command, m *client.Message) error {
	v := toMessageJSON(m)
	tw := newTable(cmd.OutOrStdout())
	props := make([]string, 0, len(v.Properties))
	for _, k := range slices.Sorted(maps.Keys(v.Properties)) {
		props = append(props, k+"="+v.Properties[k])
	}
	rows := [][2]string{
		{"msg id", v.MsgID}, {"topic", v.Topic}, {"queue", fmt.Sprint(v.Queue)}, {"offset", fmt.Sprint(v.Offset)},
		{"tags", dash(v.Tags)}, {"keys", dash(strings.Join(v.Keys, ","))}, {"properties", dash(strings.Join(props, " "))},
		{"born", v.BornTime}, {"stored", v.StoreTime},
		{"reconsume times", fmt.Sprint(v.ReconsumeTimes)}, {"flags", fmt.Sprint(v.Flags)},
		{"body", bodyText(m.Body)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func newMsgQueryCmd(g *globals) *cobra.Command {
	var (
		key        string
		begin, end string
		limit      uint32
	)
	cmd := &cobra.Command{
		Use:   "query TOPIC --key K [--begin T] [--end T] [--limit N]",
		Short: "Find messages of a topic by key",
		Long: `query lists up to --limit messages of TOPIC with key K stored between
--begin and --end (RFC 3339 or Unix milliseconds; default: from the start,
until now). --limit 0 means the broker's default (32).

Exit status 1 if no message matched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b, e time.Time
			var err error
			if begin != "" {
				if b, err = parseTime("--begin", begin); err != nil {
					return err
				}
			}
			if end != "" {
				if e, err = parseTime("--end", end); err != nil {
					return err
				}
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				msgs, err := c.QueryByKey(ctx, args[0], key, b, e, limit)
				if err != nil {
					return err
				}
				if err := printMessages(cmd, g.json, msgs); err != nil {
					return err
				}
				if len(msgs) == 0 {
					return failure(errors.New("no message matched"))
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "message key (required)")
	f.StringVar(&begin, "begin", "", "stored at or after this time")
	f.StringVar(&end, "end", "", "stored at or before this time (default now)")
	f.Uint32Var(&limit, "limit", 0, "at most this many messages (0: broker default)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// printMessages prints a message list as a table or one JSON array.
func printMessages(cmd *cobra.Command, asJSON bool, msgs []*client.Message) error {
	if asJSON {
		v := make([]messageJSON, 0, len(msgs))
		for _, m := range msgs {
			v = append(v, toMessageJSON(m))
		}
		return writeJSON(cmd.OutOrStdout(), v)
	}
	tw := newTable(cmd.OutOrStdout())
	fmt.Fprintln(tw, strings.Join(messageHeader, "\t"))
	for _, m := range msgs {
		fmt.Fprintln(tw, strings.Join(messageRow(m), "\t"))
	}
	return tw.Flush()
}
