package testcluster

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/internal/faultproxy"
)

// Network partitions of the Raft links (Options.PartitionProxies).
//
// Node j listens for Raft on a private port and advertises a proxy P_j in
// front of it, so every connection to j, from any peer, goes through P_j.
// hashicorp/raft's TCP transport carries an RPC and its answer on a
// connection the caller dialed, so the link "i calls j" is exactly the
// connections P_j accepts from i. P_j tells them apart by the first bytes
// of each connection: every request starts with an RPCHeader holding the
// sender's advertised address (its own proxy's address), which is unique.
// Cutting i->j closes i's connections at P_j and blackholes new ones; a
// two-way cut does that at P_i and at P_j, so neither side reaches the
// other, which is what a partition of the Raft network is.
//
// Only Raft traffic is cut: the gRPC ports stay reachable, so clients may
// still talk to a node cut off from its group (the case of a leader
// partitioned from its followers but not from its clients).

// sniffMax bounds the bytes a Raft proxy reads to name a connection's
// sender; the RPCHeader comes within the first hundred.
const sniffMax = 512

// partitions is the Raft proxies of a cluster; used from the test's
// goroutine only, like the other fault methods.
type partitions struct {
	proxies []*faultproxy.Proxy
	// cut[i][j] is true when RPCs from node i to node j are blocked.
	cut [][]bool
}

// startProxies starts one proxy per node in front of its Raft address.
func (c *Cluster) startProxies() {
	c.t.Helper()
	n := len(c.nodes)
	c.part = &partitions{proxies: make([]*faultproxy.Proxy, n), cut: make([][]bool, n)}
	// addrs is stored once every proxy listens, before any node starts.
	var addrs atomic.Pointer[[][]byte]
	ids := make([]string, n)
	sniff := func(b []byte) string {
		if a := addrs.Load(); a != nil {
			return senderOf(b, *a, ids)
		}
		return ""
	}
	all := make([][]byte, n)
	for j, nd := range c.nodes {
		ids[j] = nd.id
		p, err := faultproxy.New("127.0.0.1:0", nd.raftAddr, faultproxy.WithSniffer(sniffMax, sniff))
		if err != nil {
			c.t.Fatalf("testcluster: raft proxy of %s: %v", nd.id, err)
		}
		c.part.proxies[j] = p
		c.part.cut[j] = make([]bool, n)
		all[j] = []byte(p.Addr())
	}
	addrs.Store(&all)
	c.t.Cleanup(func() {
		for _, p := range c.part.proxies {
			if err := p.Close(); err != nil {
				c.t.Errorf("testcluster: close raft proxy: %v", err)
			}
		}
	})
}

// senderOf names the node whose advertised address comes first in b, or
// "" when none does yet. A match must be followed by a byte that is not a
// digit, so ":4123" is not taken for ":41234" (nor a truncated address).
func senderOf(b []byte, addrs [][]byte, ids []string) string {
	best, at := -1, len(b)
	for i, a := range addrs {
		k := bytes.Index(b, a)
		if k < 0 || k > at || k+len(a) >= len(b) {
			continue
		}
		if next := b[k+len(a)]; next >= '0' && next <= '9' {
			continue
		}
		if k < at || len(a) > len(addrs[best]) {
			best, at = i, k
		}
	}
	if best < 0 {
		return ""
	}
	return ids[best]
}

// raftAdvertise is the Raft address node i's peers dial: its proxy when
// the cluster has them, else its listener.
func (c *Cluster) raftAdvertise(i int) string {
	if c.part != nil {
		return c.part.proxies[i].Addr()
	}
	return c.nodes[i].raftAddr
}

// RaftProxyAddr returns the address of node i's Raft proxy, advertised as
// its Raft address; it fails the test without Options.PartitionProxies.
func (c *Cluster) RaftProxyAddr(i int) string {
	c.t.Helper()
	c.mustProxies()
	return c.part.proxies[i].Addr()
}

func (c *Cluster) mustProxies() {
	c.t.Helper()
	if c.part == nil {
		c.t.Fatal("testcluster: partitions need Options.PartitionProxies")
	}
}

// CutOneWay blocks the RPCs node from sends to node to (and their
// answers); RPCs from to to from still pass. Heal lifts it.
func (c *Cluster) CutOneWay(from, to int) {
	c.t.Helper()
	c.mustProxies()
	if from == to {
		c.t.Fatalf("testcluster: cut %s from itself", c.nodes[from].id)
	}
	c.part.cut[from][to] = true
	c.part.proxies[to].BlockFrom(c.nodes[from].id)
}

// CutLink blocks the Raft link between nodes a and b both ways.
func (c *Cluster) CutLink(a, b int) {
	c.t.Helper()
	c.CutOneWay(a, b)
	c.CutOneWay(b, a)
}

// Isolate cuts node i from every other node, both ways.
func (c *Cluster) Isolate(i int) {
	c.t.Helper()
	for j := range c.nodes {
		if j != i {
			c.CutLink(i, j)
		}
	}
}

// Partition splits the group into sides: every link between nodes of
// different sides is cut both ways. Every node must be on one side.
func (c *Cluster) Partition(sides ...[]int) {
	c.t.Helper()
	side := make([]int, len(c.nodes))
	for i := range side {
		side[i] = -1
	}
	for s, nodes := range sides {
		for _, i := range nodes {
			if side[i] >= 0 {
				c.t.Fatalf("testcluster: partition: %s on two sides", c.nodes[i].id)
			}
			side[i] = s
		}
	}
	for i := range c.nodes {
		if side[i] < 0 {
			c.t.Fatalf("testcluster: partition: %s on no side", c.nodes[i].id)
		}
		for j := range c.nodes {
			if side[i] != side[j] {
				c.CutOneWay(i, j)
			}
		}
	}
}

// BlockInbound blackholes every Raft connection to node i (its proxy's
// Block): RPCs to i fail, but RPCs i sends are not touched. It is the
// fault a single proxy per node gives without naming senders.
func (c *Cluster) BlockInbound(i int) {
	c.t.Helper()
	c.mustProxies()
	c.part.proxies[i].Block()
}

// SetRaftDelay delays all Raft traffic to node i (and the answers) by d
// each way; 0 removes the delay.
func (c *Cluster) SetRaftDelay(i int, d time.Duration) {
	c.t.Helper()
	c.mustProxies()
	c.part.proxies[i].SetDelay(d)
}

// Heal lifts every cut, inbound block and delay.
func (c *Cluster) Heal() {
	c.t.Helper()
	c.mustProxies()
	for to, p := range c.part.proxies {
		p.Unblock()
		p.SetDelay(0)
		for from, cut := range c.part.cut {
			if cut[to] {
				p.UnblockFrom(c.nodes[from].id)
				cut[to] = false
			}
		}
	}
}

// UnnamedRaftConns returns how many Raft connections the proxies could
// not name the sender of; cuts by sender do not apply to them, so a
// partition test should require 0 (a change of hashicorp/raft's wire
// format would show here rather than as a partition that never was).
func (c *Cluster) UnnamedRaftConns() int64 {
	c.t.Helper()
	c.mustProxies()
	var n int64
	for _, p := range c.part.proxies {
		n += p.Unnamed()
	}
	return n
}

// Cuts describes the blocked links, e.g. "n1->n2 n2->n1"; "" when none.
func (c *Cluster) Cuts() string {
	c.mustProxies()
	var b bytes.Buffer
	for from, row := range c.part.cut {
		for to, cut := range row {
			if cut {
				fmt.Fprintf(&b, "%s->%s ", c.nodes[from].id, c.nodes[to].id)
			}
		}
	}
	return string(bytes.TrimSpace(b.Bytes()))
}
