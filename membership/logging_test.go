package membership

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLogsRouteToSlog(t *testing.T) {
	for _, tc := range []struct {
		line, level, msg string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", "DEBUG", "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Suspect b has failed\n", "INFO", "Suspect b has failed"},
		{"[WARN] memberlist: Refuting a dead message\n", "WARN", "Refuting a dead message"},
		{"[ERR] memberlist: Failed to send\n", "ERROR", "Failed to send"},
		{"untagged line\n", "INFO", "untagged line"},
	} {
		t.Run(tc.level+" "+tc.msg, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			newStdLogger(l).Print(tc.line)
			out := buf.String()
			if !strings.Contains(out, "level="+tc.level) || !strings.Contains(out, "msg=\""+tc.msg+"\"") {
				t.Fatalf("got %q, want level=%s msg=%q", out, tc.level, tc.msg)
			}
		})
	}
}
