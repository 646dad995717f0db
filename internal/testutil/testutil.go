// Package testutil holds the small helpers every package's tests share:
// polling instead of sleeping, and free loopback addresses.
package testutil

import (
	"net"
	"testing"
	"time"
)

// pollEvery is how often WaitFor re-evaluates its condition.
const pollEvery = 5 * time.Millisecond

// WaitFor polls cond until it holds, failing the test with what if it does
// not within timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// FreeAddr returns a 127.0.0.1 address whose port was free for both TCP and
// UDP a moment ago (gossip uses both), for a node started later at a known
// address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return addr
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return ""
}
