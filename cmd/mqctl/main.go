// Command mqctl is the raftmq operator and developer CLI. See the cli
// package for its commands.
package main

import (
	"os"

	"github.com/raftmq/raftmq/cmd/mqctl/internal/cli"
	"github.com/raftmq/raftmq/internal/grpcbuf"
)

// version is set at build time with -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	grpcbuf.Install()
	os.Exit(cli.Run(version, os.Args[1:], os.Stdout, os.Stderr))
}
