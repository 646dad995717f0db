package raftfsm

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/vfs"
)

// snapshotStore is a raft.SnapshotStore that never copies the CommitLog at
// snapshot time. A local snapshot is a small file: the Raft metadata, the
// FSM tables and the CommitLog end (fsynced before it was written). Only
// when Raft sends a snapshot to a follower does Open stream the live
// CommitLog segments [current minimum, end); the receiving sink writes them
// into a staging directory, which FSM.Restore swaps in as the follower's
// store. Retention keeps every segment a snapshot or an open stream needs
// (floor).
type snapshotStore struct {
	dir    string
	n      *Node
	retain int

	mu     sync.Mutex // guards pins and nextPin
	pins   map[int]int64
	nextID int
}

var _ raft.SnapshotStore = (*snapshotStore)(nil)

// fileMeta is a snapshot directory's meta.json.
type fileMeta struct {
	Raft raft.SnapshotMeta `json:"raft"`
	Snap snapMeta          `json:"snap"`
}

const metaFile = "meta.json"

func newSnapshotStore(dir string, n *Node) (*snapshotStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Leftovers of snapshots being written when the process died.
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return &snapshotStore{dir: dir, n: n, retain: 2, pins: map[int]int64{}}, nil
}

// Create starts a snapshot; see sink.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, conf raft.Configuration,
	confIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	id := fmt.Sprintf("%020d-%020d-%d", term, index, time.Now().UnixNano())
	tmp := filepath.Join(s.dir, id+".tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	return &sink{s: s, id: id, dir: tmp, meta: fileMeta{Raft: raft.SnapshotMeta{
		Version: version, ID: id, Index: index, Term: term, Configuration: conf, ConfigurationIndex: confIndex,
	}}}, nil
}

// List returns the snapshots, newest first.
func (s *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.all()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, 0, len(metas))
	for _, m := range metas {
		rm := m.Raft
		rm.Size = s.streamSize(m)
		out = append(out, &rm)
	}
	return out, nil
}

// all loads every complete snapshot's meta, newest first.
func (s *snapshotStore) all() ([]fileMeta, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []fileMeta
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		m, err := s.load(e.Name())
		if err != nil {
			s.n.log.Warn("skipping unreadable snapshot", "id", e.Name(), "err", err)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b fileMeta) int {
		if a.Raft.Term != b.Raft.Term {
			return cmp.Compare(b.Raft.Term, a.Raft.Term)
		}
		if a.Raft.Index != b.Raft.Index {
			return cmp.Compare(b.Raft.Index, a.Raft.Index)
		}
		return strings.Compare(b.Raft.ID, a.Raft.ID)
	})
	return out, nil
}

func (s *snapshotStore) load(id string) (fileMeta, error) {
	var m fileMeta
	b, err := os.ReadFile(filepath.Join(s.dir, id, metaFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.Snap.Tables == nil {
		m.Snap.Tables = newTables()
	}
	return m, nil
}

// save writes a snapshot's meta.json atomically.
func (s *snapshotStore) save(dir string, m fileMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return vfs.WriteFileAtomic(vfs.OS(), filepath.Join(dir, metaFile), b)
}

// streamSize is how many bytes Open(id) yields.
func (s *snapshotStore) streamSize(m fileMeta) int64 {
	sm := s.streamMeta(m)
	h, _ := headerBytes(sm)
	return int64(len(h)) + sm.CLEnd - sm.CLMin
}

// streamMeta is the header Open sends for m.
func (s *snapshotStore) streamMeta(m fileMeta) snapMeta {
	sm := m.Snap
	if sm.Kind == kindStaged {
		sm.ID, sm.CLMin, sm.CLEnd = m.Raft.ID, 0, 0
		return sm
	}
	sm.Kind = kindFull
	sm.CLMin = min(s.n.storeMin(), sm.CLEnd)
	return sm
}

// Open returns the stream for snapshot id: for a local snapshot, the header
// and the live CommitLog bytes (retention is held off while it is open);
// for a staged one, just the header naming it.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	m, err := s.load(id)
	if err != nil {
		return nil, nil, fmt.Errorf("raftfsm: open snapshot %s: %w", id, err)
	}
	sm := s.streamMeta(m)
	h, err := headerBytes(sm)
	if err != nil {
		return nil, nil, err
	}
	rm := m.Raft
	rm.Size = int64(len(h)) + sm.CLEnd - sm.CLMin
	if sm.Kind != kindFull {
		return &rm, io.NopCloser(bytes.NewReader(h)), nil
	}
	pin := s.pin(sm.CLMin)
	cr := &clReader{st: s.n.Store(), pos: sm.CLMin, end: sm.CLEnd, segSize: sm.SegmentSize, report: s.n.repairs.report}
	return &rm, &pinnedReader{Reader: io.MultiReader(bytes.NewReader(h), cr), release: func() { s.unpin(pin) }}, nil
}

func (s *snapshotStore) pin(off int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.pins[s.nextID] = off
	return s.nextID
}

func (s *snapshotStore) unpin(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pins, id)
}

// floor is the lowest CommitLog offset retention must keep: the newest
// local snapshot's end (the tables are rebuilt from there at start) and the
// start of every stream being sent.
func (s *snapshotStore) floor() int64 {
	f := int64(0)
	if metas, err := s.all(); err == nil {
		for _, m := range metas {
			if m.Snap.Kind == kindLocal {
				f = m.Snap.CLEnd
				break
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pins {
		f = min(f, p)
	}
	return f
}

// reap deletes all but the newest retain snapshots.
func (s *snapshotStore) reap() {
	metas, err := s.all()
	if err != nil {
		return
	}
	for i, m := range metas {
		if i >= s.retain {
			if err := os.RemoveAll(filepath.Join(s.dir, m.Raft.ID)); err != nil {
				s.n.log.Warn("removing old snapshot", "id", m.Raft.ID, "err", err)
			}
		}
	}
}

type pinnedReader struct {
	io.Reader
	release func()
	once    sync.Once
}

func (p *pinnedReader) Close() error {
	p.once.Do(p.release)
	return nil
}

// clReader reads the CommitLog bytes [pos, end) for a snapshot stream,
// verified record by record (store.ReadVerified): a damaged record fails
// the stream (and is queued for repair), so this node never installs its
// damage on a follower; Raft retries the install later.
type clReader struct {
	st       *store.Store
	pos, end int64
	segSize  int64
	buf      []byte                    // verified bytes at pos not yet returned
	report   func(*store.CorruptError) // damage found on the way
}

// clChunk is how much the stream verifies and buffers at once.
const clChunk = 4 << 20

func (r *clReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.pos >= r.end {
			return 0, io.EOF
		}
		want := min(r.end-r.pos, clChunk)
		b, err := r.st.ReadVerified(r.pos, int(want))
		if err == nil && len(b) == 0 {
			// One record larger than the chunk: read its whole segment.
			b, err = r.st.ReadVerified(r.pos, int(min(r.end-r.pos, r.segSize)))
		}
		if err == nil && len(b) == 0 {
			err = fmt.Errorf("no whole record at %d", r.pos)
		}
		if err != nil {
			var cerr *store.CorruptError
			if errors.As(err, &cerr) && r.report != nil {
				r.report(cerr) // a record start: the stream follows the chain
			}
			return 0, fmt.Errorf("raftfsm: stream commitlog at %d: %w", r.pos, err)
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.pos += int64(n)
	return n, nil
}

// syncDir makes dir's entries durable.
func syncDir(dir string) error { return vfs.OS().SyncDir(dir) }

var errShortSnapshot = errors.New("raftfsm: snapshot stream ended early")

// segName names a CommitLog segment file like the store does.
func segName(base int64) string { return fmt.Sprintf("%020d", base) }
