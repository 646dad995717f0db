package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures one node's Membership. DefaultConfig fills every field
// but the node's identity (NodeID is the hostname; Group, GRPCAddr and
// RaftAddr must be set by the caller).
type Config struct {
	// NodeID is the node's unique id in the cluster; it is the memberlist
	// node name and the Raft server ID. Required.
	NodeID string
	// Group is the broker group (Raft group) this node belongs to. Required.
	Group string
	// GRPCAddr is the host:port other nodes and clients reach this node's
	// gRPC API on. Required.
	GRPCAddr string
	// RaftAddr is the host:port of this node's Raft transport. Required.
	RaftAddr string
	// Version is the software version gossiped to peers; informational.
	Version string

	// BindAddr is the host:port memberlist listens on (TCP and UDP). Port 0
	// picks a free port (tests); Membership.Local().GossipAddr tells which.
	BindAddr string
	// AdvertiseAddr is the ip:port other nodes reach this node on, when it
	// differs from BindAddr (NAT, containers, or BindAddr 0.0.0.0 on a host
	// without a private IP). Empty means derived from BindAddr.
	AdvertiseAddr string
	// Join lists seed gossip addresses (host:port, or host for the default
	// port 7946). Empty means this node waits to be joined by others. The
	// list may include this node's own address.
	Join []string
	// JoinRetryMin is the first delay between join attempts; it doubles up
	// to JoinRetryMax, with jitter.
	JoinRetryMin time.Duration
	// JoinRetryMax caps the delay between join attempts. It is also how
	// often a joined node checks whether it has become isolated (every
	// other member dead or gone) and must join its seeds again.
	JoinRetryMax time.Duration
	// BroadcastTimeout bounds how long UpdateMeta and Leave wait for their
	// message to be gossiped.
	BroadcastTimeout time.Duration
	// ReapAfter is how long a dead or left member is remembered (and
	// reported by Members) after this node saw it go. 0 remembers forever.
	ReapAfter time.Duration

	// SecretKey enables gossip encryption (AES-GCM) when set; it must be
	// 16, 24 or 32 bytes and the same on every node. Nil disables it.
	SecretKey []byte
	// HasRaftState reports whether this node has Raft state. It is called
	// every time metadata is sent, so after bootstrapping (or being added by
	// a leader) the caller flips it and calls UpdateMeta. Nil means false.
	HasRaftState func() bool
	// Logger receives memberlist's and this package's logs. Nil discards.
	Logger *slog.Logger

	// testTimings selects memberlist.DefaultLocalConfig with tightened
	// probe and gossip intervals (set by TestConfig only).
	testTimings bool
}

// DefaultConfig returns production defaults: memberlist's LAN profile on
// 0.0.0.0:7946, joins retried from 1s up to 30s, dead members remembered
// for three days. The identity fields (Group, GRPCAddr, RaftAddr) are left
// for the caller; NodeID defaults to the hostname.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		NodeID:           host,
		BindAddr:         "0.0.0.0:7946",
		JoinRetryMin:     time.Second,
		JoinRetryMax:     30 * time.Second,
		BroadcastTimeout: 5 * time.Second,
		ReapAfter:        72 * time.Hour,
	}
}

// TestConfig returns a config for in-process tests: loopback with port 0,
// memberlist's local profile with tight probe, gossip and join timings.
// The caller sets NodeID, Group, GRPCAddr and RaftAddr.
func TestConfig() Config {
	c := DefaultConfig()
	c.NodeID = ""
	c.BindAddr = "127.0.0.1:0"
	c.JoinRetryMin = 20 * time.Millisecond
	c.JoinRetryMax = 200 * time.Millisecond
	c.BroadcastTimeout = 2 * time.Second
	c.testTimings = true
	return c
}

// Validate checks fields and cross-field rules; every error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.NodeID == "" {
		bad("NodeID is empty")
	}
	if c.Group == "" {
		bad("Group is empty")
	}
	if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		bad("GRPCAddr %q: %v", c.GRPCAddr, err)
	}
	if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		bad("RaftAddr %q: %v", c.RaftAddr, err)
	}
	if _, _, err := splitHostPort(c.BindAddr); err != nil {
		bad("BindAddr %q: %v", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		host, port, err := splitHostPort(c.AdvertiseAddr)
		switch {
		case err != nil:
			bad("AdvertiseAddr %q: %v", c.AdvertiseAddr, err)
		case net.ParseIP(host) == nil:
			bad("AdvertiseAddr %q: host must be an IP address", c.AdvertiseAddr)
		case port == 0:
			bad("AdvertiseAddr %q: port must not be 0", c.AdvertiseAddr)
		}
	}
	for i, seed := range c.Join {
		if seed == "" {
			bad("Join[%d] is empty", i)
		}
	}
	if c.JoinRetryMin <= 0 || c.JoinRetryMax < c.JoinRetryMin {
		bad("JoinRetryMin %v / JoinRetryMax %v: want 0 < min <= max", c.JoinRetryMin, c.JoinRetryMax)
	}
	if c.BroadcastTimeout <= 0 {
		bad("BroadcastTimeout %v must be positive", c.BroadcastTimeout)
	}
	if c.ReapAfter < 0 {
		bad("ReapAfter %v must not be negative", c.ReapAfter)
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		bad("SecretKey is %d bytes, want 16, 24 or 32", len(c.SecretKey))
	}
	if n, err := c.maxMetaSize(); err != nil || n > metaMaxSize {
		bad("node metadata is %d bytes, memberlist allows %d (shorten Group, addresses or Version)", n, metaMaxSize)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// maxMetaSize is the size of the largest metadata this config can produce
// (every flag set).
func (c Config) maxMetaSize() (int, error) {
	b, err := encodeMeta(c.meta(true, true))
	return len(b), err
}

// meta returns this node's metadata with the given flags.
func (c Config) meta(hasRaftState, leaving bool) nodeMeta {
	return nodeMeta{
		Group:        c.Group,
		GRPCAddr:     c.GRPCAddr,
		RaftAddr:     c.RaftAddr,
		Version:      c.Version,
		HasRaftState: hasRaftState,
		Leaving:      leaving,
	}
}

// memberlistConfig builds the memberlist configuration; the delegates are
// set by the caller. c must be valid.
func (c Config) memberlistConfig(logger *slog.Logger) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if c.testTimings {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.PushPullInterval = 2 * time.Second
		mc.GossipToTheDeadTime = 2 * time.Second
	}
	mc.Name = c.NodeID
	host, port, _ := splitHostPort(c.BindAddr)
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	if c.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitHostPort(c.AdvertiseAddr)
	}
	if len(c.SecretKey) > 0 {
		mc.SecretKey = append([]byte(nil), c.SecretKey...)
	}
	mc.Logger = newStdLogger(logger)
	return mc
}

// splitHostPort splits host:port and parses the port (0 allowed).
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, int(port), nil
}
