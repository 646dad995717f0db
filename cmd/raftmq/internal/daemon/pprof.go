package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// profileRates are the sampling settings of the block and mutex
// profiles; zero leaves a profile off.
type profileRates struct {
	block int // runtime.SetBlockProfileRate
	mutex int // runtime.SetMutexProfileFraction
}

// startPprof serves net/http/pprof's handlers on addr until the returned
// stop function is called, and returns the address it listens on. An
// empty addr serves nothing. While it serves, the block and mutex
// profiles sample at rates (both process-wide settings; stop turns them
// off again).
func startPprof(addr string, rates profileRates, log *slog.Logger) (bound string, stop func(), err error) {
	if addr == "" {
		return "", func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen for pprof: %w", err)
	}
	runtime.SetBlockProfileRate(rates.block)
	runtime.SetMutexProfileFraction(rates.mutex)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("pprof listening", "addr", lis.Addr().String(), "block_rate", rates.block, "mutex_fraction", rates.mutex)
	return lis.Addr().String(), func() {
		_ = srv.Close()
		<-done
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}
