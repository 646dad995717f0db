package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors. Every error returned for a failed RPC is an *Error that
// wraps one of these (test with errors.Is) and keeps the server's message;
// status.Code(err) also works on it.
var (
	// ErrInvalidArgument is returned for a bad topic or group name, an
	// oversized or malformed message, or a queue id the topic does not have
	// (INVALID_ARGUMENT). Retrying the same request fails the same way.
	ErrInvalidArgument = errors.New("client: invalid argument")
	// ErrNotFound is returned for an unknown topic, message id or group
	// (NOT_FOUND), after the route was refreshed once. Retry only after
	// creating what was missing.
	ErrNotFound = errors.New("client: not found")
	// ErrAlreadyExists is returned by CreateTopic when the topic exists with a
	// different queue count (ALREADY_EXISTS). Not retryable.
	ErrAlreadyExists = errors.New("client: already exists")
	// ErrResourceExhausted is returned when the broker's disk is above its
	// hard limit or a request is too large (RESOURCE_EXHAUSTED). A retry is
	// safe (nothing was stored) but succeeds only once space is freed or the
	// batch is smaller.
	ErrResourceExhausted = errors.New("client: resource exhausted")
	// ErrNotLeader is returned when nodes kept answering "not the leader"
	// (FAILED_PRECONDITION) until the retry budget ran out. Nothing was
	// stored; a later retry is safe.
	ErrNotLeader = errors.New("client: not the leader")
	// ErrUnavailable is returned when no leader is elected, the node is
	// shutting down or cannot be reached (UNAVAILABLE), or a topic's group
	// has no leader, until the retry budget ran out. A later retry is safe
	// for reads; for Produce see the package documentation on duplicates.
	ErrUnavailable = errors.New("client: unavailable")
	// ErrUnknownOutcome is returned by Send and SendAsync when a Produce
	// call ended without an answer (DEADLINE_EXCEEDED from the broker, the
	// attempt's timeout, or the caller's context ending while it was in
	// flight): the messages may or may not have been stored. It is never
	// retried automatically, because a retry could store them twice; the
	// caller decides (idempotent consumers make a retry safe).
	ErrUnknownOutcome = errors.New("client: produce outcome unknown, the messages may have been stored")
	// ErrClosed is returned by a Client, Producer or Consumer after Close.
	ErrClosed = errors.New("client: closed")
)

// Error is a failed RPC: which call, which node answered, the gRPC code and
// the server's message. It unwraps to the sentinel for its code (and to the
// context's error when the caller's context ended).
type Error struct {
	// Method is the RPC name, e.g. "Produce".
	Method string
	// Addr is the node the last attempt went to; empty if none was tried.
	Addr string
	// Code is the gRPC status code of the last attempt.
	Code codes.Code
	// Message is the server's status message.
	Message string

	kind  error // sentinel, or nil for a code without one
	cause error // context error, if the caller's context ended
	// last is the last attempt's own sentinel when kind became
	// ErrUnknownOutcome because an earlier attempt may have been stored.
	last error
}

var (
	_ error                                    = (*Error)(nil)
	_ interface{ GRPCStatus() *status.Status } = (*Error)(nil)
	_ interface{ Unwrap() []error }            = (*Error)(nil)
)

// Error implements error.
func (e *Error) Error() string {
	kind := "client: " + e.Code.String()
	if e.kind != nil {
		kind = e.kind.Error()
	}
	where := e.Method
	if e.Addr != "" {
		where += " at " + e.Addr
	}
	return fmt.Sprintf("%s (%s): %s", kind, where, e.Message)
}

// Unwrap returns the sentinel and the context error, whichever are set.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.last != nil {
		errs = append(errs, e.last)
	}
	return errs
}

// GRPCStatus lets status.Code and status.FromError see the original code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// kindOf is the one table that maps gRPC codes to sentinels. produce
// selects the unknown-outcome meaning of DEADLINE_EXCEEDED and CANCELED.
func kindOf(code codes.Code, produce bool) error {
	switch code {
	case codes.InvalidArgument, codes.OutOfRange:
		return ErrInvalidArgument
	case codes.NotFound:
		return ErrNotFound
	case codes.AlreadyExists:
		return ErrAlreadyExists
	case codes.ResourceExhausted:
		return ErrResourceExhausted
	case codes.FailedPrecondition:
		return ErrNotLeader
	case codes.Unavailable:
		return ErrUnavailable
	case codes.DeadlineExceeded:
		if produce {
			return ErrUnknownOutcome
		}
		return context.DeadlineExceeded
	case codes.Canceled:
		if produce {
			return ErrUnknownOutcome
		}
		return context.Canceled
	}
	return nil
}

// wrapRPC turns an RPC error into an *Error. ctx is the caller's context:
// when it has ended, its error is wrapped too.
func wrapRPC(ctx context.Context, method, addr string, err error, produce bool) error {
	st := status.Convert(err)
	if st.Code() == codes.Unknown {
		if ce := contextCode(err); ce != codes.Unknown {
			st = status.New(ce, err.Error())
		}
	}
	return &Error{
		Method:  method,
		Addr:    addr,
		Code:    st.Code(),
		Message: st.Message(),
		kind:    kindOf(st.Code(), produce),
		cause:   ctx.Err(),
	}
}

// contextCode maps a bare context error (from a wait that never reached
// gRPC) to its status code.
func contextCode(err error) codes.Code {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}

// clientError builds an *Error for a failure detected on the client side.
func clientError(method string, code codes.Code, format string, args ...any) error {
	return &Error{Method: method, Code: code, Message: fmt.Sprintf(format, args...), kind: kindOf(code, false)}
}

// unknownOutcome turns the final error of an idempotent produce that had
// an attempt with an unknown outcome into ErrUnknownOutcome: whatever the
// last attempt said, an earlier one may have stored the messages. The
// error still matches the last attempt's sentinel (e.g. ErrUnavailable).
func unknownOutcome(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	if e.kind == ErrUnknownOutcome {
		return err
	}
	c := *e
	c.kind, c.last = ErrUnknownOutcome, e.kind
	return &c
}
