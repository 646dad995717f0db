// Command syncfloor measures the machine's floor for a replicated
// synchronous write: one client, a leader and followers as processes of
// their own on 127.0.0.1, each message fsynced by a majority before it is
// acknowledged, with nothing else in the path (see internal/syncfloor).
// scripts/bench-vs-nats.sh prints it beside raftmq and NATS JetStream.
//
//	syncfloor [--replicas 3] [--count 5000] [--warmup 500] [--size 1024]
//	          [--dir DIR] [--fallocate] [--timeout 5m] [--json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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
	os.Exit(run())
}

func run() int {
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

	// Ctrl-C ends the run like the timeout: the servers stop and their
	// logs are removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := syncfloor.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	l := res.Latency
	fmt.Printf("syncfloor R%d, %d B, %d messages, direct I/O %t\n", res.Replicas, res.Size, res.Messages, res.Direct)
	fmt.Printf("throughput  %.0f msg/s\n", res.MsgPerSec)
	fmt.Printf("latency     p50 %dus  p90 %dus  p99 %dus  p99.9 %dus  max %dus\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	fmt.Printf("server CPU  %.0f us per message\n", res.ServerCPUPerMsg)
	return 0
}
