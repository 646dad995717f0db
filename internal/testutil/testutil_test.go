package testutil

import (
	"net"
	"strconv"
	"testing"
	"time"
)

func TestWaitForReturnsOnceTrue(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times", n)
	}
}

// fatalRecorder records Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic(f)
}

func TestWaitForFailsAtTimeout(t *testing.T) {
	r := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		WaitFor(r, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !r.failed {
		t.Fatal("WaitFor did not fail on a condition that never holds")
	}
}

func TestFreeAddrIsBindable(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}

// TestFreeAddrClaimsDistinctPorts: ports are distinct, below the
// ephemeral range, and locked (a second claim, as another test process
// would make, fails while this process lives).
func TestFreeAddrClaimsDistinctPorts(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, port, _ := net.SplitHostPort(addr)
		p, err := strconv.Atoi(port)
		if err != nil || p < portLow || p >= portHigh {
			t.Fatalf("%s outside [%d, %d)", addr, portLow, portHigh)
		}
		if claimPort(p) {
			t.Fatalf("port %d claimed twice", p)
		}
	}
}
