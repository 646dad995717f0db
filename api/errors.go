package api

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/prodstream"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// LeaderTrailer is the response trailer that carries the group leader's
// gRPC address (host:port) with FAILED_PRECONDITION.
const LeaderTrailer = "raftmq-leader"

// OutcomeTrailer is the response trailer of a failed Produce that says
// what became of it (see prodstream.OutcomeTrailer).
const (
	OutcomeTrailer    = prodstream.OutcomeTrailer
	OutcomeNotApplied = prodstream.OutcomeNotApplied
)

// errorCodes is THE table from broker, raftfsm and store errors to gRPC
// codes. The first entry the error matches (errors.Is) wins, so the more
// specific errors come first. Anything unmatched is INTERNAL.
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	// Leadership and availability.
	{broker.ErrNotLeader, codes.FailedPrecondition}, // + LeaderTrailer
	{broker.ErrNoLeader, codes.Unavailable},
	{broker.ErrClosed, codes.Unavailable},
	{broker.ErrGroupUnavailable, codes.Unavailable},
	{raftfsm.ErrNotLeader, codes.FailedPrecondition},
	{raftfsm.ErrUnavailable, codes.Unavailable},
	{raftfsm.ErrFailed, codes.Unavailable},
	{store.ErrClosed, codes.Unavailable},
	{store.ErrFailed, codes.Unavailable},
	{store.ErrLocked, codes.Unavailable},
	// The Raft commit did not finish in time: outcome unknown.
	{raftfsm.ErrUnknownOutcome, codes.DeadlineExceeded},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
	// Bad input.
	{broker.ErrInvalidArgument, codes.InvalidArgument},
	{store.ErrInvalidTopic, codes.InvalidArgument},
	{store.ErrMessageTooLarge, codes.InvalidArgument},
	{store.ErrPropertiesTooLarge, codes.InvalidArgument},
	{store.ErrInvalidMessage, codes.InvalidArgument},
	{store.ErrOffsetTooSmall, codes.OutOfRange},
	{store.ErrOffsetTooLarge, codes.OutOfRange},
	// An idempotent produce retried too late to tell whether it was
	// stored: OUT_OF_RANGE (its sequence is outside the window the broker
	// remembers), not FAILED_PRECONDITION, which clients read as "retry at
	// the leader" and would retry in vain.
	{raftfsm.ErrSequenceTooOld, codes.OutOfRange},
	{raftfsm.ErrSequenceReused, codes.InvalidArgument},
	// Missing or conflicting things.
	{broker.ErrTopicNotFound, codes.NotFound},
	{broker.ErrGroupNotFound, codes.NotFound},
	{broker.ErrMessageNotFound, codes.NotFound},
	{raftfsm.ErrTopicNotFound, codes.NotFound},
	{store.ErrNotFound, codes.NotFound},
	{raftfsm.ErrTopicExists, codes.AlreadyExists},
	{raftfsm.ErrNotVoter, codes.InvalidArgument},
	// Limits.
	{broker.ErrRequestTooLarge, codes.ResourceExhausted},
	{store.ErrDiskFull, codes.ResourceExhausted},
	// Damage: this replica's copy failed its checksum and is never
	// served; the other replicas hold the data and this one repairs
	// itself from them, so a client reads elsewhere (or retries).
	{store.ErrCorrupt, codes.DataLoss},
	// Bugs.
	{raftfsm.ErrBadCommand, codes.Internal},
}

// Code returns the gRPC code for err by the table above; a gRPC status
// error keeps its own code.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return codes.Internal
}

// toStatus turns a broker error into a gRPC status error; for not-leader
// errors it sets the LeaderTrailer on the call in ctx.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := Code(err)
	var md metadata.MD
	var nl *broker.NotLeaderError
	if errors.As(err, &nl) && nl.LeaderAddr != "" {
		md = metadata.Join(md, metadata.Pairs(LeaderTrailer, nl.LeaderAddr))
	}
	if broker.NotApplied(err) {
		md = metadata.Join(md, metadata.Pairs(OutcomeTrailer, OutcomeNotApplied))
	}
	if md != nil {
		if terr := grpc.SetTrailer(ctx, md); terr != nil {
			s.log.Debug("cannot set trailer", "err", terr)
		}
	}
	if code == codes.Internal {
		s.log.Error("internal error", "err", err)
	}
	return status.Error(code, err.Error())
}
