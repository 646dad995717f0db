package daemon

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprof(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	addr, stop, err := startPprof("", log)
	if err != nil || addr != "" {
		t.Fatalf("startPprof(\"\") = %q, %v: want nothing served", addr, err)
	}
	stop()

	addr, stop, err = startPprof("127.0.0.1:0", log)
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
