package api

import (
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// toPBMessage converts a stored message; id is its message id.
func toPBMessage(m *store.Message, id string) *raftmqpb.Message {
	raftfsm.StripProducerMark(m) // internal to the broker group
	return &raftmqpb.Message{
		Topic:            m.Topic,
		QueueId:          m.QueueID,
		QueueOffset:      m.QueueOffset,
		MsgId:            id,
		Body:             m.Body,
		Tags:             m.Tags,
		Keys:             m.Keys,
		Properties:       m.Properties,
		BornTimestampMs:  m.BornTimestamp,
		StoreTimestampMs: m.StoreTimestamp,
		ReconsumeTimes:   m.ReconsumeTimes,
		Flags:            m.Flags,
	}
}

func (s *Server) toPBMessages(ms []store.Message) []*raftmqpb.Message {
	out := make([]*raftmqpb.Message, len(ms))
	for i := range ms {
		out[i] = toPBMessage(&ms[i], s.b.MessageID(ms[i].CommitLogOffset))
	}
	return out
}

func fromPBProduce(ms []*raftmqpb.ProduceMessage) []broker.ProduceMessage {
	out := make([]broker.ProduceMessage, len(ms))
	for i, m := range ms {
		out[i] = broker.ProduceMessage{
			Body:          m.GetBody(),
			Tags:          m.GetTags(),
			Keys:          m.GetKeys(),
			Properties:    m.GetProperties(),
			BornTimestamp: m.GetBornTimestampMs(),
			HasQueueID:    m.GetHasQueueId(),
			QueueID:       m.GetQueueId(),
			ShardingKey:   m.GetShardingKey(),
		}
	}
	return out
}

var fetchStatuses = map[broker.FetchStatus]raftmqpb.FetchStatus{
	broker.FetchFound:         raftmqpb.FetchStatus_FETCH_STATUS_FOUND,
	broker.FetchNoNewMessages: raftmqpb.FetchStatus_FETCH_STATUS_NO_NEW_MESSAGES,
	broker.FetchOffsetMoved:   raftmqpb.FetchStatus_FETCH_STATUS_OFFSET_MOVED,
}

func fromPBHeartbeat(r *raftmqpb.HeartbeatRequest) broker.HeartbeatRequest {
	req := broker.HeartbeatRequest{
		Group:          r.GetGroup(),
		MemberID:       r.GetMemberId(),
		Topics:         r.GetTopics(),
		StartTimestamp: r.GetStartTimestampMs(),
		SessionTimeout: time.Duration(r.GetSessionTimeoutMs()) * time.Millisecond,
		Mode:           -1, // invalid unless matched below
		Start:          -1,
	}
	switch r.GetMode() {
	case raftmqpb.ConsumeMode_CONSUME_MODE_UNSPECIFIED, raftmqpb.ConsumeMode_CONSUME_MODE_CLUSTERING:
		req.Mode = broker.Clustering
	case raftmqpb.ConsumeMode_CONSUME_MODE_BROADCASTING:
		req.Mode = broker.Broadcasting
	}
	switch r.GetStart() {
	case raftmqpb.StartPosition_START_POSITION_UNSPECIFIED, raftmqpb.StartPosition_START_POSITION_EARLIEST:
		req.Start = broker.StartEarliest
	case raftmqpb.StartPosition_START_POSITION_LATEST:
		req.Start = broker.StartLatest
	case raftmqpb.StartPosition_START_POSITION_TIMESTAMP:
		req.Start = broker.StartTimestamp
	}
	return req
}

func toPBNodeStatus(st broker.NodeStatus) *raftmqpb.NodeStatus {
	return &raftmqpb.NodeStatus{
		NodeId:       st.NodeID,
		Group:        st.Group,
		GrpcAddr:     st.GRPCAddr,
		RaftAddr:     st.RaftAddr,
		Role:         st.Role,
		Term:         st.Term,
		AppliedIndex: st.AppliedIndex,
		CommitlogEnd: st.CommitLogEnd,
		Reachable:    true,
		Error:        st.Error,
		DiskFull:     st.DiskFull,
		DiskUsed:     st.DiskUsed,
	}
}

// fromPBNodeStatus is the inverse of toPBNodeStatus for the fields a node
// reports of itself.
func fromPBNodeStatus(st *raftmqpb.NodeStatus) broker.NodeStatus {
	return broker.NodeStatus{
		NodeID:       st.GetNodeId(),
		Group:        st.GetGroup(),
		GRPCAddr:     st.GetGrpcAddr(),
		RaftAddr:     st.GetRaftAddr(),
		Role:         st.GetRole(),
		Term:         st.GetTerm(),
		AppliedIndex: st.GetAppliedIndex(),
		CommitLogEnd: st.GetCommitlogEnd(),
		DiskFull:     st.GetDiskFull(),
		DiskUsed:     st.GetDiskUsed(),
		Error:        st.GetError(),
	}
}
