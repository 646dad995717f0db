// Command raftmq is the raftmq broker daemon: one node of a broker group.
// See package daemon for its flags and configuration file.
package main

import (
	"context"
	"os"

	"github.com/raftmq/raftmq/cmd/raftmq/internal/daemon"
	"github.com/raftmq/raftmq/internal/grpcbuf"
)

// version is set at build time with -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	grpcbuf.Install()
	os.Exit(daemon.Run(context.Background(), version, os.Args[1:], os.Stdout, os.Stderr))
}
