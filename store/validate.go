package store

import (
	"fmt"
	"strings"

	"github.com/raftmq/raftmq/store/record"
)

// ValidateTopic checks a topic name against RocketMQ's rules: 1 to
// MaxTopicLen characters from [%|a-zA-Z0-9_-].
func ValidateTopic(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	}
	if len(name) > MaxTopicLen {
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalidTopic, len(name), MaxTopicLen)
	}
	for i := 0; i < len(name); i++ {
		// Hand-rolled rather than a regexp: it runs for every message.
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '%', c == '|', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q has characters outside [%%|a-zA-Z0-9_-]", ErrInvalidTopic, name)
		}
	}
	return nil
}

// ValidateMessage checks one message against the format and the limits in
// opts, before anything is written.
func ValidateMessage(m *Message, opts Options) error {
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	if m.QueueID > MaxQueueID {
		return fmt.Errorf("%w: queue id %d above %d", ErrInvalidMessage, m.QueueID, MaxQueueID)
	}
	if m.Flags&record.FlagBatchEnd != 0 {
		return fmt.Errorf("%w: flag bit 31 is reserved", ErrInvalidMessage)
	}
	limit := opts.MaxMessageSize
	if strings.HasPrefix(m.Topic, SystemTopicPrefix) {
		// System records (written by the Raft layer) have a fixed limit,
		// so replicas configured with different MaxMessageSize agree.
		limit = MaxSystemBodySize
	}
	if len(m.Body) > limit {
		return fmt.Errorf("%w: body is %d bytes, at most %d allowed", ErrMessageTooLarge, len(m.Body), limit)
	}
	if len(m.Keys) > MaxKeys {
		return fmt.Errorf("%w: %d keys, at most %d allowed", ErrInvalidMessage, len(m.Keys), MaxKeys)
	}
	for _, k := range m.Keys {
		if err := checkName("key", k); err != nil {
			return err
		}
	}
	for k := range m.Properties {
		if err := checkName("property name", k); err != nil {
			return err
		}
	}
	if n := record.PropsSize(m); n > opts.MaxPropertiesSize {
		return fmt.Errorf("%w: %d bytes of tags, keys and properties, at most %d allowed", ErrPropertiesTooLarge, n, opts.MaxPropertiesSize)
	}
	if err := record.Check(m); err != nil {
		return fmt.Errorf("%w: %v", ErrPropertiesTooLarge, err)
	}
	return nil
}

// checkName rejects empty names and control characters in keys and
// property names: they end up in logs, CLIs and index queries.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidMessage, what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s %q has a control character", ErrInvalidMessage, what, s)
		}
	}
	return nil
}
