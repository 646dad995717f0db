package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client"
)

func newClusterCmd(g *globals) *cobra.Command {
	cmd := groupCmd("cluster", "Show and steer the broker groups")
	cmd.AddCommand(newClusterStatusCmd(g), newClusterTransferCmd(g), newClusterRemoveNodeCmd(g))
	return cmd
}

// nodeJSON and clusterJSON are the stable JSON shape of cluster status.
type nodeJSON struct {
	NodeID       string  `json:"node_id"`
	Group        string  `json:"group"`
	GRPCAddr     string  `json:"grpc_addr"`
	RaftAddr     string  `json:"raft_addr"`
	Role         string  `json:"role"`
	Term         uint64  `json:"term"`
	AppliedIndex uint64  `json:"applied_index"`
	CommitLogEnd int64   `json:"commitlog_end"`
	Reachable    bool    `json:"reachable"`
	DiskFull     bool    `json:"disk_full,omitempty"`
	DiskUsed     float64 `json:"disk_used,omitempty"`
	Error        string  `json:"error,omitempty"`
}

type clusterJSON struct {
	OK    bool       `json:"ok"`
	Nodes []nodeJSON `json:"nodes"`
}

func newClusterStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every node of the seeds' broker groups",
		Long: `status asks every seed address for the status of its broker group and
prints one row per node: id, group, gRPC and Raft addresses, Raft role and
term, applied index, CommitLog end, and whether it could be reached (or
why it stopped serving, or that its disk is above the store's hard limit,
so that as leader it refuses produces). Each
seed is asked once, without retries; a seed that does not answer is
reported on stderr, and only when no seed answers is that an error.

Exit status 1 if a node is unreachable or a group has no leader.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := g.addrs()
			if err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				nodes, err := clusterNodes(ctx, c, addrs, cmd)
				if err != nil {
					return err
				}
				v := clusterJSON{OK: clusterHealthy(nodes), Nodes: nodes}
				if err := printCluster(cmd, g.json, v); err != nil {
					return err
				}
				if !v.OK {
					return failure(errors.New("cluster status: a node is unreachable or a group has no leader"))
				}
				return nil
			}, client.WithMaxRetries(0)) // ask each seed once: a dead seed is news, not noise
		},
	}
}

// clusterNodes merges the answers of every seed, one row per (group,
// node), preferring a reachable report. A seed that fails is reported on
// stderr; it is an error only when every seed failed.
func clusterNodes(ctx context.Context, c *client.Client, addrs []string, cmd *cobra.Command) ([]nodeJSON, error) {
	type key struct{ group, node string }
	byKey := map[key]nodeJSON{}
	var errs []error
	for _, addr := range addrs {
		st, err := c.ClusterStatus(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			if len(addrs) > 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "mqctl: %s: %v\n", addr, err)
			}
			continue
		}
		for _, n := range st {
			k := key{n.GetGroup(), n.GetNodeId()}
			if old, ok := byKey[k]; !ok || (!old.Reachable && n.GetReachable()) {
				byKey[k] = toNodeJSON(n)
			}
		}
	}
	if len(errs) == len(addrs) {
		return nil, errors.Join(errs...)
	}
	nodes := make([]nodeJSON, 0, len(byKey))
	for _, n := range byKey {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b nodeJSON) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.NodeID, b.NodeID))
	})
	return nodes, nil
}

func toNodeJSON(n *pb.NodeStatus) nodeJSON {
	return nodeJSON{
		NodeID: n.GetNodeId(), Group: n.GetGroup(), GRPCAddr: n.GetGrpcAddr(), RaftAddr: n.GetRaftAddr(),
		Role: n.GetRole(), Term: n.GetTerm(), AppliedIndex: n.GetAppliedIndex(), CommitLogEnd: n.GetCommitlogEnd(),
		Reachable: n.GetReachable(), DiskFull: n.GetDiskFull(), DiskUsed: n.GetDiskUsed(), Error: n.GetError(),
	}
}

// clusterHealthy reports whether every node is reachable and every group
// has a leader.
func clusterHealthy(nodes []nodeJSON) bool {
	leaders := map[string]bool{}
	for _, n := range nodes {
		if !n.Reachable {
			return false
		}
		leaders[n.Group] = leaders[n.Group] || n.Role == "leader"
	}
	for _, ok := range leaders {
		if !ok {
			return false
		}
	}
	return len(nodes) > 0
}

func printCluster(cmd *cobra.Command, asJSON bool, v clusterJSON) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	tw := newTable(cmd.OutOrStdout())
	fmt.Fprintln(tw, "NODE\tGROUP\tGRPC ADDR\tRAFT ADDR\tROLE\tTERM\tAPPLIED\tCOMMITLOG END\tSTATUS")
	for _, n := range v.Nodes {
		status := "ok"
		if !n.Reachable {
			status = "unreachable: " + n.Error
		} else if n.Error != "" {
			status = n.Error
		} else if n.DiskFull {
			status = fmt.Sprintf("disk full (%.0f%% used): produces refused", 100*n.DiskUsed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", n.NodeID, n.Group, dash(n.GRPCAddr), dash(n.RaftAddr),
			dash(n.Role), n.Term, n.AppliedIndex, n.CommitLogEnd, status)
	}
	return tw.Flush()
}

func newClusterTransferCmd(g *globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "transfer-leader [--to NODE]",
		Short: "Hand the leadership of a seed node's broker group to another voter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				id, err := c.TransferLeadership(ctx, "", to)
				if err != nil {
					return err
				}
				if g.json {
					return writeJSON(cmd.OutOrStdout(), map[string]string{"new_leader": id})
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "new leader: %s\n", id)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "node id of the new leader (default: any voter)")
	return cmd
}

// removeJSON is the stable JSON shape of remove-node.
type removeJSON struct {
	NodeID  string `json:"node_id"`
	Removed bool   `json:"removed"`
}

func newClusterRemoveNodeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-node NODE_ID",
		Short: "Remove a node that is gone for good from its broker group's Raft configuration",
		Long: `remove-node asks the leader of the broker group of the first --server
address (which forwards the call) to remove NODE_ID from the group's Raft
configuration. Use it for a node that will not come back: until it is
removed it still counts towards the group's quorum. Nodes are never removed
automatically unless the daemons run with --dead-node-timeout.

Removing a node that is not in the configuration succeeds and says so; the
leader itself cannot be removed (transfer leadership first). A removed node
that is started again is added back by the leader when it gossips.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addrs, err := g.addrs()
			if err != nil {
				return err
			}
			removed, err := removeNode(cmd.Context(), g, addrs[0], args[0])
			if err != nil {
				return failure(fmt.Errorf("remove-node %s: %w", args[0], err))
			}
			if g.json {
				return asFailure(writeJSON(cmd.OutOrStdout(), removeJSON{NodeID: args[0], Removed: removed}))
			}
			msg := "removed %s from its group\n"
			if !removed {
				msg = "%s is not in the group's configuration; nothing to remove\n"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), msg, args[0])
			return asFailure(err)
		},
	}
}

// removeNode calls RemoveNode on addr (the protocol's client has no
// wrapper for it: it is an operator's call, not an application's).
func removeNode(ctx context.Context, g *globals, addr, id string) (bool, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := pb.NewBrokerClient(conn).RemoveNode(ctx, &pb.RemoveNodeRequest{NodeId: id})
	return resp.GetRemoved(), err
}
