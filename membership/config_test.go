package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.NodeID, c.Group = "n1", "g1"
		c.GRPCAddr, c.RaftAddr = "10.0.0.1:9876", "10.0.0.1:9877"
		return c
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{name: "default with identity", mutate: func(*Config) {}, ok: true},
		{name: "test config with identity", mutate: func(c *Config) { *c = nodeConfig("n1", "g1", 1) }, ok: true},
		{name: "port 0 bind", mutate: func(c *Config) { c.BindAddr = "127.0.0.1:0" }, ok: true},
		{name: "advertise", mutate: func(c *Config) { c.AdvertiseAddr = "10.0.0.1:7946" }, ok: true},
		{name: "16-byte key", mutate: func(c *Config) { c.SecretKey = make([]byte, 16) }, ok: true},
		{name: "24-byte key", mutate: func(c *Config) { c.SecretKey = make([]byte, 24) }, ok: true},
		{name: "32-byte key", mutate: func(c *Config) { c.SecretKey = make([]byte, 32) }, ok: true},
		{name: "15-byte key", mutate: func(c *Config) { c.SecretKey = make([]byte, 15) }},
		{name: "33-byte key", mutate: func(c *Config) { c.SecretKey = make([]byte, 33) }},
		{name: "no node id", mutate: func(c *Config) { c.NodeID = "" }},
		{name: "no group", mutate: func(c *Config) { c.Group = "" }},
		{name: "bad grpc addr", mutate: func(c *Config) { c.GRPCAddr = "nohostport" }},
		{name: "no raft addr", mutate: func(c *Config) { c.RaftAddr = "" }},
		{name: "bad bind", mutate: func(c *Config) { c.BindAddr = "127.0.0.1" }},
		{name: "bind port out of range", mutate: func(c *Config) { c.BindAddr = "127.0.0.1:70000" }},
		{name: "advertise hostname", mutate: func(c *Config) { c.AdvertiseAddr = "node1:7946" }},
		{name: "advertise port 0", mutate: func(c *Config) { c.AdvertiseAddr = "10.0.0.1:0" }},
		{name: "empty seed", mutate: func(c *Config) { c.Join = []string{"a:7946", ""} }},
		{name: "zero retry min", mutate: func(c *Config) { c.JoinRetryMin = 0 }},
		{name: "retry max below min", mutate: func(c *Config) { c.JoinRetryMax = c.JoinRetryMin / 2 }},
		{name: "zero broadcast timeout", mutate: func(c *Config) { c.BroadcastTimeout = 0 }},
		{name: "negative reap", mutate: func(c *Config) { c.ReapAfter = -time.Second }},
		{name: "metadata too large", mutate: func(c *Config) { c.Version = strings.Repeat("v", 480) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestConfigMetaLimitIsExact checks that Validate accepts metadata of
// exactly memberlist's limit and rejects one byte more.
func TestConfigMetaLimitIsExact(t *testing.T) {
	c := nodeConfig("n1", "g1", 1)
	c.Version = ""
	n, err := c.maxMetaSize()
	if err != nil {
		t.Fatal(err)
	}
	// The empty Version is omitted; a non-empty one adds `,"ver":""` (9
	// bytes) plus its length.
	c.Version = strings.Repeat("v", metaMaxSize-n-9)
	if err := c.Validate(); err != nil {
		t.Fatalf("metadata of exactly %d bytes rejected: %v", metaMaxSize, err)
	}
	if got, _ := c.maxMetaSize(); got != metaMaxSize {
		t.Fatalf("max metadata size = %d, want %d", got, metaMaxSize)
	}
	c.Version += "v"
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("metadata of %d bytes: Validate = %v, want ErrInvalidConfig", metaMaxSize+1, err)
	}
}
