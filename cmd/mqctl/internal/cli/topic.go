package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

func newTopicCmd(g *globals) *cobra.Command {
	cmd := groupCmd("topic", "Create, list, describe and delete topics")
	cmd.AddCommand(newTopicCreateCmd(g), newTopicListCmd(g), newTopicDescribeCmd(g), newTopicDeleteCmd(g))
	return cmd
}

// topicJSON is the stable JSON shape of a topic.
type topicJSON struct {
	Name   string `json:"name"`
	Queues uint32 `json:"queues"`
}

// routeJSON is the stable JSON shape of one queue's route.
type routeJSON struct {
	Queue    uint32   `json:"queue"`
	Group    string   `json:"group"`
	Leader   string   `json:"leader"`
	Replicas []string `json:"replicas"`
}

type topicDescribeJSON struct {
	topicJSON
	Routes []routeJSON `json:"routes"`
}

func newTopicCreateCmd(g *globals) *cobra.Command {
	var queues uint32
	var groups []string
	cmd := &cobra.Command{
		Use:   "create NAME --queues N [--groups g1,g2]",
		Short: "Create a topic with N queues per broker group",
		Long: `create creates topic NAME with N queues in every broker group of the
cluster, or in the groups named by --groups; queue ids are unique across the
topic. Creating an existing topic with the same queue count succeeds; with a
different count it fails. Naming a group that does not hold the topic yet
extends the topic onto it (its queues get the next free ids).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if queues == 0 {
				return usagef("--queues must be at least 1")
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.CreateTopicIn(ctx, args[0], queues, groups); err != nil {
					return err
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), topicJSON{Name: args[0], Queues: queues})
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "created topic %s with %d queue(s)\n", args[0], queues)
				return err
			})
		},
	}
	cmd.Flags().Uint32Var(&queues, "queues", 0, "queues per broker group (required)")
	cmd.Flags().StringSliceVar(&groups, "groups", nil, "broker `groups` to create the topic in (default: all)")
	_ = cmd.MarkFlagRequired("queues")
	return cmd
}

func newTopicListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every topic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				topics, err := c.ListTopics(ctx)
				if err != nil {
					return err
				}
				out := make([]topicJSON, 0, len(topics))
				for _, t := range topics {
					out = append(out, topicJSON{Name: t.GetName(), Queues: t.GetQueues()})
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), out)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "NAME\tQUEUES")
				for _, t := range out {
					fmt.Fprintf(tw, "%s\t%d\n", t.Name, t.Queues)
				}
				return tw.Flush()
			})
		},
	}
}

func newTopicDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's queues and routes (queue -> group -> leader, replicas)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				resp, err := c.DescribeTopic(ctx, args[0])
				if err != nil {
					return err
				}
				d := topicDescribeJSON{topicJSON: topicJSON{Name: resp.GetTopic().GetName(), Queues: resp.GetTopic().GetQueues()},
					Routes: []routeJSON{}}
				for _, r := range resp.GetRoutes() {
					rep := r.GetReplicaAddrs()
					if rep == nil {
						rep = []string{}
					}
					d.Routes = append(d.Routes, routeJSON{Queue: r.GetQueueId(), Group: r.GetGroup(), Leader: r.GetLeaderAddr(), Replicas: rep})
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), d)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintf(tw, "topic %s: %d queue(s) per group, %d route(s)\n\n", d.Name, d.Queues, len(d.Routes))
				fmt.Fprintln(tw, "QUEUE\tGROUP\tLEADER\tREPLICAS")
				for _, r := range d.Routes {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Queue, r.Group, dash(r.Leader), dash(strings.Join(r.Replicas, ",")))
				}
				return tw.Flush()
			})
		},
	}
}

func newTopicDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.DeleteTopic(ctx, args[0]); err != nil {
					return err
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), map[string]string{"deleted": args[0]})
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", args[0])
				return err
			})
		},
	}
}
