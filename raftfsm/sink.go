package raftfsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// sink receives one snapshot: either the small local description written
// by Persist, or the full stream a leader sends to install this follower,
// whose CommitLog bytes it writes into stage/commitlog/ as segment files
// identical to the leader's.
type sink struct {
	s    *snapshotStore
	id   string
	dir  string
	meta fileMeta

	hbuf   []byte // header bytes until the header is complete
	header bool
	pos    int64 // next CommitLog offset expected (full streams)
	seg    *os.File
	segs   []*os.File
	closed bool
}

var _ raft.SnapshotSink = (*sink)(nil)

func (k *sink) ID() string { return k.id }

func (k *sink) Write(p []byte) (int, error) {
	n := len(p)
	if !k.header {
		k.hbuf = append(k.hbuf, p...)
		if len(k.hbuf) < 12 {
			return n, nil
		}
		need := 12 + int(binary.BigEndian.Uint32(k.hbuf[8:])) + 4
		if need > 12+maxMetaLen+4 {
			return 0, fmt.Errorf("raftfsm: snapshot header of %d bytes", need)
		}
		if len(k.hbuf) < need {
			return n, nil
		}
		m, err := readStreamHeader(bytes.NewReader(k.hbuf[:need]))
		if err != nil {
			return 0, err
		}
		k.meta.Snap, k.header, k.pos = m, true, m.CLMin
		p = k.hbuf[need:]
		k.hbuf = nil
		if m.Kind == kindFull {
			if err := os.MkdirAll(filepath.Join(k.dir, "stage", "commitlog"), 0o755); err != nil {
				return 0, err
			}
		}
	}
	if len(p) == 0 {
		return n, nil
	}
	if k.meta.Snap.Kind != kindFull {
		return 0, fmt.Errorf("raftfsm: %d unexpected bytes after a %s snapshot header", len(p), k.meta.Snap.Kind)
	}
	if err := k.writeCommitLog(p); err != nil {
		return 0, err
	}
	return n, nil
}

// writeCommitLog writes stream bytes at k.pos into the staged segments.
func (k *sink) writeCommitLog(p []byte) error {
	seg := k.meta.Snap.SegmentSize
	for len(p) > 0 {
		if k.pos >= k.meta.Snap.CLEnd {
			return fmt.Errorf("raftfsm: snapshot stream longer than its CommitLog range [%d, %d)", k.meta.Snap.CLMin, k.meta.Snap.CLEnd)
		}
		base := k.pos / seg * seg
		if k.seg == nil || k.pos == base {
			f, err := os.OpenFile(filepath.Join(k.dir, "stage", "commitlog", segName(base)), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			k.seg = f
			k.segs = append(k.segs, f)
		}
		n := int(min(int64(len(p)), base+seg-k.pos, k.meta.Snap.CLEnd-k.pos))
		if _, err := k.seg.WriteAt(p[:n], k.pos-base); err != nil {
			return err
		}
		k.pos += int64(n)
		p = p[n:]
	}
	return nil
}

// Close completes the snapshot: staged files are fsynced, the meta is
// written and the directory renamed into place.
func (k *sink) Close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	if err := k.finish(); err != nil {
		k.closeFiles()
		os.RemoveAll(k.dir)
		return err
	}
	k.s.reap()
	return nil
}

func (k *sink) finish() error {
	if !k.header {
		return fmt.Errorf("raftfsm: snapshot %s: %w", k.id, errShortSnapshot)
	}
	if k.meta.Snap.Kind == kindFull {
		if k.pos != k.meta.Snap.CLEnd {
			return fmt.Errorf("raftfsm: snapshot %s: %w at %d of [%d, %d)", k.id, errShortSnapshot, k.pos, k.meta.Snap.CLMin, k.meta.Snap.CLEnd)
		}
		for _, f := range k.segs {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		k.closeFiles()
		for _, d := range []string{filepath.Join(k.dir, "stage", "commitlog"), filepath.Join(k.dir, "stage"), k.dir} {
			if err := syncDir(d); err != nil {
				return err
			}
		}
		k.meta.Snap.Kind = kindStaged
	}
	k.meta.Snap.ID = k.id
	if err := k.s.save(k.dir, k.meta); err != nil {
		return err
	}
	final := filepath.Join(k.s.dir, k.id)
	if err := os.Rename(k.dir, final); err != nil {
		return err
	}
	return syncDir(k.s.dir)
}

func (k *sink) closeFiles() {
	for _, f := range k.segs {
		f.Close()
	}
	k.segs, k.seg = nil, nil
}

// Cancel abandons the snapshot.
func (k *sink) Cancel() error {
	k.closed = true
	k.closeFiles()
	return os.RemoveAll(k.dir)
}
