package raftfsm

import (
	"encoding/binary"
	"fmt"

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
//	                                                            (version 1)
//	                    store timestamp i64 | requests u32 | requests x
//	                    (count u32 | flags u8 | [producer id u64 |
//	                    sequence u64 when flags bit 0] | count records)
//	                                                            (version 2)
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
// Likewise produce is written as version 2 only when the entry holds more
// than one request or an idempotent one (flags bit 0: it carries its
// producer id and sequence); version 2 keeps the request boundaries, so
// the FSM checks and deduplicates each request on its own. A version 1
// entry is one request. In version 2 the first record of an idempotent
// request carries record flag flagProducerSeq and the property
// ProducerSeqProperty ("<producer id hex>:<sequence>:<count>"), and no
// other record carries that flag: the CommitLog then says which requests
// were applied, so the deduplication table can be rebuilt from it
// (producers.go). Under load nearly every produce entry is version 2, so
// a group must be upgraded node by node before any client sends producer
// ids; a node that meets a type or version it does not know stops
// (ApplyBatch) rather than skip the entry and fall behind its peers.
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
	// cmdVersionRequests is the produce version that carries request
	// boundaries and producer sequences.
	cmdVersionRequests byte = 2

	// reqFlagIdempotent marks a version 2 request that carries its
	// producer id and sequence.
	reqFlagIdempotent byte = 1
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
	reqs    []ProduceRequest // produce: one per client request
	commits []OffsetCommit
	topic   Topic
}

// ProduceRequest is one client request of a produce entry: its messages
// are stored together or refused together, independently of the other
// requests sharing the entry.
type ProduceRequest struct {
	Msgs []*Message
	// Idempotent requests carry their producer's id and a sequence number
	// the producer never reuses for another request; a retry carries the
	// same pair, and the FSM stores it only once (producers.go).
	Idempotent bool
	ProducerID uint64
	Seq        uint64
}

// produceVersion is the version encodeProduce writes for reqs.
func produceVersion(reqs []ProduceRequest) byte {
	if len(reqs) == 1 && !reqs[0].Idempotent {
		return cmdVersion
	}
	return cmdVersionRequests
}

func encodeProduce(storeTS int64, reqs []ProduceRequest) []byte {
	v := produceVersion(reqs)
	size := 2 + 8 + 4
	for _, r := range reqs {
		size += 4 + 1 + 16
		for _, m := range r.Msgs {
			size += record.Size(m)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, cmdProduce, v)
	b = binary.BigEndian.AppendUint64(b, uint64(storeTS))
	if v == cmdVersion {
		b = binary.BigEndian.AppendUint32(b, uint32(len(reqs[0].Msgs)))
		return appendRecords(b, reqs[0].Msgs)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(reqs)))
	for _, r := range reqs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Msgs)))
		if !r.Idempotent {
			b = append(b, 0)
		} else {
			b = append(b, reqFlagIdempotent)
			b = binary.BigEndian.AppendUint64(b, r.ProducerID)
			b = binary.BigEndian.AppendUint64(b, r.Seq)
		}
		b = appendRecords(b, r.Msgs)
	}
	return b
}

func appendRecords(b []byte, msgs []*Message) []byte {
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
	v := data[1]
	if v != cmdVersion && (data[0] != cmdCreateTopic || v != cmdVersionTopicSpan) &&
		(data[0] != cmdProduce || v != cmdVersionRequests) {
		return c, fmt.Errorf("%w: type %d version %d", errNewerCommand, data[0], data[1])
	}
	c.typ = data[0]
	d := decoder{b: data[2:]}
	switch c.typ {
	case cmdProduce:
		if err := c.decodeProduce(&d, v); err != nil {
			return command{}, err
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
		return c, fmt.Errorf("%w: type %d", errNewerCommand, c.typ)
	}
	if d.bad || len(d.b) != 0 {
		return command{}, fmt.Errorf("%w: type %d: malformed payload", ErrBadCommand, c.typ)
	}
	return c, nil
}

// decodeProduce parses a produce payload of version v.
func (c *command) decodeProduce(d *decoder, v byte) error {
	c.storeTS = int64(d.u64())
	if v == cmdVersion {
		msgs, err := decodeRecords(d, d.u32())
		if err != nil {
			return err
		}
		c.reqs = []ProduceRequest{{Msgs: msgs}}
		return checkMark(c.reqs[0])
	}
	n := d.u32()
	if n > uint32(len(d.b)/(4+1+record.FixedSize))+1 {
		return fmt.Errorf("%w: produce request count %d too large", ErrBadCommand, n)
	}
	c.reqs = make([]ProduceRequest, 0, n)
	for range n {
		count := d.u32()
		var r ProduceRequest
		switch d.u8() {
		case 0:
		case reqFlagIdempotent:
			r.Idempotent, r.ProducerID, r.Seq = true, d.u64(), d.u64()
		default:
			d.bad = true
		}
		if d.bad {
			break
		}
		msgs, err := decodeRecords(d, count)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return fmt.Errorf("%w: empty produce request", ErrBadCommand)
		}
		r.Msgs = msgs
		if err := checkMark(r); err != nil {
			return err
		}
		c.reqs = append(c.reqs, r)
	}
	if !d.bad && produceVersion(c.reqs) != v {
		// One encoding per command keeps decode(encode(c)) == c.
		return fmt.Errorf("%w: produce version 2 holding one plain request", ErrBadCommand)
	}
	return nil
}

// decodeRecords parses n records of a produce payload.
func decodeRecords(d *decoder, n uint32) ([]*Message, error) {
	if n > uint32(len(d.b)/record.FixedSize)+1 {
		return nil, fmt.Errorf("%w: produce count %d too large", ErrBadCommand, n)
	}
	// One allocation for all the entry's messages, not one per message
	// (4 % of a follower's CPU under 4 x 500 went to those).
	vals := make([]Message, n)
	msgs := make([]*Message, 0, n)
	for i := range vals {
		if d.bad {
			break
		}
		m, size, err := record.Decode(d.b)
		if err != nil {
			return nil, fmt.Errorf("%w: message %d: %v", ErrBadCommand, i, err)
		}
		if m.QueueOffset != 0 || m.CommitLogOffset != 0 || m.StoreTimestamp != 0 || m.RaftIndex != 0 || m.Flags&record.FlagBatchEnd != 0 {
			return nil, fmt.Errorf("%w: message %d carries store-assigned fields", ErrBadCommand, i)
		}
		d.b = d.b[size:]
		vals[i] = m
		msgs = append(msgs, &vals[i])
	}
	return msgs, nil
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
