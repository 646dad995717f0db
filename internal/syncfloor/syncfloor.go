package syncfloor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Config is one measurement.
type Config struct {
	// Replicas is the number of server processes: one leader and
	// Replicas-1 followers; a message is acknowledged once a majority
	// holds it. At least 1.
	Replicas int
	// Count is the number of messages measured.
	Count int
	// Warmup is the number of messages sent before them, not measured.
	Warmup int
	// Size is the message body in bytes (each frame adds an 8-byte sequence number).
	Size int
	// Dir holds the servers' log files (removed at the end).
	Dir string
	// LogSize is each log file's preallocated size; appends wrap around at it.
	LogSize int64
	// Fallocate preallocates the logs with fallocate instead of zero-filling them.
	Fallocate bool
	// InProcess runs the servers as goroutines of this process instead of
	// processes of their own (for tests; the floor is measured with processes).
	InProcess bool
}

// DefaultConfig is the synchronous workload of scripts/bench-vs-nats.sh.
func DefaultConfig() Config {
	return Config{Replicas: 3, Count: 5000, Warmup: 500, Size: 1024, Dir: os.TempDir(), LogSize: 64 << 20}
}

// Validate checks the ranges.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1:
		return fmt.Errorf("syncfloor: replicas %d: need at least 1", c.Replicas)
	case c.Count < 1:
		return fmt.Errorf("syncfloor: count %d: need at least 1", c.Count)
	case c.Warmup < 0:
		return fmt.Errorf("syncfloor: warmup %d is negative", c.Warmup)
	case c.Size < 0 || c.Size > maxSize:
		return fmt.Errorf("syncfloor: size %d: must be 0-%d", c.Size, maxSize)
	case c.Dir == "":
		return errors.New("syncfloor: no directory for the logs")
	}
	return nil
}

// maxSize bounds a message so that a frame fits a log buffer.
const maxSize = fillChunk / 2

// Result is what Run measured. Its JSON fields are named as mqctl
// bench's, so scripts read both alike.
type Result struct {
	Mode           string  `json:"mode"`
	Replicas       int     `json:"replicas"`
	Size           int     `json:"size"`
	Messages       int64   `json:"messages"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	MsgPerSec      float64 `json:"msg_per_sec"`
	Latency        Latency `json:"latency_us"`
	Direct         bool    `json:"direct_io"`
	// ServerCPUPerMsg is the user and system CPU time of the server
	// processes per measured message, in microseconds (0 when the servers
	// run in process). On a small machine shared by all processes, a lone
	// producer's latency tends to go with this sum.
	ServerCPUPerMsg float64 `json:"server_cpu_us_per_msg"`
}

// Latency holds percentiles in microseconds.
type Latency struct {
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p99_9"`
	Max  int64 `json:"max"`
}

// serverConfig is one server of a Run. A server process gets it as JSON
// in the environment variable envServer.
type serverConfig struct {
	Leader    bool     `json:"leader"`
	Log       string   `json:"log"` // the log file's path
	LogSize   int64    `json:"log_size"`
	Fallocate bool     `json:"fallocate"`
	Size      int      `json:"size"` // message body bytes
	Replicas  int      `json:"replicas"`
	Peers     []string `json:"peers"` // the leader's followers
}

const envServer = "SYNCFLOOR_SERVER"

// addrPrefix starts the line a server process prints once it listens.
const addrPrefix = "syncfloor-addr "

// ServeRole runs this process as a server if Run started it as one (its
// environment says so): it prints its address and serves until its
// parent ends it, and ok is true. Otherwise it returns at once with ok
// false. main calls it first; so does a test binary's TestMain.
func ServeRole() (ok bool, err error) {
	v := os.Getenv(envServer)
	if v == "" {
		return false, nil
	}
	var sc serverConfig
	if err := json.Unmarshal([]byte(v), &sc); err != nil {
		return true, fmt.Errorf("syncfloor: %s: %w", envServer, err)
	}
	s, err := newServer(sc)
	if err != nil {
		return true, err
	}
	fmt.Printf("%s%s %t\n", addrPrefix, s.addr(), s.log.direct)
	return true, s.serve()
}

// Run measures cfg: it starts the servers, sends Warmup then Count
// messages one at a time, each after the previous one's acknowledgement,
// and stops the servers.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	g := &group{cfg: cfg}
	defer g.stop()
	leader, err := g.start(ctx)
	if err != nil {
		return Result{}, err
	}
	return measure(ctx, cfg, leader, g.direct, g.cpu)
}

// userHZ is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// cpu returns the server processes' user+system CPU time so far, or 0
// when the servers run in process.
func (g *group) cpu() time.Duration {
	var ticks int64
	for _, p := range g.procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces and parentheses itself.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
		s, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// group is the server processes (or goroutines) of one Run.
type group struct {
	cfg     Config
	procs   []*exec.Cmd
	servers []*server
	direct  bool // every server's log is written with O_DIRECT
	// delays (tests, in process only): follower i waits delays[i-1]
	// before each append.
	delays []time.Duration
}

// start starts the followers, then the leader, and returns the leader's
// address. ctx bounds the server processes' lives.
func (g *group) start(ctx context.Context) (string, error) {
	g.direct = true
	peers := make([]string, 0, g.cfg.Replicas-1)
	for i := 1; i < g.cfg.Replicas; i++ {
		addr, err := g.startOne(ctx, false, i, nil)
		if err != nil {
			return "", err
		}
		peers = append(peers, addr)
	}
	return g.startOne(ctx, true, 0, peers)
}

func (g *group) startOne(ctx context.Context, leader bool, i int, peers []string) (string, error) {
	role := "follower"
	if leader {
		role = "leader"
	}
	sc := serverConfig{
		Leader: leader, Log: filepath.Join(g.cfg.Dir, fmt.Sprintf("syncfloor-%d-%s-%d.log", os.Getpid(), role, i)),
		LogSize: g.cfg.LogSize, Fallocate: g.cfg.Fallocate, Size: g.cfg.Size, Replicas: g.cfg.Replicas, Peers: peers,
	}
	if g.cfg.InProcess {
		s, err := newServer(sc)
		if err != nil {
			return "", err
		}
		if !leader && i <= len(g.delays) {
			s.delay = g.delays[i-1]
		}
		g.servers = append(g.servers, s)
		g.direct = g.direct && s.log.direct
		go s.serve() //nolint:errcheck // ends with an error when stop closes it
		return s.addr(), nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("syncfloor: %w", err)
	}
	js, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("syncfloor: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe) // killed at ctx's end, also while starting
	cmd.Env = append(os.Environ(), envServer+"="+string(js))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive Run's process
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("syncfloor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("syncfloor: start %s: %w", role, err)
	}
	g.procs = append(g.procs, cmd)
	line, err := bufio.NewReader(out).ReadString('\n')
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), addrPrefix)
	addr, direct, _ := strings.Cut(rest, " ")
	if err != nil {
		return "", fmt.Errorf("syncfloor: %s process did not start: %w", role, err)
	}
	if !ok || addr == "" {
		return "", fmt.Errorf("syncfloor: %s process said %q, not its address", role, line)
	}
	g.direct = g.direct && direct == "true"
	return addr, nil
}

// stop ends the servers and removes their logs.
func (g *group) stop() {
	for _, s := range g.servers {
		s.close()
	}
	for _, p := range g.procs {
		p.Process.Kill() //nolint:errcheck // it may have died already
		p.Wait()         //nolint:errcheck // killed on purpose
	}
	matches, _ := filepath.Glob(filepath.Join(g.cfg.Dir, fmt.Sprintf("syncfloor-%d-*.log", os.Getpid())))
	for _, m := range matches {
		os.Remove(m)
	}
}

// maxLatencyMicros is the histogram's upper bound; longer latencies count as it.
const maxLatencyMicros = 60_000_000

// measure is the client: one message at a time, timed from before its
// write to after its acknowledgement is read.
func measure(ctx context.Context, cfg Config, addr string, direct bool, cpu func() time.Duration) (Result, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{}, fmt.Errorf("syncfloor: dial leader: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() }) // the end of ctx fails the read or write in progress
	defer stop()
	hist := hdrhistogram.New(1, maxLatencyMicros, 3)
	frame := make([]byte, seqBytes+cfg.Size)
	ack := make([]byte, seqBytes)
	var began time.Time
	var cpu0 time.Duration
	for i := 0; i < cfg.Warmup+cfg.Count; i++ {
		if i == cfg.Warmup {
			began, cpu0 = time.Now(), cpu()
		}
		seq := uint64(i + 1)
		binary.LittleEndian.PutUint64(frame, seq)
		t := time.Now()
		if _, err := c.Write(frame); err != nil {
			return Result{}, fmt.Errorf("syncfloor: send message %d: %w", seq, err)
		}
		if _, err := io.ReadFull(c, ack); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return Result{}, fmt.Errorf("syncfloor: acknowledgement of message %d: %w", seq, err)
		}
		if got := binary.LittleEndian.Uint64(ack); got != seq {
			return Result{}, fmt.Errorf("syncfloor: acknowledgement for %d, want %d", got, seq)
		}
		if i >= cfg.Warmup {
			_ = hist.RecordValue(min(time.Since(t).Microseconds(), maxLatencyMicros)) // clamped: cannot fail
		}
	}
	elapsed := time.Since(began).Seconds()
	used := cpu() - cpu0
	return Result{
		Mode: "syncfloor", Replicas: cfg.Replicas, Size: cfg.Size, Messages: int64(cfg.Count),
		ElapsedSeconds: elapsed, MsgPerSec: float64(cfg.Count) / elapsed, Direct: direct,
		Latency: Latency{P50: hist.ValueAtQuantile(50), P90: hist.ValueAtQuantile(90), P99: hist.ValueAtQuantile(99),
			P999: hist.ValueAtQuantile(99.9), Max: hist.Max()},
		ServerCPUPerMsg: float64(used.Microseconds()) / float64(cfg.Count),
	}, nil
}
