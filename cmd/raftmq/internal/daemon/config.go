package daemon

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Config is the daemon's configuration: the flags, and the keys of the
// YAML file, which have the same names.
type Config struct {
	// NodeID is this node's id in its group (its Raft server id).
	NodeID string `yaml:"node-id"`
	// Group is the broker group (Raft group) this node belongs to.
	Group string `yaml:"group"`
	// DataDir holds the Raft state and the message store.
	DataDir string `yaml:"data-dir"`
	// GRPCAddr is the address the gRPC server listens on.
	GRPCAddr string `yaml:"grpc-addr"`
	// GRPCAdvertise is the gRPC address other nodes and clients dial;
	// empty means GRPCAddr.
	GRPCAdvertise string `yaml:"grpc-advertise"`
	// RaftAddr is the address the Raft transport listens on.
	RaftAddr string `yaml:"raft-addr"`
	// RaftAdvertise is the Raft address other nodes dial; empty means
	// RaftAddr.
	RaftAdvertise string `yaml:"raft-advertise"`
	// Peers are the static members of the group, "id=raftAddr=grpcAddr".
	Peers []string `yaml:"peers"`
	// Bootstrap forms the group from Peers when no Raft state exists; nil
	// means true without Peers, false with them.
	Bootstrap *bool `yaml:"bootstrap"`
	// GossipAddr is the host:port gossip (membership) binds to, TCP and
	// UDP. Gossip is on when it, Join or BootstrapExpect is set; then an
	// empty GossipAddr means DefaultGossipAddr.
	GossipAddr string `yaml:"gossip-addr"`
	// GossipAdvertise is the host:port other nodes reach this node's
	// gossip on; a host name is resolved to an IP address at startup.
	// Empty means derived from GossipAddr.
	GossipAdvertise string `yaml:"gossip-advertise"`
	// Join lists seed gossip addresses (host:port); joining retries with
	// backoff until a seed answers. May include this node.
	Join []string `yaml:"join"`
	// BootstrapExpect forms a new group once this many empty nodes of the
	// group are alive in gossip (0: never bootstrap through gossip).
	BootstrapExpect int `yaml:"bootstrap-expect"`
	// GossipKey is a base64 AES key (16, 24 or 32 bytes) encrypting
	// gossip; empty disables encryption.
	GossipKey string `yaml:"gossip-key"`
	// DeadNodeTimeout makes the group leader remove a Raft server that
	// gossip has shown dead or gone for this long; 0 never removes one.
	DeadNodeTimeout time.Duration `yaml:"dead-node-timeout"`
	// Flush is the CommitLog flush mode, sync or async.
	Flush string `yaml:"flush"`
	// RaftLogStore is the Raft log and stable store of a new data
	// directory: wal (hashicorp/raft-wal, the default) or boltdb
	// (hashicorp/raft-boltdb). An existing data directory keeps the store
	// it was created with.
	RaftLogStore string `yaml:"raft-log-store"`
	// RaftLeaderAppend is parallel (the default: the leader fsyncs its
	// copy of new entries while the followers fsync theirs) or serial
	// (hashicorp/raft's order, before replicating; for comparisons).
	RaftLeaderAppend string `yaml:"raft-leader-append"`
	// Retention deletes CommitLog segments older than this; 0 keeps them.
	Retention time.Duration `yaml:"retention"`
	// AutoCreateTopics creates unknown topics on first produce/subscribe.
	AutoCreateTopics bool `yaml:"auto-create-topics"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log-level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log-format"`
	// ShutdownTimeout bounds the graceful drain of gRPC calls on shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout"`
	// ScrubInterval is how often every CommitLog record's checksum is
	// verified in the background (damage is repaired from a replica).
	ScrubInterval time.Duration `yaml:"scrub-interval"`
	// PprofAddr, if set, serves net/http/pprof's /debug/pprof/ on this
	// address (for profiling; bind it to a loopback address).
	PprofAddr string `yaml:"pprof-addr"`
	// PprofBlockRate and PprofMutexFraction turn on the block and mutex
	// profiles served under PprofAddr (runtime.SetBlockProfileRate: one
	// blocking event sampled per that many nanoseconds blocked;
	// runtime.SetMutexProfileFraction: one contention event in that
	// many). 0, the default, leaves them off: both cost CPU on every
	// blocking operation while on.
	PprofBlockRate     int `yaml:"pprof-block-rate"`
	PprofMutexFraction int `yaml:"pprof-mutex-fraction"`
}

// defaultConfig returns the built-in defaults: a single-node group on
// 127.0.0.1 with data in ./data.
func defaultConfig() Config {
	return Config{
		NodeID:           "n1",
		Group:            "broker-a",
		DataDir:          "./data",
		GRPCAddr:         "127.0.0.1:9876",
		RaftAddr:         "127.0.0.1:9877",
		Flush:            "async",
		RaftLogStore:     raftfsm.LogStoreWAL,
		RaftLeaderAppend: "parallel",
		Retention:        store.DefaultOptions().RetentionTime,
		LogLevel:         "info",
		LogFormat:        "text",
		ShutdownTimeout:  10 * time.Second,
		ScrubInterval:    raftfsm.DefaultConfig().ScrubInterval,
	}
}

// parseConfig builds the configuration from defaults, the --config file
// and the flags in args, in that order of precedence (lowest first).
func parseConfig(args []string, stderr io.Writer) (Config, bool, error) {
	cfg := defaultConfig()
	if path := findConfigArg(args); path != "" {
		if err := loadFile(path, &cfg); err != nil {
			return cfg, false, err
		}
	}
	fs := flag.NewFlagSet("raftmq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configPath, peers, join string
	var bootstrap, version bool
	fs.StringVar(&configPath, "config", "", "YAML configuration `file` (keys named like the flags)")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this node's `id` in its group")
	fs.StringVar(&cfg.Group, "group", cfg.Group, "broker group `name`")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data `directory` (Raft state and message store)")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen `address`")
	fs.StringVar(&cfg.GRPCAdvertise, "grpc-advertise", cfg.GRPCAdvertise, "gRPC `address` others dial (default: --grpc-addr)")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", cfg.RaftAddr, "Raft listen `address`")
	fs.StringVar(&cfg.RaftAdvertise, "raft-advertise", cfg.RaftAdvertise, "Raft `address` others dial (default: --raft-addr)")
	fs.StringVar(&peers, "peers", strings.Join(cfg.Peers, ","), "static group members, `id=raftAddr=grpcAddr,...`")
	fs.BoolVar(&bootstrap, "bootstrap", cfg.Bootstrap != nil && *cfg.Bootstrap, "form the group from --peers if no Raft state exists (default: true without --peers)")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", cfg.GossipAddr, "gossip bind `address`, TCP and UDP (default "+DefaultGossipAddr+" when gossip is on: with this flag, --join or --bootstrap-expect)")
	fs.StringVar(&cfg.GossipAdvertise, "gossip-advertise", cfg.GossipAdvertise, "gossip `address` others reach this node on (host names are resolved)")
	fs.StringVar(&join, "join", strings.Join(cfg.Join, ","), "seed gossip `addresses`, host:port,... (retried until one answers)")
	fs.IntVar(&cfg.BootstrapExpect, "bootstrap-expect", cfg.BootstrapExpect, "form a new group once `N` empty nodes of it are alive in gossip")
	fs.StringVar(&cfg.GossipKey, "gossip-key", cfg.GossipKey, "base64 gossip encryption `key` of 16, 24 or 32 bytes (default: none)")
	fs.DurationVar(&cfg.DeadNodeTimeout, "dead-node-timeout", cfg.DeadNodeTimeout, "leader removes a Raft server gone from gossip this `long` (0 never)")
	fs.StringVar(&cfg.Flush, "flush", cfg.Flush, "CommitLog flush `mode`: sync or async")
	fs.StringVar(&cfg.RaftLogStore, "raft-log-store", cfg.RaftLogStore, "Raft log `store` of a new data directory: wal or boltdb (an existing one keeps its store)")
	fs.StringVar(&cfg.RaftLeaderAppend, "raft-leader-append", cfg.RaftLeaderAppend, "`mode` of the leader's own Raft log append: parallel (with the followers'), own (parallel, but an entry is applied only once the leader's copy is durable) or serial (before replicating); own and serial are for comparisons")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "delete messages older than this `duration` (0 keeps them)")
	fs.BoolVar(&cfg.AutoCreateTopics, "auto-create-topics", cfg.AutoCreateTopics, "create unknown topics on first use")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn, error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: text or json")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "graceful gRPC drain `timeout` on shutdown")
	fs.DurationVar(&cfg.ScrubInterval, "scrub-interval", cfg.ScrubInterval, "verify every CommitLog record's checksum this `often` (damage is repaired from a replica)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", cfg.PprofAddr, "serve /debug/pprof/ on this `address` (default: off)")
	fs.IntVar(&cfg.PprofBlockRate, "pprof-block-rate", cfg.PprofBlockRate, "with --pprof-addr, sample one blocking event per `ns` nanoseconds blocked for /debug/pprof/block (0: off)")
	fs.IntVar(&cfg.PprofMutexFraction, "pprof-mutex-fraction", cfg.PprofMutexFraction, "with --pprof-addr, sample one in `n` mutex contention events for /debug/pprof/mutex (0: off)")
	fs.BoolVar(&version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "peers":
			cfg.Peers = splitList(peers)
		case "join":
			cfg.Join = splitList(join)
		case "bootstrap":
			cfg.Bootstrap = &bootstrap
		}
	})
	return cfg, version, cfg.validate()
}

// findConfigArg returns the value of --config/-config in args, if any.
func findConfigArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// loadFile reads a YAML configuration file over cfg; unknown keys fail.
func loadFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate checks the fields the daemon interprets itself; the packages
// validate the rest.
func (c Config) validate() error {
	if _, err := store.ParseFlushMode(c.Flush); err != nil {
		return err
	}
	if c.RaftLogStore != "boltdb" && c.RaftLogStore != "wal" {
		return fmt.Errorf("--raft-log-store %q: want boltdb or wal", c.RaftLogStore)
	}
	if c.RaftLeaderAppend != "parallel" && c.RaftLeaderAppend != "own" && c.RaftLeaderAppend != "serial" {
		return fmt.Errorf("--raft-leader-append %q: want parallel, own or serial", c.RaftLeaderAppend)
	}
	switch {
	case c.PprofBlockRate < 0 || c.PprofMutexFraction < 0:
		return fmt.Errorf("--pprof-block-rate %d, --pprof-mutex-fraction %d: must not be negative", c.PprofBlockRate, c.PprofMutexFraction)
	case c.PprofAddr == "" && (c.PprofBlockRate != 0 || c.PprofMutexFraction != 0):
		return errors.New("--pprof-block-rate and --pprof-mutex-fraction need --pprof-addr")
	}
	if _, err := c.level(); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	if c.ScrubInterval <= 0 {
		return errors.New("scrub-interval must be positive")
	}
	if c.Retention < 0 || c.ShutdownTimeout <= 0 {
		return errors.New("retention must not be negative and shutdown-timeout must be positive")
	}
	if _, err := c.peers(); err != nil {
		return err
	}
	return c.validateGossip()
}

// DefaultGossipAddr is the gossip bind address when gossip is on and
// --gossip-addr is not given.
const DefaultGossipAddr = "0.0.0.0:7946"

// gossip reports whether membership (gossip) is on.
func (c Config) gossip() bool {
	return c.GossipAddr != "" || len(c.Join) > 0 || c.BootstrapExpect > 0
}

// gossipBind is the gossip bind address.
func (c Config) gossipBind() string { return cmp.Or(c.GossipAddr, DefaultGossipAddr) }

// validateGossip checks the gossip settings and how they combine with the
// static ones.
func (c Config) validateGossip() error {
	switch {
	case c.BootstrapExpect < 0:
		return fmt.Errorf("bootstrap-expect %d must not be negative", c.BootstrapExpect)
	case c.DeadNodeTimeout < 0:
		return fmt.Errorf("dead-node-timeout %v must not be negative", c.DeadNodeTimeout)
	case c.BootstrapExpect > 0 && (len(c.Peers) > 0 || c.Bootstrap != nil && *c.Bootstrap):
		return errors.New("bootstrap-expect forms the group through gossip: do not combine it with --peers or --bootstrap")
	}
	if _, err := c.gossipKey(); err != nil {
		return err
	}
	if !c.gossip() {
		if c.GossipAdvertise != "" || c.GossipKey != "" || c.DeadNodeTimeout > 0 {
			return errors.New("gossip-advertise, gossip-key and dead-node-timeout need gossip (--gossip-addr, --join or --bootstrap-expect)")
		}
		return nil
	}
	for _, a := range append([]string{c.gossipBind(), c.raftAdvertise()}, c.Join...) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("gossip: address %q: %w", a, err)
		}
	}
	if _, port, _ := net.SplitHostPort(c.raftAdvertise()); port == "0" {
		return errors.New("gossip needs a fixed Raft port (--raft-addr or --raft-advertise with a port other than 0)")
	}
	return nil
}

// gossipKey decodes GossipKey; nil when empty.
func (c Config) gossipKey() ([]byte, error) {
	if c.GossipKey == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(c.GossipKey)
	if err != nil {
		return nil, fmt.Errorf("gossip-key: not base64: %w", err)
	}
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("gossip-key: %d bytes, want 16, 24 or 32", n)
	}
	return key, nil
}

func (c Config) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}

// peer is one parsed --peers entry.
type peer struct {
	ID, RaftAddr, GRPCAddr string
}

// peers parses Peers and adds this node if it is missing.
func (c Config) peers() ([]peer, error) {
	var out []peer
	seen := map[string]bool{}
	for _, p := range c.Peers {
		parts := strings.Split(p, "=")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("peer %q: want id=raftAddr=grpcAddr", p)
		}
		if seen[parts[0]] {
			return nil, fmt.Errorf("peer %q listed twice", parts[0])
		}
		seen[parts[0]] = true
		out = append(out, peer{ID: parts[0], RaftAddr: parts[1], GRPCAddr: parts[2]})
	}
	if len(out) > 0 && !seen[c.NodeID] {
		out = append(out, peer{ID: c.NodeID, RaftAddr: c.raftAdvertise(), GRPCAddr: c.grpcAdvertise()})
	}
	return out, nil
}

// bootstrap reports whether to form the group from the static
// configuration when no Raft state exists. With gossip it is only an
// explicit --bootstrap (a group grows through --bootstrap-expect or by
// being added by its leader); without, it defaults to true without peers.
func (c Config) bootstrap() bool {
	if c.Bootstrap != nil {
		return *c.Bootstrap
	}
	return len(c.Peers) == 0 && !c.gossip()
}

func (c Config) grpcAdvertise() string { return cmp.Or(c.GRPCAdvertise, c.GRPCAddr) }
func (c Config) raftAdvertise() string { return cmp.Or(c.RaftAdvertise, c.RaftAddr) }
