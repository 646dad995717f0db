package membership

import "errors"

// Errors returned by this package. Wrapped errors keep these sentinels; test
// with errors.Is.
var (
	// ErrInvalidConfig: Config.Validate rejected the configuration (a missing
	// identity field, a malformed address, a bad key length, metadata that
	// would not fit memberlist's 512-byte limit, ...). Not retryable: fix the
	// configuration.
	ErrInvalidConfig = errors.New("membership: invalid config")
	// ErrClosed: the Membership was closed. Not retryable: create a new one.
	ErrClosed = errors.New("membership: closed")
	// ErrLeft: UpdateMeta after Leave. The node has announced that it is
	// gone; metadata changes are no longer gossiped. Not retryable.
	ErrLeft = errors.New("membership: left the cluster")
	// ErrBroadcastTimeout: UpdateMeta or Leave could not confirm within
	// Config.BroadcastTimeout that the message went out to the cluster. The
	// local state has changed anyway and still spreads through memberlist's
	// periodic push/pull; a retry is safe (it re-broadcasts).
	ErrBroadcastTimeout = errors.New("membership: broadcast timeout")
	// ErrBadMeta: a node's gossiped metadata does not decode (an unknown
	// format version, or not raftmq metadata at all). Such nodes are logged
	// and left out of Members; nothing to retry.
	ErrBadMeta = errors.New("membership: bad node metadata")
)
