package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

// maxProblems bounds the problems one Verify call lists.
const maxProblems = 100

// VerifyReport is what Verify found.
type VerifyReport struct {
	Segments, Records, Blanks int
	Bytes                     int64 // end of valid data minus the first offset held
	Queues, QueueEntries      int
	IndexFiles, IndexEntries  int
	// Problems lists every inconsistency found (at most maxProblems);
	// empty means the store is consistent.
	Problems []string
}

// OK reports whether no problem was found.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

func (r *VerifyReport) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "... more problems not listed")
	}
}

// Verify checks a store directory on the operating system's file system
// offline; see VerifyFS.
func Verify(dir string) (VerifyReport, error) { return VerifyFS(vfs.OS(), dir, DefaultOptions()) }

// VerifyFS checks a closed (or recovered) store directory: every
// CommitLog record's CRC, that queue offsets are dense per queue and raft
// indexes never decrease, that every ConsumeQueue entry points at the
// record with that queue offset (same size and tag hash) and every record
// has its entry, that the key index finds every key of the records it
// claims to cover, and that the checkpoint claims no more than the
// CommitLog holds. Only ConsumeQueue and key index geometry are taken from
// opts. It returns an error only when the directory cannot be read.
func VerifyFS(fs vfs.FS, dir string, opts Options) (VerifyReport, error) {
	var r VerifyReport
	opts.FS = fs
	opts = opts.withDefaults()
	ck, found, err := readCheckpoint(fs, dir)
	if err != nil {
		r.problem("checkpoint: %v", err)
	}
	segSize := opts.SegmentSize
	if found {
		segSize = ck.SegmentSize
		opts.ConsumeQueue.EntriesPerFile = ck.QueueEntriesPerFile
		opts.KeyIndex.Slots, opts.KeyIndex.EntriesPerFile = ck.IndexSlots, ck.IndexEntriesPerFile
	}
	cl, err := openCommitLog(fs, filepath.Join(dir, commitLogDir), segSize)
	if err != nil {
		return r, err
	}
	defer cl.close()
	r.Segments = len(cl.segments())

	v := &verifier{r: &r, fs: fs, dir: dir, opts: opts, cl: cl, next: map[queueKey]uint64{}, queues: map[queueKey]*cqueue.Queue{}}
	defer v.closeQueues()
	idx, err := keyindex.Open(fs, filepath.Join(dir, indexDir), opts.KeyIndex)
	if err != nil {
		r.problem("key index: %v", err)
	} else {
		defer idx.Close()
		v.idx = idx
		r.IndexFiles = idx.Files()
	}
	end := v.scanLog()
	if found {
		if ck.Flushed > end {
			r.problem("checkpoint claims %d bytes durable but valid data ends at %d", ck.Flushed, end)
		}
		if ck.Clean && ck.Flushed != end {
			r.problem("clean checkpoint ends at %d but the commitlog ends at %d", ck.Flushed, end)
		}
	}
	if err := v.checkQueues(end); err != nil {
		return r, err
	}
	return r, nil
}

type verifier struct {
	r      *VerifyReport
	fs     vfs.FS
	dir    string
	opts   Options
	cl     *commitLog
	idx    *keyindex.Index
	next   map[queueKey]uint64 // next queue offset expected per queue
	queues map[queueKey]*cqueue.Queue
}

// scanLog verifies every record and returns the end of valid data.
func (v *verifier) scanLog() int64 {
	r := v.r
	minOff := v.cl.minOffset()
	sc := newScanner(v.cl, minOff)
	var lastRaft uint64
	covered := int64(0)
	if v.idx != nil {
		covered = v.idx.Covered()
	}
	for {
		m, n, ok := sc.next(&r.Blanks)
		if !ok {
			break
		}
		r.Records++
		if m.RaftIndex < lastRaft {
			r.problem("record at %d: raft index %d after %d", m.CommitLogOffset, m.RaftIndex, lastRaft)
		}
		lastRaft = m.RaftIndex
		v.checkRecord(&m, n)
		if v.idx != nil && m.CommitLogOffset < covered {
			v.checkIndexed(&m)
		}
	}
	if sc.stop != stopEnd {
		r.problem("%s: bad record at log offset %d: %v", v.segPathAt(sc.pos), sc.pos, sc.reason)
	}
	r.Bytes = sc.pos - minOff
	return sc.pos
}

func (v *verifier) segPathAt(off int64) string {
	if s := v.cl.find(off); s != nil {
		return s.path
	}
	return "commitlog"
}

// checkRecord checks that queue offsets are dense and the record's
// ConsumeQueue entry matches it.
func (v *verifier) checkRecord(m *record.Message, size int) {
	k := queueKey{m.Topic, m.QueueID}
	if want, seen := v.next[k]; seen && m.QueueOffset != want {
		v.r.problem("record at %d: queue %s/%d offset %d, expected %d", m.CommitLogOffset, m.Topic, m.QueueID, m.QueueOffset, want)
	}
	v.next[k] = m.QueueOffset + 1
	q := v.queue(k)
	if q == nil {
		v.r.problem("record at %d: queue %s/%d has no consume queue", m.CommitLogOffset, m.Topic, m.QueueID)
		return
	}
	got, err := q.Get(m.QueueOffset, 1, nil)
	if err != nil || len(got) != 1 {
		v.r.problem("queue %s/%d: no entry at offset %d for record at %d (%v)", m.Topic, m.QueueID, m.QueueOffset, m.CommitLogOffset, err)
		return
	}
	want := cqueue.Entry{Offset: m.CommitLogOffset, Size: uint32(size), TagHash: record.TagHash(m.Tags)}
	if got[0] != want {
		v.r.problem("queue %s/%d offset %d: entry %+v, record says %+v", m.Topic, m.QueueID, m.QueueOffset, got[0], want)
	}
}

func (v *verifier) checkIndexed(m *record.Message) {
	for _, it := range appendIndexItems(nil, m) {
		offs, err := v.idx.Lookup(it.Hash, m.StoreTimestamp, m.StoreTimestamp, 1<<20)
		if err != nil {
			v.r.problem("key index lookup for record at %d: %v", m.CommitLogOffset, err)
			return
		}
		if !slices.Contains(offs, m.CommitLogOffset) {
			v.r.problem("key index misses a key of the record at %d (topic %s)", m.CommitLogOffset, m.Topic)
		}
		v.r.IndexEntries++
	}
}

// queue opens a queue's files for reading, or nil if it has none.
func (v *verifier) queue(k queueKey) *cqueue.Queue {
	if q, ok := v.queues[k]; ok {
		return q
	}
	path := filepath.Join(v.dir, consumeQueueDir, k.topic, strconv.FormatUint(uint64(k.id), 10))
	var q *cqueue.Queue
	if _, err := v.fs.Stat(path); err == nil {
		q, err = cqueue.Open(v.fs, path, v.opts.ConsumeQueue)
		if err != nil {
			v.r.problem("queue %s/%d: %v", k.topic, k.id, err)
			q = nil
		}
	}
	v.queues[k] = q
	return q
}

// checkQueues checks every queue on disk ends where its records end.
func (v *verifier) checkQueues(end int64) error {
	topics, err := v.fs.ReadDir(filepath.Join(v.dir, consumeQueueDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	minOff := v.cl.minOffset()
	for _, topic := range topics {
		ids, err := v.fs.ReadDir(filepath.Join(v.dir, consumeQueueDir, topic))
		if err != nil {
			return err
		}
		for _, idStr := range ids {
			id, err := strconv.ParseUint(idStr, 10, 32)
			if err != nil {
				v.r.problem("consumequeue/%s/%s: not a queue id", topic, idStr)
				continue
			}
			k := queueKey{topic, uint32(id)}
			q := v.queue(k)
			if q == nil {
				continue
			}
			v.r.Queues++
			v.r.QueueEntries += int(q.MaxOffset() - q.MinOffset())
			want, seen := v.next[k]
			if seen && q.MaxOffset() != want {
				v.r.problem("queue %s/%d ends at %d but its last record has offset %d", topic, id, q.MaxOffset(), want-1)
			}
			if !seen && q.MaxOffset() > q.MinOffset() {
				last, err := q.Get(q.MaxOffset()-1, 1, nil)
				if err == nil && len(last) == 1 && last[0].Offset >= minOff {
					v.r.problem("queue %s/%d has entries up to log offset %d but the commitlog (from %d to %d) has no record of it",
						topic, id, last[0].Offset, minOff, end)
				}
			}
		}
	}
	return nil
}

func (v *verifier) closeQueues() {
	for _, q := range v.queues {
		if q != nil {
			q.Close()
		}
	}
}
