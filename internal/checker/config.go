package checker

import (
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Checker. Zero fields take the defaults noted, applied
// in withDefaults.
type Config struct {
	// Addrs are seed gRPC addresses for the producers and the consumer
	// group. Required.
	Addrs []string
	// AddrMap rewrites advertised node addresses before the producers and
	// the consumer group dial them (client.WithAddressMap), for nodes that
	// advertise names this host cannot resolve (compose). nil: none.
	AddrMap map[string]string
	// Replicas are the gRPC addresses read directly, one by one, in
	// Check; default Addrs. List every replica of the topic's group.
	Replicas []string
	// Topic is the topic to write; default "check-<RunID>".
	Topic string
	// Queues, when positive, creates Topic with this many queues before
	// the workload starts (an existing topic with the same count is fine).
	// Zero uses an existing (or auto-created) topic.
	Queues uint32
	// Producers is the number of concurrent producers (default 4).
	Producers int
	// BodySize is the body length in bytes (default 256; at least the
	// header, about 60 bytes, whatever is asked).
	BodySize int
	// Seed seeds the run id and the padding (default 1).
	Seed int64
	// RunID names this run inside the payloads; default derived from Seed.
	RunID string
	// RequestTimeout bounds one Produce attempt; after it the outcome is
	// unknown (default 5s).
	RequestTimeout time.Duration
	// SendTimeout bounds one Send with its retries (default 15s).
	SendTimeout time.Duration
	// SettleTimeout bounds Check's wait for the replicas to agree on every
	// queue's max offset (default 30s).
	SettleTimeout time.Duration
	// ConsumeTimeout bounds Check's consumer-group read (default 30s).
	ConsumeTimeout time.Duration
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// header bytes a body needs besides the padding, with generous ids.
const minBodySize = 64

func (c Config) withDefaults() Config {
	if len(c.Replicas) == 0 {
		c.Replicas = c.Addrs
	}
	if c.Producers == 0 {
		c.Producers = 4
	}
	if c.BodySize == 0 {
		c.BodySize = 256
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("%08x", uint32(c.Seed*0x9e3779b1)^uint32(c.Seed>>32))
	}
	if c.Topic == "" {
		c.Topic = "check-" + c.RunID
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 15 * time.Second
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 30 * time.Second
	}
	if c.ConsumeTimeout == 0 {
		c.ConsumeTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config after withDefaults.
func (c Config) validate() error {
	switch {
	case len(c.Addrs) == 0:
		return fmt.Errorf("%w: no seed address", ErrInvalidConfig)
	case c.Producers < 1:
		return fmt.Errorf("%w: producers %d must be at least 1", ErrInvalidConfig, c.Producers)
	case c.BodySize < 0:
		return fmt.Errorf("%w: body size %d must not be negative", ErrInvalidConfig, c.BodySize)
	case !validField(c.RunID):
		return fmt.Errorf("%w: run id %q must be non-empty letters and digits", ErrInvalidConfig, c.RunID)
	case c.RequestTimeout < 0 || c.SendTimeout < 0 || c.SettleTimeout < 0 || c.ConsumeTimeout < 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrInvalidConfig)
	case c.SendTimeout < c.RequestTimeout:
		return fmt.Errorf("%w: send timeout %v below request timeout %v", ErrInvalidConfig, c.SendTimeout, c.RequestTimeout)
	}
	return nil
}

// validField reports whether s is non-empty ASCII letters and digits.
func validField(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}
