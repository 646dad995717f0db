package testcluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Binaries are the paths of the built executables.
type Binaries struct {
	// Raftmq is the broker daemon (cmd/raftmq).
	Raftmq string
	// Mqctl is the operator CLI (cmd/mqctl).
	Mqctl string
}

// build is the once-per-test-binary build; its fields are written once
// inside once.Do and read-only afterwards.
var build struct {
	once sync.Once
	dir  string
	bins Binaries
	err  error
}

// Build compiles cmd/raftmq and cmd/mqctl once per test binary and returns
// their paths; a failed build fails t (and every later caller).
func Build(t testing.TB) Binaries {
	t.Helper()
	build.once.Do(func() {
		build.bins, build.err = buildBinaries()
	})
	if build.err != nil {
		t.Fatalf("testcluster: build: %v", build.err)
	}
	return build.bins
}

// RemoveBuilds deletes the directory Build wrote to, if any. Call it from
// TestMain after m.Run.
func RemoveBuilds() error {
	if build.dir == "" {
		return nil
	}
	return os.RemoveAll(build.dir)
}

func buildBinaries() (Binaries, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		// cmd/go puts GOROOT/bin first in the PATH of test binaries; this
		// covers a test binary run by hand.
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return Binaries{}, fmt.Errorf("not inside a Go module (GOMOD=%q)", gomod)
	}
	root := filepath.Dir(gomod)
	build.dir, err = os.MkdirTemp("", "raftmq-testcluster-bin-")
	if err != nil {
		return Binaries{}, err
	}
	bins := Binaries{
		Raftmq: filepath.Join(build.dir, "raftmq"),
		Mqctl:  filepath.Join(build.dir, "mqctl"),
	}
	for _, b := range []struct{ out, pkg string }{{bins.Raftmq, "./cmd/raftmq"}, {bins.Mqctl, "./cmd/mqctl"}} {
		cmd := exec.Command(goBin, "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w\n%s", b.pkg, err, stderr.String())
		}
	}
	return bins, nil
}
