package client

import (
	"context"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// startOffset finds where a broadcasting member starts reading key. The
// broker resolves start positions only for clustering groups (Heartbeat),
// so the client does it with Fetch:
//
//   - StartEarliest: offset 0; the broker answers OFFSET_MOVED with the
//     oldest stored offset if retention deleted it.
//   - StartLatest: the queue's max_offset (the offset the next message
//     gets).
//   - StartTimestamp: a binary search over [min_offset, max_offset) for the
//     first message whose store time is at or after the timestamp, one
//     single-message Fetch per step (store times are taken to grow with
//     the offset).
func (cs *Consumer) startOffset(ctx context.Context, key queueKey) (uint64, error) {
	if cs.cfg.start == StartEarliest {
		return 0, nil
	}
	probe, err := cs.fetch(ctx, key, &pb.FetchRequest{MaxMessages: 1})
	if err != nil {
		return 0, err
	}
	if cs.cfg.start == StartLatest {
		return probe.GetMaxOffset(), nil
	}
	ts := cs.cfg.startTime.UnixMilli()
	lo, hi := probe.GetMinOffset(), probe.GetMaxOffset()
	for lo < hi {
		mid := lo + (hi-lo)/2
		r, err := cs.fetch(ctx, key, &pb.FetchRequest{Offset: mid, MaxMessages: 1})
		if err != nil {
			return 0, err
		}
		switch {
		case r.GetStatus() == pb.FetchStatus_FETCH_STATUS_FOUND && len(r.GetMessages()) > 0:
			m := r.GetMessages()[0]
			if m.GetStoreTimestampMs() >= ts {
				hi = mid
			} else {
				lo = max(mid, m.GetQueueOffset()) + 1
			}
		case r.GetStatus() == pb.FetchStatus_FETCH_STATUS_OFFSET_MOVED && r.GetNextOffset() > mid:
			lo = r.GetNextOffset() // mid was deleted by retention
		default:
			hi = mid // beyond the end
		}
	}
	return lo, nil
}
