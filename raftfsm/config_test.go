package raftfsm

import "testing"

func TestConfigValidate(t *testing.T) {
	base := TestConfig()
	base.NodeID, base.Dir = "n0", t.TempDir()
	tests := []struct {
		name  string
		tweak func(*Config)
		ok    bool
	}{
		{"test config", func(*Config) {}, true},
		{"defaults are raft-wal with a log cache", func(c *Config) {
			d := DefaultConfig()
			if d.LogStore != LogStoreWAL || d.LogCacheEntries <= 0 {
				t.Errorf("DefaultConfig: LogStore %q, LogCacheEntries %d", d.LogStore, d.LogCacheEntries)
			}
		}, true},
		{"boltdb", func(c *Config) { c.LogStore = LogStoreBoltDB }, true},
		{"unknown log store", func(c *Config) { c.LogStore = "sqlite" }, false},
		{"no log cache", func(c *Config) { c.LogCacheEntries = 0 }, true},
		{"negative log cache", func(c *Config) { c.LogCacheEntries = -1 }, false},
		{"too many append entries", func(c *Config) { c.MaxAppendEntries = 2000 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.tweak(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
