package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

func newGroupCmd(g *globals) *cobra.Command {
	cmd := groupCmd("group", "Inspect consumer groups")
	cmd.AddCommand(newGroupLagCmd(g), newGroupOffsetsCmd(g))
	return cmd
}

// queueLagJSON and groupLagJSON are the stable JSON shape of group lag.
type queueLagJSON struct {
	Queue     uint32 `json:"queue"`
	Committed uint64 `json:"committed"`
	Max       uint64 `json:"max"`
	Lag       uint64 `json:"lag"`
}

type groupLagJSON struct {
	Group    string         `json:"group"`
	Topic    string         `json:"topic"`
	Queues   []queueLagJSON `json:"queues"`
	TotalLag uint64         `json:"total_lag"`
}

// offsetJSON is the stable JSON shape of one committed offset.
type offsetJSON struct {
	Queue  uint32 `json:"queue"`
	Offset uint64 `json:"offset"`
}

// groupTopicCmd builds a `group X GROUP --topic T` command.
func groupTopicCmd(g *globals, use, short string, run func(ctx context.Context, cmd *cobra.Command, c *client.Client, group, topic string) error) *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   use + " GROUP --topic T",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				return run(ctx, cmd, c, args[0], topic)
			})
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "topic (required)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func newGroupLagCmd(g *globals) *cobra.Command {
	return groupTopicCmd(g, "lag", "Show a group's committed offset, max offset and lag per queue",
		func(ctx context.Context, cmd *cobra.Command, c *client.Client, group, topic string) error {
			resp, err := c.GroupLag(ctx, group, topic)
			if err != nil {
				return err
			}
			v := groupLagJSON{Group: group, Topic: topic, Queues: []queueLagJSON{}, TotalLag: resp.GetTotalLag()}
			for _, q := range resp.GetQueues() {
				v.Queues = append(v.Queues, queueLagJSON{Queue: q.GetQueueId(), Committed: q.GetCommitted(), Max: q.GetMaxOffset(), Lag: q.GetLag()})
			}
			if g.json {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "QUEUE\tCOMMITTED\tMAX\tLAG")
			for _, q := range v.Queues {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", q.Queue, q.Committed, q.Max, q.Lag)
			}
			fmt.Fprintf(tw, "TOTAL\t\t\t%d\n", v.TotalLag)
			return tw.Flush()
		})
}

func newGroupOffsetsCmd(g *globals) *cobra.Command {
	return groupTopicCmd(g, "offsets", "Show a group's committed offsets (next offset to consume) per queue",
		func(ctx context.Context, cmd *cobra.Command, c *client.Client, group, topic string) error {
			offs, err := c.GetOffsets(ctx, group, topic)
			if err != nil {
				return err
			}
			v := make([]offsetJSON, 0, len(offs))
			for _, o := range offs {
				v = append(v, offsetJSON{Queue: o.GetQueueId(), Offset: o.GetOffset()})
			}
			if g.json {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "QUEUE\tOFFSET")
			for _, o := range v {
				fmt.Fprintf(tw, "%d\t%d\n", o.Queue, o.Offset)
			}
			return tw.Flush()
		})
}
