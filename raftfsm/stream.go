package raftfsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Snapshot stream (format: must not change without a version bump):
//
//	magic "RMQS" u32 | version u32 | meta length u32 | meta JSON |
//	crc32c of the meta JSON u32 | CommitLog bytes [CLMin, CLEnd) (kind
//	"full" only; segment after segment, exactly as on disk)
//
// kind "local": what Persist writes on every node — the tables and the
// CommitLog end; the CommitLog itself stays in the live store.
// kind "full": what a follower receives at install — the same plus the raw
// CommitLog bytes, which the receiving sink writes into staging segments.
// kind "staged": what Open returns for a received snapshot — it names the
// staged copy that FSM.Restore swaps in.
const (
	streamMagic   uint32 = 0x524D5153 // "RMQS"
	streamVersion uint32 = 1
	maxMetaLen           = 64 << 20

	kindLocal  = "local"
	kindFull   = "full"
	kindStaged = "staged"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// snapMeta describes a snapshot beyond what raft.SnapshotMeta holds.
type snapMeta struct {
	Kind        string  `json:"kind"`
	ID          string  `json:"id,omitempty"`
	Tables      *tables `json:"tables"`
	CLMin       int64   `json:"cl_min"`
	CLEnd       int64   `json:"cl_end"`
	SegmentSize int64   `json:"segment_size"`
	// Queues is every queue's next queue offset at CLEnd. Queue offsets
	// are assigned by each replica's store, so a follower installed from
	// CLMin must continue queues with no message left after retention
	// where the leader's are.
	Queues map[string]map[uint32]uint64 `json:"queues,omitempty"`
	// Producers is the idempotent-produce table at CLEnd (producers.go);
	// absent in snapshots of older releases (an empty table).
	Producers *producerTable `json:"producers,omitempty"`
}

// producerTable returns a copy of the snapshot's producer table.
func (m snapMeta) producerTable() *producerTable {
	if m.Producers == nil {
		return newProducerTable()
	}
	return m.Producers.clone()
}

func headerBytes(m snapMeta) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint32(nil, streamMagic)
	b = binary.BigEndian.AppendUint32(b, streamVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(js, crcTable)), nil
}

func writeStreamHeader(w io.Writer, m snapMeta) error {
	b, err := headerBytes(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func readStreamHeader(r io.Reader) (snapMeta, error) {
	var m snapMeta
	var h [12]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return m, fmt.Errorf("raftfsm: snapshot header: %w", err)
	}
	if binary.BigEndian.Uint32(h[0:]) != streamMagic || binary.BigEndian.Uint32(h[4:]) != streamVersion {
		return m, errors.New("raftfsm: snapshot stream has a bad magic or version")
	}
	n := binary.BigEndian.Uint32(h[8:])
	if n > maxMetaLen {
		return m, fmt.Errorf("raftfsm: snapshot meta of %d bytes", n)
	}
	js := make([]byte, n+4)
	if _, err := io.ReadFull(r, js); err != nil {
		return m, fmt.Errorf("raftfsm: snapshot meta: %w", err)
	}
	if crc32.Checksum(js[:n], crcTable) != binary.BigEndian.Uint32(js[n:]) {
		return m, errors.New("raftfsm: snapshot meta checksum mismatch")
	}
	if err := json.Unmarshal(js[:n], &m); err != nil {
		return m, fmt.Errorf("raftfsm: snapshot meta: %w", err)
	}
	if m.Tables == nil {
		m.Tables = newTables()
	}
	if m.CLMin < 0 || m.CLEnd < m.CLMin || m.SegmentSize <= 0 {
		return m, fmt.Errorf("raftfsm: snapshot meta out of range: [%d, %d) segment %d", m.CLMin, m.CLEnd, m.SegmentSize)
	}
	return m, nil
}
