// Package testutil holds the small helpers every package's tests share:
// polling instead of sleeping, and free loopback addresses.
package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
//
// Ports come from below the kernel's ephemeral range, so no outgoing
// connection of any process takes one between this call and the node's
// bind (":0" ports were, and a test then failed with "address already in
// use"). Each is claimed with a lock file held until this test process
// exits, so concurrent test processes (go test runs packages in parallel)
// never hand out the same port, and this process never hands one out
// twice.
func FreeAddr(t testing.TB) string {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	if portNext == 0 {
		portNext = portLow + rand.IntN(portHigh-portLow)
	}
	for range portHigh - portLow {
		p := portNext
		if portNext++; portNext == portHigh {
			portNext = portLow
		}
		if !claimPort(p) {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
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

// portLow and portHigh bound the ports FreeAddr hands out: below Linux's
// default ephemeral range (32768-60999).
const portLow, portHigh = 10000, 32000

var (
	portMu    sync.Mutex
	portNext  int
	portLocks []*os.File // kept open: each holds its port's lock until exit
)

// claimPort takes port p's lock file for this process, or reports that
// another test process holds it.
func claimPort(p int) bool {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("raftmq-test-port-%d.lock", p)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return false
	}
	portLocks = append(portLocks, f)
	return true
}
