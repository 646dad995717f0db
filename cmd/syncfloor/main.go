// Command syncfloor measures the machine's floor for a replicated
// synchronous write: one client, a leader and followers as processes of
// their own on 127.0.0.1, each message fsynced by a majority before it is
// acknowledged, with nothing else in the path (see internal/syncfloor).
// scripts/bench-vs-nats.sh prints it beside raftmq and NATS JetStream.
//
//	syncfloor [--replicas 3] [--count 5000] [--size 1024] [--json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/raftmq/raftmq/internal/syncfloor"
)

func main() {
	if ok, err := syncfloor.ServeRole(); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	cfg := syncfloor.DefaultConfig()
	flag.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "server processes (a majority acknowledges each message)")
	flag.IntVar(&cfg.Count, "count", cfg.Count, "messages measured")
	flag.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "messages sent first, not measured")
	flag.IntVar(&cfg.Size, "size", cfg.Size, "message body bytes")
	flag.StringVar(&cfg.Dir, "dir", cfg.Dir, "directory of the servers' log files (on the disk to measure)")
	flag.BoolVar(&cfg.Fallocate, "fallocate", false, "preallocate the logs with fallocate instead of zero-filling them")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := syncfloor.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	l := res.Latency
	fmt.Printf("syncfloor R%d, %d B, %d messages, direct I/O %t\n", res.Replicas, res.Size, res.Messages, res.Direct)
	fmt.Printf("throughput  %.0f msg/s\n", res.MsgPerSec)
	fmt.Printf("latency     p50 %dus  p90 %dus  p99 %dus  p99.9 %dus  max %dus\n", l.P50, l.P90, l.P99, l.P999, l.Max)
}
