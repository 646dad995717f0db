package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/raftmq/raftmq/client"
)

// parseTime reads a point in time as RFC 3339 (2024-05-01T12:00:00Z) or
// as milliseconds since the Unix epoch.
func parseTime(flag, s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("%s %q: want RFC 3339 (2006-01-02T15:04:05Z) or Unix milliseconds", flag, s)
	}
	return t, nil
}

// parseFrom turns consume's --from into consumer options.
func parseFrom(from string) ([]client.ConsumerOption, error) {
	switch from {
	case "earliest":
		return []client.ConsumerOption{client.WithStartPosition(client.StartEarliest)}, nil
	case "latest":
		return []client.ConsumerOption{client.WithStartPosition(client.StartLatest)}, nil
	}
	t, err := parseTime("--from", from)
	if err != nil {
		return nil, usagef("--from %q: want earliest, latest, RFC 3339 or Unix milliseconds", from)
	}
	return []client.ConsumerOption{client.WithStartTimestamp(t)}, nil
}

// parseProperties reads repeated --property k=v flags.
func parseProperties(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	props := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--property %q: want key=value", kv)
		}
		props[k] = v
	}
	return props, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
