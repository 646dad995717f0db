package cqueue

import (
	"cmp"
	"errors"
	"slices"
	"sync"

	"github.com/raftmq/raftmq/store/vfs"
)

// maxIdleHandles is how many unreferenced file handles a Queue keeps open.
// Readers mostly read the tail and retention removes the head, so a few are
// enough; thousands of queues must not exhaust file descriptors.
const maxIdleHandles = 4

// handle is an open file shared by readers and the writer.
type handle struct {
	f vfs.File
	// refs, lastUse and retired are guarded by handleCache.mu.
	refs    int    // acquisitions not yet released
	lastUse uint64 // handleCache.tick at the last acquire, for LRU eviction
	retired bool   // removed from the cache; closed by the last release
}

// handleCache opens files lazily and keeps them open while they are used.
type handleCache struct {
	fs   vfs.FS
	name func(idx uint64) string // the path of file idx
	// mu guards open, tick and the refs, lastUse and retired fields of
	// every handle. Files are opened with mu held.
	mu   sync.Mutex
	open map[uint64]*handle // by file index
	tick uint64
}

func newHandleCache(fs vfs.FS, name func(idx uint64) string) *handleCache {
	return &handleCache{fs: fs, name: name, open: make(map[uint64]*handle)}
}

// acquire returns the handle of file idx, opening (and, for the writer,
// creating) it if needed. The caller must release it.
func (c *handleCache) acquire(idx uint64) (*handle, error) {
	c.mu.Lock()
	c.tick++
	if h, ok := c.open[idx]; ok {
		h.refs++
		h.lastUse = c.tick
		c.mu.Unlock()
		return h, nil
	}
	f, err := c.fs.OpenReadWrite(c.name(idx))
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	h := &handle{f: f, refs: 1, lastUse: c.tick}
	c.open[idx] = h
	victims := c.evictLocked()
	c.mu.Unlock()
	closeIdle(victims)
	return h, nil
}

// evictLocked drops the least recently used idle handles while more than
// maxIdleHandles are idle, and returns their files for the caller to close
// after unlocking.
func (c *handleCache) evictLocked() []vfs.File {
	var idle []uint64
	for idx, h := range c.open {
		if h.refs == 0 {
			idle = append(idle, idx)
		}
	}
	if len(idle) <= maxIdleHandles {
		return nil
	}
	slices.SortFunc(idle, func(a, b uint64) int {
		return cmp.Compare(c.open[a].lastUse, c.open[b].lastUse)
	})
	var victims []vfs.File
	for _, idx := range idle[:len(idle)-maxIdleHandles] {
		victims = append(victims, c.open[idx].f)
		delete(c.open, idx)
	}
	return victims
}

// release gives back a handle from acquire, closing it if it was retired
// while in use, and closing idle handles beyond maxIdleHandles.
func (c *handleCache) release(h *handle) {
	c.mu.Lock()
	h.refs--
	closeNow := h.refs == 0 && h.retired
	var victims []vfs.File
	if h.refs == 0 && len(c.open) > maxIdleHandles {
		victims = c.evictLocked()
	}
	c.mu.Unlock()
	if closeNow {
		// The file was removed or the queue closed; nothing read through
		// it can be affected by a close error.
		_ = h.f.Close()
	}
	closeIdle(victims)
}

// closeIdle closes evicted files. An idle handle holds no unsynced writes
// (the writer pins those until Sync), so a close error loses nothing.
func closeIdle(files []vfs.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// retire removes file idx from the cache and closes it, or leaves the close
// to the last release if a reader still holds it. It is called before the
// file is removed and by Close.
func (c *handleCache) retire(idx uint64) error {
	c.mu.Lock()
	h, ok := c.open[idx]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	delete(c.open, idx)
	h.retired = true
	closeNow := h.refs == 0
	c.mu.Unlock()
	if closeNow {
		return h.f.Close()
	}
	return nil
}

// retireAll retires every handle.
func (c *handleCache) retireAll() error {
	c.mu.Lock()
	idxs := make([]uint64, 0, len(c.open))
	for idx := range c.open {
		idxs = append(idxs, idx)
	}
	c.mu.Unlock()
	var errs []error
	for _, idx := range idxs {
		errs = append(errs, c.retire(idx))
	}
	return errors.Join(errs...)
}
