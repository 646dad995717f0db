package client

import (
	"maps"
	"slices"
	"time"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Message is a message to send or one that was consumed.
//
// For sending, Body, Tags, Keys, Properties, ShardingKey and QueueID are
// read; the other fields are ignored. A consumed message has every field
// that the broker stores set (ShardingKey is not stored).
type Message struct {
	// Body is the payload.
	Body []byte
	// Tags is the tag consumers filter on.
	Tags string
	// Keys are indexed for QueryByKey.
	Keys []string
	// Properties are user properties.
	Properties map[string]string
	// ShardingKey sends messages with the same key to the same queue (for
	// per-key order), unless QueueID is set.
	ShardingKey string
	// QueueID, when set, sends the message to that queue. On a consumed
	// message it is the queue it came from.
	QueueID *uint32

	// Topic is the topic a consumed message came from.
	Topic string
	// MsgID is "<group>:<16 hex digits of the CommitLog offset>".
	MsgID string
	// QueueOffset is the message's offset in its queue.
	QueueOffset uint64
	// BornTime is when the producer created the message.
	BornTime time.Time
	// StoreTime is when the broker group's leader stored it.
	StoreTime time.Time
	// ReconsumeTimes is how many times the broker redelivered it.
	ReconsumeTimes uint32
	// Flags are the broker's message flags.
	Flags uint32
}

// SendResult is where one sent message was stored.
type SendResult struct {
	MsgID       string
	QueueID     uint32
	QueueOffset uint64
}

// size estimates the bytes m adds to a Produce request (for batch bounds).
func (m *Message) size() int {
	n := len(m.Body) + len(m.Tags) + len(m.ShardingKey) + 16
	for _, k := range m.Keys {
		n += len(k) + 2
	}
	for k, v := range m.Properties {
		n += len(k) + len(v) + 4
	}
	return n
}

// toProduce converts m to the wire form; queue choice is filled in by
// placement.
func (m *Message) toProduce(now time.Time) *pb.ProduceMessage {
	return &pb.ProduceMessage{
		Body:            m.Body,
		Tags:            m.Tags,
		Keys:            slices.Clone(m.Keys),
		Properties:      maps.Clone(m.Properties),
		BornTimestampMs: now.UnixMilli(),
		ShardingKey:     m.ShardingKey,
	}
}

// fromPB converts a stored message.
func fromPB(p *pb.Message) *Message {
	q := p.GetQueueId()
	return &Message{
		Body:           p.GetBody(),
		Tags:           p.GetTags(),
		Keys:           p.GetKeys(),
		Properties:     p.GetProperties(),
		QueueID:        &q,
		Topic:          p.GetTopic(),
		MsgID:          p.GetMsgId(),
		QueueOffset:    p.GetQueueOffset(),
		BornTime:       time.UnixMilli(p.GetBornTimestampMs()),
		StoreTime:      time.UnixMilli(p.GetStoreTimestampMs()),
		ReconsumeTimes: p.GetReconsumeTimes(),
		Flags:          p.GetFlags(),
	}
}

func fromPBs(ps []*pb.Message) []*Message {
	out := make([]*Message, len(ps))
	for i, p := range ps {
		out[i] = fromPB(p)
	}
	return out
}
