package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

// Message is one stored message; see record.Message for its fields.
type Message = record.Message

// UniqueKeyProperty is the property holding a client-generated unique
// message id; the key index indexes it beside the message keys, so a
// message can be found by the id its producer logged.
const UniqueKeyProperty = "UNIQ_KEY"

const (
	recordOverhead = record.FixedSize + record.MinBlankSize
	maxPropsFormat = record.MaxPropsLen

	commitLogDir    = "commitlog"
	consumeQueueDir = "consumequeue"
	indexDir        = "index"
)

// AppendResult says where one appended message went.
type AppendResult struct {
	CommitLogOffset int64
	QueueOffset     uint64
	Size            int32
}

type queueKey struct {
	topic string
	id    uint32
}

// Store is the message store of one node: the CommitLog, the
// ConsumeQueues built from it, and the key index. Append is safe for
// concurrent use (appends are serialised internally; in sync mode the
// fsyncs of concurrent appenders are shared); reads are safe concurrently
// with appends and each other.
type Store struct {
	opts Options
	fs   vfs.FS
	dir  string
	log  *slog.Logger

	cl  *commitLog
	idx *keyindex.Index
	fl  *flusher

	// wmu serialises writers of the CommitLog and of derived data:
	// Append, the checkpoint's syncing of ConsumeQueues and index,
	// retention's deletion of derived files, and Close. It guards the
	// fields below up to the blank line.
	wmu      sync.Mutex
	wbuf     []byte
	pend     map[*cqueue.Queue]*pendingQueue
	pendFree []*pendingQueue
	idxItems []keyindex.Item
	closed   bool

	// dmu guards the cached disk check (CheckDisk); taken under wmu by
	// Append, alone by everyone else.
	dmu            sync.Mutex
	diskCheckedAt  time.Time
	diskCheckedOff int64
	diskState      atomic.Pointer[DiskState] // the latest check's answer, read without dmu

	// Written only by the writer (under wmu), read by anyone: the end of
	// the CommitLog (bytes below are written), and the Raft index and store
	// timestamp of the last record.
	written atomic.Int64
	raftIdx atomic.Uint64
	storeTS atomic.Int64
	failErr atomic.Pointer[error]

	qmu    sync.RWMutex // guards queues
	queues map[queueKey]*cqueue.Queue

	rmu  sync.Mutex // serialises RepairCommitLog calls
	ckmu sync.Mutex // serialises checkpoints
	lock io.Closer  // the directory lock, if the FS supports one

	recoveredRecords int64 // records scanned by Open's recovery; set once
	stop             chan struct{}
	wg               sync.WaitGroup
}

// pendingQueue collects one batch's entries for one queue.
type pendingQueue struct {
	q       *cqueue.Queue
	first   uint64
	entries []cqueue.Entry
}

// Open opens or creates the store in dir. After an unclean stop it rescans
// the CommitLog from the last checkpoint, truncates a torn tail and rebuilds
// ConsumeQueue and index entries past the checkpoint; a store closed cleanly
// opens without scanning.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:   opts,
		fs:     opts.FS,
		dir:    dir,
		log:    opts.Logger.With("store", dir),
		queues: make(map[queueKey]*cqueue.Queue),
		pend:   make(map[*cqueue.Queue]*pendingQueue),
		stop:   make(chan struct{}),
	}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.fl = newFlusher(s, s.written.Load())
	if err := s.writeCheckpoint(false); err != nil {
		s.closeFiles()
		return nil, err
	}
	if opts.FlushMode == FlushAsync {
		s.wg.Go(func() { s.fl.runAsync(opts.FlushInterval) })
	} else {
		close(s.fl.done)
	}
	s.wg.Go(s.checkpointLoop)
	if opts.RetentionInterval > 0 {
		s.wg.Go(s.retentionLoop)
	}
	return s, nil
}

func (s *Store) open() error {
	for _, d := range []string{s.dir, s.path(commitLogDir), s.path(consumeQueueDir), s.path(indexDir)} {
		if err := s.mkdir(d); err != nil {
			return err
		}
	}
	if l, ok := s.fs.(vfs.Locker); ok {
		lock, err := l.Lock(s.path("LOCK"))
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrLocked, s.dir)
		} else if err != nil {
			return err
		}
		s.lock = lock
	}
	ck, found, err := readCheckpoint(s.fs, s.dir)
	if err != nil {
		return err
	}
	if found {
		if ck.SegmentSize != s.opts.SegmentSize {
			return fmt.Errorf("store: SegmentSize is %d but %s was written with %d", s.opts.SegmentSize, s.dir, ck.SegmentSize)
		}
		// The geometry of derived files is fixed at creation.
		s.opts.ConsumeQueue.EntriesPerFile = ck.QueueEntriesPerFile
		s.opts.KeyIndex.Slots, s.opts.KeyIndex.EntriesPerFile = ck.IndexSlots, ck.IndexEntriesPerFile
	}
	if s.cl, err = openCommitLog(s.fs, s.path(commitLogDir), s.opts.SegmentSize); err != nil {
		return err
	}
	if s.idx, err = keyindex.Open(s.fs, s.path(indexDir), s.opts.KeyIndex); err != nil {
		return err
	}
	if err := s.openQueues(); err != nil {
		return err
	}
	if len(s.cl.segments()) == 0 {
		base := int64(0)
		if found {
			base = ck.Flushed - ck.Flushed%s.opts.SegmentSize
		}
		if _, err := s.cl.create(base); err != nil {
			return err
		}
		if found && ck.Flushed != base {
			return fmt.Errorf("%w: checkpoint claims %d bytes but the commitlog has no segments", ErrCorrupt, ck.Flushed)
		}
		s.written.Store(base)
		return nil
	}
	if found && ck.Clean && s.cleanTailPlausible(ck) {
		s.written.Store(ck.Flushed)
		s.cl.live().maxStoreTS.Store(ck.LastStoreTS)
		s.raftIdx.Store(ck.LastRaftIndex)
		s.storeTS.Store(ck.LastStoreTS)
		return s.trimQueues(s.cl.minOffset())
	}
	return s.recover(ck, found)
}

// cleanTailPlausible cross-checks a clean checkpoint against the files: the
// live segment must hold the checkpoint's end.
func (s *Store) cleanTailPlausible(ck checkpoint) bool {
	live := s.cl.live()
	if ck.Flushed < live.base || ck.Flushed > live.base+s.opts.SegmentSize {
		s.log.Warn("clean checkpoint disagrees with segments; rescanning", "flushed", ck.Flushed, "live", live.path)
		return false
	}
	size, err := live.f.Size()
	if err != nil || size < ck.Flushed-live.base {
		s.log.Warn("clean checkpoint beyond the live segment's size; rescanning", "flushed", ck.Flushed, "size", size)
		return false
	}
	return true
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// mkdir creates dir and any missing parents, and makes each new entry
// durable by syncing its parent directory.
func (s *Store) mkdir(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := s.fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := s.fs.SyncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// openQueues opens every ConsumeQueue found on disk.
func (s *Store) openQueues() error {
	topics, err := s.fs.ReadDir(s.path(consumeQueueDir))
	if err != nil {
		return err
	}
	for _, topic := range topics {
		if ValidateTopic(topic) != nil {
			return fmt.Errorf("%w: unexpected entry %s in %s", ErrCorrupt, topic, s.path(consumeQueueDir))
		}
		ids, err := s.fs.ReadDir(s.path(consumeQueueDir, topic))
		if err != nil {
			return err
		}
		for _, idStr := range ids {
			id, err := strconv.ParseUint(idStr, 10, 32)
			if err != nil || id > MaxQueueID {
				return fmt.Errorf("%w: unexpected entry %s in %s", ErrCorrupt, idStr, s.path(consumeQueueDir, topic))
			}
			q, err := cqueue.Open(s.fs, s.path(consumeQueueDir, topic, idStr), s.opts.ConsumeQueue)
			if err != nil {
				return fmt.Errorf("store: open queue %s/%s: %w", topic, idStr, err)
			}
			s.queues[queueKey{topic, uint32(id)}] = q
		}
	}
	return nil
}

// trimQueues drops ConsumeQueue files whose messages were deleted from the
// CommitLog and sets each queue's minimum offset.
func (s *Store) trimQueues(minPhys int64) error {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	for k, q := range s.queues {
		if _, err := q.DeleteBefore(minPhys); err != nil {
			return fmt.Errorf("store: trim queue %s/%d: %w", k.topic, k.id, err)
		}
	}
	return nil
}

// queue returns the ConsumeQueue of topic/id, creating it if create is
// set; nil if it does not exist and create is not set.
func (s *Store) queue(topic string, id uint32, create bool) (*cqueue.Queue, error) {
	k := queueKey{topic, id}
	s.qmu.RLock()
	q := s.queues[k]
	s.qmu.RUnlock()
	if q != nil || !create {
		return q, nil
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if q := s.queues[k]; q != nil {
		return q, nil
	}
	if err := s.mkdir(s.path(consumeQueueDir, topic)); err != nil {
		return nil, err
	}
	q, err := cqueue.Open(s.fs, s.path(consumeQueueDir, topic, strconv.FormatUint(uint64(id), 10)), s.opts.ConsumeQueue)
	if err != nil {
		return nil, err
	}
	s.queues[k] = q
	return q, nil
}

// fail records the first I/O error that leaves the store unable to vouch
// for its files; every later append returns ErrFailed.
func (s *Store) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if errors.Is(err, syscallENOSPC) {
		wrapped = fmt.Errorf("%w: %w: %w", ErrFailed, ErrDiskFull, err)
	}
	if s.failErr.CompareAndSwap(nil, &wrapped) {
		s.log.Error("store failed; appends refused until reopened", "err", err)
		if s.opts.OnFail != nil {
			s.opts.OnFail(wrapped)
		}
	}
	return *s.failErr.Load()
}

// Err returns the error that failed the store, or nil.
func (s *Store) Err() error {
	if p := s.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the background work, syncs everything and writes a clean
// checkpoint, so the next Open does not rescan. After a failure it closes
// without writing a clean checkpoint.
func (s *Store) Close() error {
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.wmu.Unlock()
	close(s.stop)
	close(s.fl.stop)
	s.wg.Wait()
	var err error
	if s.Err() == nil {
		if err = s.fl.syncAll(); err == nil {
			err = s.writeCheckpoint(true)
		}
	}
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) closeFiles() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	s.qmu.Lock()
	for k, q := range s.queues {
		keep(q.Close())
		delete(s.queues, k)
	}
	s.qmu.Unlock()
	if s.idx != nil {
		keep(s.idx.Close())
	}
	if s.cl != nil {
		keep(s.cl.close())
	}
	if s.lock != nil {
		keep(s.lock.Close())
	}
	return first
}
