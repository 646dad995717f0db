package broker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/record"
)

// ProduceMessage is one message to send. The queue is chosen, in order:
// QueueID if HasQueueID; else the hash of ShardingKey if set (ordered
// messages: one key, one queue); else round robin over the topic's queues.
type ProduceMessage struct {
	Body          []byte
	Tags          string
	Keys          []string
	Properties    map[string]string
	BornTimestamp int64 // unix ms; 0 means the broker's clock at receipt
	HasQueueID    bool
	QueueID       uint32
	ShardingKey   string
}

// SendResult says where one produced message was stored.
type SendResult struct {
	MsgID       string
	QueueID     uint32
	QueueOffset uint64
}

// ProduceRequest is one producer request.
type ProduceRequest struct {
	Topic    string
	Messages []ProduceMessage
	// Idempotent requests carry their producer's id and a sequence number
	// the producer uses for this request only: a retry with the same pair
	// is stored once, and returns the first attempt's results.
	Idempotent bool
	ProducerID uint64
	Seq        uint64
}

// Produce appends msgs to topic as a plain (not idempotent) request; see
// ProduceRequest and Broker.ProduceRequest.
func (b *Broker) Produce(ctx context.Context, topic string, msgs []ProduceMessage) ([]SendResult, error) {
	return b.ProduceRequest(ctx, ProduceRequest{Topic: topic, Messages: msgs})
}

// ProduceRequest appends a request's messages to its topic. It returns,
// once the Raft entry holding them is committed by a majority and applied
// here, one result per message in request order. A request is never
// split: it is applied wholly (in one Raft entry, possibly shared with
// other requests, which neither its success nor its refusal affects) or
// not at all. Only the leader accepts it; a follower returns
// *NotLeaderError.
//
// Every message is validated before anything is batched, so bad input
// never reaches Raft. A missing topic is created with DefaultQueues
// queues if AutoCreateTopics is set, else ErrTopicNotFound is returned.
// A context that ends while the entry is in flight leaves the outcome
// unknown (the messages may be stored); an idempotent request may then be
// retried with the same producer id and sequence, here or on the next
// leader, and is stored at most once (raftfsm.ErrSequenceTooOld if it
// comes too late to tell).
func (b *Broker) ProduceRequest(ctx context.Context, req ProduceRequest) ([]SendResult, error) {
	batch, err := b.prepareProduce(ctx, req)
	if err != nil {
		return nil, notAppliedError{err}
	}
	o, err := b.produce.submit(ctx, raftfsm.ProduceRequest{Msgs: batch, Idempotent: req.Idempotent, ProducerID: req.ProducerID, Seq: req.Seq})
	if err == nil {
		err = o.Err
	}
	if err != nil {
		return nil, b.writeErr(err)
	}
	out := make([]SendResult, len(o.Results))
	for i, r := range o.Results {
		out[i] = SendResult{
			MsgID:       FormatMessageID(b.cfg.GroupID, r.CommitLogOffset),
			QueueID:     batch[i].QueueID,
			QueueOffset: r.QueueOffset,
		}
	}
	return out, nil
}

// prepareProduce checks a request and builds its messages; it is all that
// happens before the request is handed to the batcher.
func (b *Broker) prepareProduce(ctx context.Context, req ProduceRequest) ([]*store.Message, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	topic, msgs := req.Topic, req.Messages
	switch {
	case len(msgs) == 0:
		return nil, invalid("no messages")
	case len(msgs) > b.cfg.MaxBatchMessages:
		return nil, fmt.Errorf("%w: %d messages, at most %d per request", ErrRequestTooLarge, len(msgs), b.cfg.MaxBatchMessages)
	}
	if err := validateUserTopic(topic); err != nil {
		return nil, err
	}
	if err := b.checkLeader(); err != nil {
		return nil, err
	}
	t, err := b.topicForWrite(ctx, topic)
	if err != nil {
		return nil, err
	}
	return b.buildMessages(t, msgs, req.Idempotent)
}

// buildMessages picks each message's queue and validates it against the
// store's limits and the request's size bound. The first message of an
// idempotent request must leave room for the producer mark the leader
// adds to it (raftfsm.MarkOverhead), and no message may set the mark's
// reserved property.
func (b *Broker) buildMessages(t raftfsm.Topic, msgs []ProduceMessage, idempotent bool) ([]*store.Message, error) {
	now := time.Now().UnixMilli()
	batch := make([]*store.Message, len(msgs))
	vals := make([]store.Message, len(msgs)) // one allocation, not one per message
	rr := b.reserveRoundRobin(t, msgs)
	size := 0
	for i := range msgs {
		pm := &msgs[i]
		if _, ok := pm.Properties[raftfsm.ProducerSeqProperty]; ok {
			return nil, invalid("message %d: property %s is reserved", i, raftfsm.ProducerSeqProperty)
		}
		limits := b.cfg.MessageLimits
		if idempotent && i == 0 {
			limits.MaxPropertiesSize -= raftfsm.MarkOverhead
		}
		qid, err := pickQueue(t, pm, &rr)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		m := &vals[i]
		*m = store.Message{
			Topic:         t.Name,
			QueueID:       qid,
			BornTimestamp: pm.BornTimestamp,
			Tags:          pm.Tags,
			Keys:          pm.Keys,
			Properties:    pm.Properties,
			Body:          pm.Body,
		}
		if m.BornTimestamp == 0 {
			m.BornTimestamp = now
		}
		if err := store.ValidateMessage(m, limits); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		batch[i] = m
		size += record.Size(m)
		if idempotent && i == 0 {
			size += raftfsm.MarkOverhead
		}
	}
	if len(batch) > 1 && size > b.cfg.MaxBatchBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d per request", ErrRequestTooLarge, size, b.cfg.MaxBatchBytes)
	}
	return batch, nil
}

// pickQueue chooses the queue of one message (see ProduceMessage); a
// message without a queue or sharding key takes the next of the request's
// round-robin slots, rr.
func pickQueue(t raftfsm.Topic, pm *ProduceMessage, rr *uint32) (uint32, error) {
	switch {
	case pm.HasQueueID:
		if !t.HasQueue(pm.QueueID) {
			return 0, queueOutside(t, pm.QueueID)
		}
		return pm.QueueID, nil
	case !pm.roundRobin():
		return t.FirstQueue + ShardQueue(pm.ShardingKey, t.Queues), nil
	}
	q := *rr
	*rr = (q + 1) % t.Queues
	return t.FirstQueue + q, nil
}

// roundRobin reports whether the message's queue is chosen round robin:
// it names no queue and carries no sharding key.
func (pm *ProduceMessage) roundRobin() bool { return !pm.HasQueueID && pm.ShardingKey == "" }

// reserveRoundRobin takes as many consecutive round-robin slots of topic t
// as msgs has messages without a queue or sharding key, and returns the
// first (a queue index below t.Queues). One lock per request, not per
// message: concurrent requests contended for it (the mutex profile under
// 4 x 500).
func (b *Broker) reserveRoundRobin(t raftfsm.Topic, msgs []ProduceMessage) uint32 {
	n := uint64(0)
	for i := range msgs {
		if msgs[i].roundRobin() {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	b.rrMu.Lock()
	defer b.rrMu.Unlock()
	first := b.rr[t.Name] % t.Queues
	b.rr[t.Name] = uint32((uint64(first) + n) % uint64(t.Queues))
	return first
}

// queueOutside describes a queue id that is not one of this group's
// queues of topic t: ErrTopicNotFound, since with several broker groups
// the queue may live in another group and a client with a stale route
// must refresh it.
func queueOutside(t raftfsm.Topic, q uint32) error {
	return fmt.Errorf("%w: topic %s has no queue %d in this broker group (it holds queues %d to %d)",
		ErrTopicNotFound, t.Name, q, t.FirstQueue, t.FirstQueue+t.Queues-1)
}

// ShardQueue maps a sharding key to one of n queues (FNV-1a, modulo n).
// Clients may use it to predict the queue of an ordered message.
func ShardQueue(key string, n uint32) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() % n
}

// topicForWrite returns the topic, creating it when it is missing and
// AutoCreateTopics is set.
func (b *Broker) topicForWrite(ctx context.Context, name string) (raftfsm.Topic, error) {
	if t, ok := b.rep.Topic(name); ok {
		return t, nil
	}
	if !b.cfg.AutoCreateTopics {
		return raftfsm.Topic{}, fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	if err := b.autoCreate(ctx, name); err != nil && !errors.Is(err, raftfsm.ErrTopicExists) {
		return raftfsm.Topic{}, b.writeErr(err)
	}
	t, ok := b.rep.Topic(name)
	if !ok {
		return raftfsm.Topic{}, fmt.Errorf("%w: %s (deleted concurrently, or it lives in other broker groups only)", ErrTopicNotFound, name)
	}
	return t, nil
}

// autoCreate creates a missing topic with DefaultQueues queues per group:
// in this group alone when it is the only one, else in every known group
// (cluster-wide placement, see CreateTopic) unless some group already
// holds the topic, which is then left as it is.
func (b *Broker) autoCreate(ctx context.Context, name string) error {
	t := Topic{Name: name, Queues: b.cfg.DefaultQueues}
	if len(b.otherGroups()) == 0 {
		actx, cancel := b.applyCtx(ctx)
		defer cancel()
		if err := b.rep.CreateTopic(actx, t.fsm()); err != nil {
			return err
		}
		b.log.Info("topic auto-created", "topic", name, "queues", t.Queues)
		return nil
	}
	return b.Place(ctx, PlaceRequest{Topic: t, IfAbsent: true})
}

// produceSize measures one produce request for the batcher.
func produceSize(r raftfsm.ProduceRequest) (count, bytes int) {
	for _, m := range r.Msgs {
		bytes += record.Size(m)
	}
	return len(r.Msgs), bytes
}

// applyProduce writes the requests of one batch as one Raft entry; each
// request gets its own result (a request refused by the FSM fails alone).
func (b *Broker) applyProduce(reqs []raftfsm.ProduceRequest) ([]raftfsm.ProduceResult, error) {
	ctx, cancel := b.applyCtx(context.Background())
	defer cancel()
	res, err := b.rep.Produce(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if len(res) != len(reqs) {
		return nil, fmt.Errorf("broker: replicator returned %d results for %d requests", len(res), len(reqs))
	}
	for i, r := range res {
		if r.Err == nil && len(r.Results) != len(reqs[i].Msgs) {
			return nil, fmt.Errorf("broker: replicator returned %d results for %d messages", len(r.Results), len(reqs[i].Msgs))
		}
	}
	return res, nil
}
