package daemon

import (
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPprof(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	addr, stop, err := startPprof("", profileRates{}, log)
	if err != nil || addr != "" {
		t.Fatalf("startPprof(\"\") = %q, %v: want nothing served", addr, err)
	}
	stop()

	addr, stop, err = startPprof("127.0.0.1:0", profileRates{}, log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "daemon.test") {
		t.Errorf("GET /debug/pprof/cmdline: %s %q, want 200 and the test binary's command line", resp.Status, body)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/debug/pprof/"); err == nil {
		t.Error("pprof still answers after stop")
	}
}

// The block and mutex profiles sample while pprof serves with rates set,
// and are off again after stop.
func TestPprofBlockAndMutexProfiles(t *testing.T) {
	addr, stop, err := startPprof("127.0.0.1:0", profileRates{block: 1, mutex: 7}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := runtime.SetMutexProfileFraction(-1); got != 7 {
		t.Fatalf("mutex profile fraction %d while serving, want 7", got)
	}
	ch := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); close(ch) }()
	blockedOnPurpose(ch)
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(body)
	}
	if body := get("/debug/pprof/block?debug=1"); !strings.Contains(body, "blockedOnPurpose") {
		t.Errorf("block profile does not show the blocked receive:\n%.2000s", body)
	}
	if body := get("/debug/pprof/mutex?debug=1"); !strings.Contains(body, "sampling period=7") {
		t.Errorf("mutex profile is not sampled at 7:\n%.500s", body)
	}
	stop()
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("mutex profile fraction %d after stop, want 0", got)
	}
}

//go:noinline
func blockedOnPurpose(ch <-chan struct{}) { <-ch }
