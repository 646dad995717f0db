package daemon

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "raftmq.yaml")
	if err := os.WriteFile(file, []byte("node-id: fromfile\ngroup: gfile\nretention: 1h\nflush: sync\npeers: [\"a=ra:1=ga:1\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nodeid: typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool {
			return c.NodeID == "n1" && c.DataDir == "./data" && c.GRPCAddr == "127.0.0.1:9876" && c.RaftAddr == "127.0.0.1:9877" &&
				c.bootstrap() && !c.AutoCreateTopics && c.Flush == "async" && c.RaftLogStore == "wal" && c.RaftLeaderAppend == "parallel" && c.PprofAddr == ""
		}, ""},
		{"flags", []string{"--node-id", "x", "--auto-create-topics", "--flush=sync", "--retention", "2h", "--log-format", "json"}, func(c Config) bool {
			return c.NodeID == "x" && c.AutoCreateTopics && c.Flush == "sync" && c.Retention == 2*time.Hour && c.LogFormat == "json"
		}, ""},
		{"file", []string{"--config", file}, func(c Config) bool {
			return c.NodeID == "fromfile" && c.Group == "gfile" && c.Retention == time.Hour && c.Flush == "sync" && len(c.Peers) == 1 && !c.bootstrap()
		}, ""},
		{"flags override the file", []string{"-config=" + file, "--node-id", "a", "--peers", "a=r:1=g:1,b=r:2=g:2", "--bootstrap"}, func(c Config) bool {
			p, _ := c.peers()
			return c.NodeID == "a" && c.Group == "gfile" && len(p) == 2 && p[1] == (peer{"b", "r:2", "g:2"}) && c.bootstrap()
		}, ""},
		{"self added to peers", []string{"--node-id", "me", "--peers", "a=r:1=g:1"}, func(c Config) bool {
			p, _ := c.peers()
			return len(p) == 2 && p[1] == (peer{"me", "127.0.0.1:9877", "127.0.0.1:9876"}) && !c.bootstrap()
		}, ""},
		{"bootstrap off", []string{"--bootstrap=false"}, func(c Config) bool { return !c.bootstrap() }, ""},
		{"bad flush", []string{"--flush", "often"}, nil, "flush mode"},
		{"raft-boltdb", []string{"--raft-log-store", "boltdb"}, func(c Config) bool { return c.RaftLogStore == "boltdb" }, ""},
		{"serial leader append", []string{"--raft-leader-append", "serial"}, func(c Config) bool { return c.RaftLeaderAppend == "serial" }, ""},
		{"own leader append", []string{"--raft-leader-append", "own"}, func(c Config) bool { return c.RaftLeaderAppend == "own" }, ""},
		{"bad leader append", []string{"--raft-leader-append", "sometimes"}, nil, "raft-leader-append"},
		{"pprof", []string{"--pprof-addr", "127.0.0.1:0"}, func(c Config) bool { return c.PprofAddr == "127.0.0.1:0" }, ""},
		{"pprof block and mutex profiles", []string{"--pprof-addr", "127.0.0.1:0", "--pprof-block-rate", "10000", "--pprof-mutex-fraction", "5"}, func(c Config) bool {
			return c.PprofBlockRate == 10000 && c.PprofMutexFraction == 5
		}, ""},
		{"profile rates without pprof", []string{"--pprof-mutex-fraction", "5"}, nil, "need --pprof-addr"},
		{"negative profile rate", []string{"--pprof-addr", "127.0.0.1:0", "--pprof-block-rate", "-1"}, nil, "must not be negative"},
		{"bad raft log store", []string{"--raft-log-store", "sqlite"}, nil, "raft-log-store"},
		{"scrub interval", []string{"--scrub-interval", "90s"}, func(c Config) bool {
			return c.ScrubInterval == 90*time.Second && raftConfig(c, nil, nil).ScrubInterval == 90*time.Second
		}, ""},
		{"bad scrub interval", []string{"--scrub-interval", "0s"}, nil, "scrub-interval"},
		{"bad peer", []string{"--peers", "a=b"}, nil, "id=raftAddr=grpcAddr"},
		{"duplicate peer", []string{"--peers", "a=r=g,a=r=g"}, nil, "twice"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "level"},
		{"unknown file key", []string{"--config", bad}, nil, "nodeid"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "no such file"},
		{"stray argument", []string{"extra"}, nil, "unexpected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := parseConfig(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("config %+v, err %v", cfg, err)
			}
		})
	}
}

func TestRunVersionAndUsage(t *testing.T) {
	var out bytes.Buffer
	if code := Run(t.Context(), "v9", []string{"--version"}, &out, io.Discard); code != ExitOK || !strings.Contains(out.String(), "v9") {
		t.Fatalf("--version: %d %q", code, out.String())
	}
	if code := Run(t.Context(), "v9", []string{"--no-such-flag"}, io.Discard, io.Discard); code != ExitUsage {
		t.Fatalf("bad flag: exit %d", code)
	}
}

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runDaemon starts Run in a goroutine; stop cancels it and returns the
// exit status.
func runDaemon(t *testing.T, args []string) (stop func() int, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, "test", args, io.Discard, logs) }()
	return func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatalf("daemon did not stop; logs:\n%s", logs)
			return -1
		}
	}, logs
}

// TestRunSingleNode starts the daemon as `make run` does, produces and
// consumes over gRPC with an auto-created topic, stops it with its
// context (as a signal does), restarts it on the same data and reads the
// messages back.
func TestRunSingleNode(t *testing.T) {
	dir := t.TempDir()
	grpcAddr, raftAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	args := []string{"--data-dir", dir, "--auto-create-topics", "--grpc-addr", grpcAddr, "--raft-addr", raftAddr, "--log-format", "json"}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := raftmqpb.NewBrokerClient(conn)

	stop, logs := runDaemon(t, args)
	var res *raftmqpb.ProduceResponse
	testutil.WaitFor(t, 20*time.Second, "a produce to succeed", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		res, err = cl.Produce(ctx, &raftmqpb.ProduceRequest{Topic: "Hello", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("world"), Keys: []string{"k"}}}})
		return err == nil
	})
	if code := stop(); code != ExitOK {
		t.Fatalf("exit %d; logs:\n%s", code, logs)
	}
	if !strings.Contains(logs.String(), `"msg":"raftmq stopped"`) {
		t.Fatalf("no clean stop in the logs:\n%s", logs)
	}

	stop, logs = runDaemon(t, args)
	defer func() {
		if code := stop(); code != ExitOK {
			t.Errorf("second run: exit %d; logs:\n%s", code, logs)
		}
	}()
	r := res.GetResults()[0]
	testutil.WaitFor(t, 20*time.Second, "the message after a restart", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		got, err := cl.GetMessage(ctx, &raftmqpb.GetMessageRequest{MsgId: r.GetMsgId()})
		return err == nil && string(got.GetMessage().GetBody()) == "world" && got.GetMessage().GetQueueOffset() == r.GetQueueOffset()
	})
}
