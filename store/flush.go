package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// Ordering rules the flusher depends on:
//
//   - The writer publishes Store.written only after the WriteAt of every
//     byte below it returned, so an fsync that starts after reading
//     written covers everything below it.
//   - durable only grows, and only after an fsync of every segment that
//     holds bytes in [old durable, new durable) returned without error.
//   - After an fsync error, durable never moves again: the kernel may have
//     dropped the dirty pages (fsyncgate), so the store fails and must be
//     reopened, which rescans from the last checkpoint.

// flusher makes CommitLog bytes durable. In sync mode Append waits on it;
// concurrent waiters share one fdatasync (group commit): whoever finds no
// sync in flight runs one covering everything written so far, the rest wait
// for it and usually find their bytes covered.
type flusher struct {
	s *Store

	mu sync.Mutex // guards syncing, err; cond waits on it
	// syncing is true while one goroutine runs an fsync round.
	syncing bool
	err     error
	cond    sync.Cond

	durable atomic.Int64 // every CommitLog byte below is fsynced
	syncs   atomic.Int64 // fsync rounds run, for stats

	kick chan struct{} // wakes the async loop early
	stop chan struct{}
	done chan struct{}
}

func newFlusher(s *Store, durable int64) *flusher {
	f := &flusher{s: s, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	f.cond.L = &f.mu
	f.durable.Store(durable)
	return f
}

// waitDurable returns once every byte below target is durable, running an
// fsync round itself when none is in flight.
func (f *flusher) waitDurable(target int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.durable.Load() < target {
		if f.err != nil {
			return f.err
		}
		if f.syncing {
			f.cond.Wait()
			continue
		}
		f.roundLocked()
	}
	return nil
}

// roundLocked runs one fsync round with f.mu released during the I/O.
func (f *flusher) roundLocked() {
	f.syncing = true
	from := f.durable.Load()
	upto := f.s.written.Load()
	f.mu.Unlock()
	err := f.s.syncCommitLog(from, upto)
	f.mu.Lock()
	f.syncing = false
	if err != nil {
		if f.err == nil {
			f.err = f.s.fail(err)
		}
	} else if upto > f.durable.Load() {
		f.durable.Store(upto)
	}
	f.syncs.Add(1)
	f.cond.Broadcast()
}

// syncAll makes everything written so far durable.
func (f *flusher) syncAll() error { return f.waitDurable(f.s.written.Load()) }

// dirtyBytes is how much was written but not yet synced.
func (f *flusher) dirtyBytes() int64 { return f.s.written.Load() - f.durable.Load() }

// maybeKick wakes the async loop when enough bytes are dirty.
func (f *flusher) maybeKick(threshold int64) {
	if f.dirtyBytes() >= threshold {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// runAsync is the background flusher of FlushAsync mode. It owns no state
// beyond the loop; close(f.stop) ends it and done is closed on exit.
func (f *flusher) runAsync(interval time.Duration) {
	defer close(f.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		case <-f.kick:
		}
		if f.dirtyBytes() > 0 {
			// Errors are sticky in f.err and fail the store; the loop
			// keeps running so Close can still stop it.
			_ = f.syncAll()
		}
	}
}
