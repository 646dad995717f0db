package checker

import "errors"

var (
	// ErrInvalidConfig is returned by New when a Config field is out of
	// range. Not retryable: fix the Config.
	ErrInvalidConfig = errors.New("checker: invalid config")
	// ErrState is returned when a method is called in the wrong phase:
	// Start twice, Stop or Check before Start, Check while producers run,
	// anything after Close. Not retryable.
	ErrState = errors.New("checker: wrong phase")
)
