package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/raftmq/raftmq/store"
)

// FetchRequest asks for messages of one queue.
type FetchRequest struct {
	Topic   string
	QueueID uint32
	Offset  uint64 // first queue offset wanted
	// MaxMessages and MaxBytes bound the result; 0 means the configured
	// defaults. At least one message is returned when one is available.
	MaxMessages int
	MaxBytes    int
	// MaxWait is how long to wait for new messages when there are none;
	// 0 returns at once. It is capped by Config.MaxFetchWait.
	MaxWait time.Duration
	// Tags, when non-empty, keeps only messages with one of these tags.
	Tags []string
}

// FetchStatus says what a Fetch found.
type FetchStatus int

const (
	// FetchFound: Messages holds at least one message.
	FetchFound FetchStatus = iota + 1
	// FetchNoNewMessages: nothing new arrived within MaxWait.
	FetchNoNewMessages
	// FetchOffsetMoved: the offset was deleted by retention or lies beyond
	// the queue's end; continue from NextOffset.
	FetchOffsetMoved
)

func (s FetchStatus) String() string {
	switch s {
	case FetchFound:
		return "found"
	case FetchNoNewMessages:
		return "no-new-messages"
	case FetchOffsetMoved:
		return "offset-moved"
	}
	return fmt.Sprintf("FetchStatus(%d)", int(s))
}

// FetchResult is what a Fetch found.
type FetchResult struct {
	Status   FetchStatus
	Messages []store.Message
	// NextOffset is the queue offset to ask for next.
	NextOffset uint64
	// MinOffset and MaxOffset are the queue's first available and next
	// unwritten offsets on this replica.
	MinOffset, MaxOffset uint64
}

// Fetch reads one queue from an offset. Any replica serves it: a replica
// holds only committed entries. With no new messages it waits, up to
// MaxWait and while ctx lasts, for the next FSM apply (Replicator.Applied)
// and reads again: no busy loop, no sleeps. Any apply wakes it, and a
// cheap re-read decides whether the queue grew.
//
// An offset below the earliest available one (deleted by retention)
// gives FetchOffsetMoved with NextOffset = MinOffset. An offset beyond the
// end gives FetchOffsetMoved with NextOffset = MaxOffset on the leader;
// on a follower it is treated as "not replicated here yet" and waited for.
func (b *Broker) Fetch(ctx context.Context, req FetchRequest) (FetchResult, error) {
	if err := b.checkFetch(&req); err != nil {
		return FetchResult{}, err
	}
	var timeout <-chan time.Time
	if req.MaxWait > 0 {
		t := time.NewTimer(min(req.MaxWait, b.cfg.MaxFetchWait))
		defer t.Stop()
		timeout = t.C
	}
	for {
		// Take the wakeup channel before reading, so an apply between the
		// read and the wait is not missed.
		applied := b.rep.Applied()
		res, done, err := b.fetchOnce(req)
		if err != nil || done || timeout == nil {
			return res, err
		}
		req.Offset = res.NextOffset // tag filtering may have skipped entries
		select {
		case <-applied:
		case <-timeout:
			return b.fetchFinal(req)
		case <-ctx.Done():
			return FetchResult{}, ctx.Err()
		case <-b.stop:
			return res, nil
		}
	}
}

// fetchFinal reads once more after the wait expired.
func (b *Broker) fetchFinal(req FetchRequest) (FetchResult, error) {
	res, _, err := b.fetchOnce(req)
	return res, err
}

// checkFetch validates a fetch and fills in its limits.
func (b *Broker) checkFetch(req *FetchRequest) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := store.ValidateTopic(req.Topic); err != nil {
		return err
	}
	t, ok := b.rep.Topic(req.Topic)
	if !ok {
		return fmt.Errorf("%w: %s", ErrTopicNotFound, req.Topic)
	}
	if !t.HasQueue(req.QueueID) {
		return queueOutside(t, req.QueueID)
	}
	if req.MaxMessages <= 0 {
		req.MaxMessages = b.cfg.DefaultFetchMessages
	}
	req.MaxMessages = min(req.MaxMessages, b.cfg.MaxFetchMessages)
	if req.MaxBytes <= 0 || req.MaxBytes > b.cfg.DefaultFetchBytes {
		req.MaxBytes = b.cfg.DefaultFetchBytes
	}
	return nil
}

// fetchOnce reads the queue once; done says the result is final (found
// messages or an offset to move to).
func (b *Broker) fetchOnce(req FetchRequest) (res FetchResult, done bool, err error) {
	var got store.GetResult
	err = b.withStore(func(s *store.Store) error {
		var err error
		got, err = s.GetMessages(store.GetRequest{
			Topic: req.Topic, QueueID: req.QueueID, Offset: req.Offset,
			MaxMessages: req.MaxMessages, MaxBytes: req.MaxBytes, Tags: req.Tags,
		})
		return err
	})
	res = FetchResult{
		Messages:   got.Messages,
		NextOffset: max(got.NextOffset, req.Offset),
		MinOffset:  got.MinOffset,
		MaxOffset:  got.MaxOffset,
	}
	switch {
	case errors.Is(err, store.ErrOffsetTooSmall):
		res.Status, res.NextOffset = FetchOffsetMoved, got.MinOffset
		return res, true, nil
	case errors.Is(err, store.ErrOffsetTooLarge):
		if b.rep.IsLeader() {
			res.Status, res.NextOffset = FetchOffsetMoved, got.MaxOffset
			return res, true, nil
		}
		res.Status, res.NextOffset = FetchNoNewMessages, req.Offset
		return res, false, nil
	case err != nil:
		return FetchResult{}, true, err
	case len(got.Messages) > 0:
		res.Status = FetchFound
		return res, true, nil
	}
	res.Status = FetchNoNewMessages
	return res, false, nil
}
