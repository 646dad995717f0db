package faultproxy

import "errors"

// ErrInvalid is returned by New for an empty target address or a sniffer
// with a prefix limit below 1. Retrying with the same arguments fails the
// same way.
var ErrInvalid = errors.New("faultproxy: invalid argument")
