package syncfloor

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/raftmq/raftmq/internal/testutil"
)

// TestMain lets Run start this test binary as its server processes.
func TestMain(m *testing.M) {
	if ok, err := ServeRole(); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func testConfig(t *testing.T, replicas int) Config {
	cfg := DefaultConfig()
	cfg.Replicas, cfg.Count, cfg.Warmup, cfg.Dir, cfg.LogSize = replicas, 60, 5, t.TempDir(), 4<<20
	return cfg
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replicas  int
		inProcess bool
		fallocate bool
	}{
		{"R1 in process", 1, true, false},
		{"R3 in process", 3, true, false},
		{"R2 in process", 2, true, false},
		{"R3 in process fallocated", 3, true, true},
		{"R1 processes", 1, false, false},
		{"R3 processes", 3, false, false},
		{"R5 in process", 5, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.replicas)
			cfg.InProcess, cfg.Fallocate = tc.inProcess, tc.fallocate
			if !tc.inProcess {
				cfg.Count = 1000 // enough CPU for /proc's 10 ms ticks to see
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			l := res.Latency
			if res.Messages != int64(cfg.Count) || res.Replicas != tc.replicas || res.MsgPerSec <= 0 {
				t.Fatalf("result %+v", res)
			}
			if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Fatalf("latency percentiles out of order: %+v", l)
			}
			if tc.inProcess != (res.ServerCPUPerMsg == 0) {
				t.Fatalf("server CPU per message %.1f us with servers in process %t", res.ServerCPUPerMsg, tc.inProcess)
			}
			if left, _ := filepath.Glob(filepath.Join(cfg.Dir, "*")); len(left) != 0 {
				t.Fatalf("logs left behind: %v", left)
			}
		})
	}
}

// Every server appends every message: the followers' logs hold what the
// leader's holds, in order.
func TestFollowersStoreEveryMessage(t *testing.T) {
	cfg := testConfig(t, 3)
	cfg.InProcess, cfg.Size = true, 100
	g := &group{cfg: cfg}
	defer g.stop()
	leader, err := g.start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := measure(t.Context(), cfg, leader, true, g.cpu); err != nil {
		t.Fatal(err)
	}
	n := cfg.Warmup + cfg.Count
	frame := seqBytes + cfg.Size
	for _, s := range g.servers {
		// The leader acknowledges once a majority has the last message;
		// the slower follower may still be writing it.
		testutil.WaitFor(t, 10*time.Second, "every record appended", func() bool { return s.logLen() >= int64(n*frame) })
		data, err := os.ReadFile(s.log.f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got := binary.LittleEndian.Uint64(data[i*frame:]); got != uint64(i+1) {
				t.Fatalf("%s: record %d has sequence %d", s.log.f.Name(), i, got)
			}
		}
		if !bytes.Equal(data[n*frame:n*frame+blockSize], make([]byte, blockSize)) {
			t.Fatalf("%s: bytes after the last record are not zero", s.log.f.Name())
		}
	}
}

// A follower that dies ends the run with an error instead of a hang.
func TestFollowerLost(t *testing.T) {
	cfg := testConfig(t, 3)
	cfg.InProcess = true
	g := &group{cfg: cfg}
	defer g.stop()
	leader, err := g.start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	g.servers[0].close() // a follower
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = measure(ctx, cfg, leader, true, g.cpu)
	if err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("measure with a follower gone: %v, want the connection's end", err)
	}
}

// The leader acknowledges a message only once a majority, itself
// included, has appended it: never on the acknowledgement of a slower
// follower for an earlier message. Follower delays are set so that such
// a stale acknowledgement arrives before any current one.
func TestLeaderWaitsForMajority(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		delays   []time.Duration
	}{
		{2, []time.Duration{time.Millisecond}},
		{3, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond}},
		{4, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond}},
		{5, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond}},
	} {
		t.Run(fmt.Sprintf("R%d", tc.replicas), func(t *testing.T) {
			cfg := testConfig(t, tc.replicas)
			cfg.InProcess, cfg.Size = true, 64
			g := &group{cfg: cfg, delays: tc.delays}
			defer g.stop()
			addr, err := g.start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			frame := make([]byte, seqBytes+cfg.Size)
			ack := make([]byte, seqBytes)
			quorum := tc.replicas/2 + 1
			for seq := uint64(1); seq <= 30; seq++ {
				binary.LittleEndian.PutUint64(frame, seq)
				if _, err := c.Write(frame); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, ack); err != nil {
					t.Fatal(err)
				}
				have := 0
				for _, s := range g.servers {
					if s.logLen() >= int64(seq)*int64(len(frame)) {
						have++
					}
				}
				if have < quorum {
					t.Fatalf("message %d acknowledged with %d of %d servers holding it, want a majority (%d)", seq, have, tc.replicas, quorum)
				}
			}
		})
	}
}

// The log packs records back to back, rewriting the partial block, and
// wraps at its size.
func TestLogAppend(t *testing.T) {
	for _, fallocate := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallocate=%t", fallocate), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			w, err := openLog(path, 1, fallocate) // rounded up to the minimum size
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			if w.size != 2*fillChunk {
				t.Fatalf("size %d, want %d", w.size, 2*fillChunk)
			}
			var want []byte
			if !w.direct {
				t.Logf("%s refuses O_DIRECT: the buffered fallback is tested", filepath.Dir(path))
			}
			// 1+100+3995 ends on a block boundary; so does the 3-block record after it.
			for i, n := range []int{1, 100, 3995, 3 * blockSize, 4096, 5000, 7} {
				rec := bytes.Repeat([]byte{byte(i + 1)}, n)
				if err := w.append(rec); err != nil {
					t.Fatal(err)
				}
				want = append(want, rec...)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != w.size || !bytes.Equal(data[:len(want)], want) {
				t.Fatalf("log holds %d bytes, the records' prefix differs: %t", len(data), !bytes.Equal(data[:len(want)], want))
			}
			if !bytes.Equal(data[len(want):], make([]byte, len(data)-len(want))) {
				t.Fatal("bytes past the last record are not zero")
			}
			// A record that fills the file exactly stays at the end; the
			// next one does not fit and goes to the start, the one after
			// it right behind.
			w.pos = w.size - 10
			if err := w.append([]byte("tail567890")); err != nil {
				t.Fatal(err)
			}
			for _, rec := range []string{"wrapped!!!!", "next"} {
				if err := w.append([]byte(rec)); err != nil {
					t.Fatal(err)
				}
			}
			data, err = os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("wrapped!!!!next")) || !bytes.HasSuffix(data, []byte("tail567890")) {
				t.Fatalf("after the wrap the log starts %q and ends %q", data[:15], data[len(data)-10:])
			}
			if err := w.append(make([]byte, len(w.buf))); err == nil {
				t.Fatal("a record over the buffer's size was taken")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"no replicas", func(c *Config) { c.Replicas = 0 }, "replicas"},
		{"no count", func(c *Config) { c.Count = 0 }, "count"},
		{"negative warmup", func(c *Config) { c.Warmup = -1 }, "warmup"},
		{"size too big", func(c *Config) { c.Size = maxSize + 1 }, "size"},
		{"negative size", func(c *Config) { c.Size = -1 }, "size"},
		{"no dir", func(c *Config) { c.Dir = "" }, "directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
