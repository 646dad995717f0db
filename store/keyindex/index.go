package keyindex

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/raftmq/raftmq/store/vfs"
)

// Item is one key of one CommitLog record, offered to the index by Add.
type Item struct {
	Hash      uint32 // KeyHash(topic, key)
	Phys      int64  // CommitLog offset of the record
	StoreTime int64  // the record's store timestamp, unix ms
}

// Index is the key index of one store directory.
//
// Add, Flush, MarkCovered, Truncate, DeleteBefore and Close belong to one
// writer (the store's dispatcher); they are serialised anyway. Lookup,
// Covered and Files may be called from any goroutine at any time.
type Index struct {
	fs   vfs.FS
	dir  string
	opts Options

	// wmu serialises writer operations and guards the writer-only state:
	// marked, lastPhys, scratch, and every indexFile's writer-only fields.
	wmu      sync.Mutex
	marked   int64  // MarkCovered value: every record below it was offered
	lastPhys int64  // Phys of the last entry added; -1 if none
	scratch  []byte // entry encoding buffer for Add

	// mu guards what readers see: files, every indexFile's reader-visible
	// fields, durable and closed. Writers change them under mu.Lock while
	// holding wmu; readers hold mu.RLock.
	mu      sync.RWMutex
	files   []*indexFile // oldest first; only the last may be unsealed
	durable int64        // covered value of the last durable header
	closed  bool
}

// Open opens the index in dir, creating the directory if it is missing.
//
// Every file but the last must be sealed. The last file's newest valid
// header gives the covered value; entries at or beyond it are dropped (the
// store re-offers them from the CommitLog), and the unsealed last file's
// slot table is rebuilt in memory from its entries. If the last file has no
// valid header copy and copy 1 was never written, its first header write
// never became durable: the file claims nothing and is removed. Any other
// file with both copies invalid is ErrCorrupt.
func Open(fs vfs.FS, dir string, opts Options) (*Index, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := mkdirDurable(fs, dir); err != nil {
		return nil, err
	}
	x := &Index{fs: fs, dir: dir, opts: opts, lastPhys: -1}
	if err := x.load(); err != nil {
		return nil, errors.Join(err, x.closeFiles())
	}
	return x, nil
}

// mkdirDurable creates dir and its missing parents and syncs the parent of
// every directory it created, so that the directory survives a crash.
func mkdirDurable(fs vfs.FS, dir string) error {
	dir = filepath.Clean(dir)
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := fs.SyncDir(filepath.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}

// load opens every file, recovers the covered point and rebuilds the
// active slot table. It runs before the Index is shared.
func (x *Index) load() error {
	names, err := x.fs.ReadDir(x.dir)
	if err != nil {
		return err
	}
	var physes []int64
	var keep []string
	for _, name := range names {
		if p, ok := parseFileName(name); ok {
			physes, keep = append(physes, p), append(keep, name)
		}
	}
	for i, name := range keep {
		f, neverValid, err := loadFile(x.fs, x.dir, name, physes[i], x.opts)
		if neverValid && i == len(keep)-1 {
			if err := x.fs.Remove(filepath.Join(x.dir, name)); err != nil {
				return err
			}
			if err := x.fs.SyncDir(x.dir); err != nil {
				return err
			}
			break
		}
		if neverValid {
			err = fmt.Errorf("%w: %s: both header copies invalid", ErrCorrupt, filepath.Join(x.dir, name))
		}
		if err != nil {
			return err
		}
		if n := len(x.files); n > 0 && x.files[n-1].endPhys > f.beginPhys {
			x.files = append(x.files, f)
			return f.corruptf("begins at %d, before the previous file's end %d",
				f.beginPhys, x.files[n-1].endPhys)
		}
		x.files = append(x.files, f)
	}
	if len(x.files) == 0 {
		return nil
	}
	x.durable = x.files[len(x.files)-1].covered
	x.marked = x.durable
	if err := x.truncateLocked(x.durable, x.durable); err != nil {
		return err
	}
	return x.checkLoaded()
}

// checkLoaded checks that only the last file is unsealed and rebuilds its
// slot table.
func (x *Index) checkLoaded() error {
	for i, f := range x.files {
		if !f.sealed && i != len(x.files)-1 {
			return f.corruptf("unsealed file is not the last")
		}
	}
	if len(x.files) == 0 {
		return nil
	}
	last := x.files[len(x.files)-1]
	if !last.sealed && last.slots == nil {
		last.slots = make([]uint32, x.opts.Slots)
		endPhys, _, err := last.rebuildSlots(last.slots, last.count)
		if err != nil {
			return err
		}
		if last.count > 0 && endPhys != last.endPhys {
			return last.corruptf("last entry phys %d, header says %d", endPhys, last.endPhys)
		}
	}
	x.lastPhys = x.computeLastPhys()
	return nil
}

// computeLastPhys is the Phys of the newest live entry, or -1.
func (x *Index) computeLastPhys() int64 {
	for i := len(x.files) - 1; i >= 0; i-- {
		if x.files[i].count > 0 {
			return x.files[i].endPhys
		}
	}
	return -1
}

// MarkCovered records, in memory, that every CommitLog record below phys
// has been offered to the index (with or without keys). The next Flush
// makes it durable. Values below the current mark are ignored.
func (x *Index) MarkCovered(phys int64) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	x.marked = max(x.marked, phys)
}

// Covered returns the covered value of the last durable header: after a
// crash the index holds every keyed record below it, and recovery must
// offer the CommitLog from there on. It is 0 for an index with no files.
func (x *Index) Covered() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.durable
}

// Files returns the number of index files.
func (x *Index) Files() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.files)
}

// Flush makes every entry added so far and the MarkCovered value durable:
// it fdatasyncs the active file's entries, then writes a new header (next
// sequence, entry count, covered, timestamps) to the header copy not
// holding the newest one, and fdatasyncs again. The active slot table is
// not written; Open rebuilds it. With no files at all there is nowhere to
// record covered, and Covered stays 0.
func (x *Index) Flush() error {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.isClosed() {
		return ErrClosed
	}
	return x.flushLocked()
}

func (x *Index) flushLocked() error {
	if len(x.files) == 0 {
		return nil
	}
	last := x.files[len(x.files)-1]
	if last.cur >= 0 && last.covered == x.marked && last.hdrCount == last.count {
		return nil
	}
	if !last.sealed {
		if err := last.f.Sync(); err != nil {
			return err
		}
	}
	if err := last.writeHeader(x.marked); err != nil {
		return err
	}
	x.setDurable(x.marked)
	return nil
}

func (x *Index) setDurable(covered int64) {
	x.mu.Lock()
	x.durable = covered
	x.mu.Unlock()
}

func (x *Index) isClosed() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.closed
}

// Close flushes and closes the index. Lookups after Close return ErrClosed.
func (x *Index) Close() error {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.isClosed() {
		return ErrClosed
	}
	ferr := x.flushLocked()
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	return errors.Join(ferr, x.closeFiles())
}

// closeFiles closes every file handle and forgets the slot table.
func (x *Index) closeFiles() error {
	var errs []error
	for _, f := range x.files {
		errs = append(errs, f.f.Close())
		f.slots = nil
	}
	return errors.Join(errs...)
}

// removeFile deletes a closed file's path; a missing file is fine.
func (x *Index) removeFile(f *indexFile) error {
	cerr := f.f.Close()
	if err := x.fs.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return errors.Join(cerr, err)
	}
	return cerr
}
