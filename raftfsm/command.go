package raftfsm

import (
	"encoding/binary"
	"fmt"

	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/record"
)

// Command encoding (format: must not change without a new version byte;
// golden tests in testdata/ pin it). Every Raft entry the FSM applies is
//
//	type u8 | version u8 | payload
//
// with big-endian integers and these payloads:
//
//	produce (1):        store timestamp i64 | count u32 |
//	                    count CommitLog records (package record's format,
//	                    queue and CommitLog offsets zero; each starts
//	                    with its own length and carries its own CRC)
//	commit offsets (2): count u32 | count x (group u16+bytes | topic
//	                    u8+bytes | queue id u32 | offset u64)
//	create topic (3):   name u8+bytes | queues u32                  (version 1)
//	                    name u8+bytes | queues u32 | first queue u32 (version 2)
//	delete topic (4):   name u8+bytes
//
// Every type is version 1 except create topic, which is written as
// version 2 only when its first queue id is not 0 (a topic spread over
// several broker groups), so a group that never uses several groups
// writes exactly what older releases wrote and can still be read by them.
//
// Only the leader reads its clock (the store timestamp) and it does so
// before proposing: applying is deterministic.
const (
	cmdProduce       byte = 1
	cmdCommitOffsets byte = 2
	cmdCreateTopic   byte = 3
	cmdDeleteTopic   byte = 4

	cmdVersion byte = 1
	// cmdVersionTopicSpan is the create-topic version that carries the
	// first queue id.
	cmdVersionTopicSpan byte = 2
)

// Topic is a topic's replicated configuration in this broker group: the
// group holds the queue ids [FirstQueue, FirstQueue+Queues). A topic
// spread over several groups has one Topic per group with disjoint
// ranges, so a queue id names one queue cluster-wide.
type Topic struct {
	Name   string
	Queues uint32
	// FirstQueue is the first queue id of this group's part; 0 for a
	// topic served by one group.
	FirstQueue uint32 `json:",omitempty"`
}

// HasQueue reports whether queue id q is one of the topic's queues in
// this group.
func (t Topic) HasQueue(q uint32) bool {
	return q >= t.FirstQueue && q-t.FirstQueue < t.Queues
}

// QueueIDs returns the topic's queue ids in this group, ascending.
func (t Topic) QueueIDs() []uint32 {
	out := make([]uint32, t.Queues)
	for i := range out {
		out[i] = t.FirstQueue + uint32(i)
	}
	return out
}

// OffsetCommit is one consumer group position: the next queue offset the
// group will consume.
type OffsetCommit struct {
	Group   string
	Topic   string
	QueueID uint32
	Offset  uint64
}

// command is a decoded Raft entry.
type command struct {
	typ     byte
	storeTS int64
	msgs    []*store.Message
	commits []OffsetCommit
	topic   Topic
}

func encodeProduce(storeTS int64, msgs []*store.Message) []byte {
	size := 2 + 8 + 4
	for _, m := range msgs {
		size += record.Size(m)
	}
	b := make([]byte, 0, size)
	b = append(b, cmdProduce, cmdVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(storeTS))
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)))
	for _, m := range msgs {
		c := *m
		c.QueueOffset, c.CommitLogOffset, c.StoreTimestamp, c.RaftIndex = 0, 0, 0, 0
		b = record.Append(b, &c)
	}
	return b
}

func encodeCommitOffsets(commits []OffsetCommit) []byte {
	b := []byte{cmdCommitOffsets, cmdVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(len(commits)))
	for _, c := range commits {
		b = appendString16(b, c.Group)
		b = appendString8(b, c.Topic)
		b = binary.BigEndian.AppendUint32(b, c.QueueID)
		b = binary.BigEndian.AppendUint64(b, c.Offset)
	}
	return b
}

func encodeCreateTopic(t Topic) []byte {
	if t.FirstQueue == 0 {
		b := []byte{cmdCreateTopic, cmdVersion}
		b = appendString8(b, t.Name)
		return binary.BigEndian.AppendUint32(b, t.Queues)
	}
	b := []byte{cmdCreateTopic, cmdVersionTopicSpan}
	b = appendString8(b, t.Name)
	b = binary.BigEndian.AppendUint32(b, t.Queues)
	return binary.BigEndian.AppendUint32(b, t.FirstQueue)
}

func encodeDeleteTopic(name string) []byte {
	return appendString8([]byte{cmdDeleteTopic, cmdVersion}, name)
}

func appendString8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

func appendString16(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// decodeCommand parses a Raft entry. Messages alias data.
func decodeCommand(data []byte) (command, error) {
	var c command
	if len(data) < 2 {
		return c, fmt.Errorf("%w: %d bytes", ErrBadCommand, len(data))
	}
	if data[1] != cmdVersion && (data[0] != cmdCreateTopic || data[1] != cmdVersionTopicSpan) {
		return c, fmt.Errorf("%w: type %d version %d", ErrBadCommand, data[0], data[1])
	}
	c.typ = data[0]
	d := decoder{b: data[2:]}
	switch c.typ {
	case cmdProduce:
		c.storeTS = int64(d.u64())
		n := d.u32()
		if n > uint32(len(d.b)/record.FixedSize)+1 {
			return c, fmt.Errorf("%w: produce count %d too large", ErrBadCommand, n)
		}
		for range n {
			if d.bad {
				break
			}
			m, size, err := record.Decode(d.b)
			if err != nil {
				return c, fmt.Errorf("%w: message %d: %v", ErrBadCommand, len(c.msgs), err)
			}
			if m.QueueOffset != 0 || m.CommitLogOffset != 0 || m.StoreTimestamp != 0 || m.RaftIndex != 0 || m.Flags&record.FlagBatchEnd != 0 {
				return c, fmt.Errorf("%w: message %d carries store-assigned fields", ErrBadCommand, len(c.msgs))
			}
			d.b = d.b[size:]
			c.msgs = append(c.msgs, &m)
		}
	case cmdCommitOffsets:
		n := d.u32()
		if n > uint32(len(d.b)) {
			return c, fmt.Errorf("%w: commit count %d too large", ErrBadCommand, n)
		}
		for range n {
			if d.bad {
				break
			}
			var oc OffsetCommit
			oc.Group = d.str(int(d.u16()))
			oc.Topic = d.str(int(d.u8()))
			oc.QueueID = d.u32()
			oc.Offset = d.u64()
			c.commits = append(c.commits, oc)
		}
	case cmdCreateTopic:
		c.topic.Name = d.str(int(d.u8()))
		c.topic.Queues = d.u32()
		if data[1] == cmdVersionTopicSpan {
			// Version 2 is written only for a first queue above 0; one
			// encoding per command keeps decode(encode(c)) == c.
			if c.topic.FirstQueue = d.u32(); c.topic.FirstQueue == 0 {
				d.bad = true
			}
		}
	case cmdDeleteTopic:
		c.topic.Name = d.str(int(d.u8()))
	default:
		return c, fmt.Errorf("%w: unknown type %d", ErrBadCommand, c.typ)
	}
	if d.bad || len(d.b) != 0 {
		return command{}, fmt.Errorf("%w: type %d: malformed payload", ErrBadCommand, c.typ)
	}
	return c, nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) str(n int) string { return string(d.take(n)) }
