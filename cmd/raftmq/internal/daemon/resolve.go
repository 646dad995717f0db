package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Name resolution at startup: a container's own name (and its peers') may
// not resolve yet when it starts, so the daemon retries for a while.
var (
	resolveTimeout = 60 * time.Second
	resolveEvery   = 500 * time.Millisecond
)

// resolveHostPort returns addr with its host resolved to an IP address,
// retrying every resolveEvery for up to resolveTimeout (or until ctx
// ends). An address that already has an IP (or no host) is returned as is.
func resolveHostPort(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" || net.ParseIP(host) != nil {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	tick := time.NewTicker(resolveEvery)
	defer tick.Stop()
	for attempt := 1; ; attempt++ {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err == nil {
			return a.String(), nil
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Info("waiting for a host name to resolve", "addr", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("resolve %s: %w (last error: %v)", addr, context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}
