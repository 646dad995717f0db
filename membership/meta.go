package membership

import (
	"encoding/json"
	"fmt"
)

// metaVersion is the metadata format version (format: see doc.go; bump only
// for an incompatible change — new optional fields need no bump).
const metaVersion = 1

// metaMaxSize is memberlist's limit on node metadata (memberlist.MetaMaxSize).
const metaMaxSize = 512

// nodeMeta is the metadata a node gossips about itself. Field tags are
// format: they must not change without a version bump.
type nodeMeta struct {
	V            int    `json:"v"`
	Group        string `json:"g"`
	GRPCAddr     string `json:"a"`
	RaftAddr     string `json:"r"`
	Version      string `json:"ver,omitempty"`
	HasRaftState bool   `json:"s,omitempty"`
	Leaving      bool   `json:"l,omitempty"`
}

// encodeMeta returns the compact JSON form of m with the version set.
func encodeMeta(m nodeMeta) ([]byte, error) {
	m.V = metaVersion
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("membership: encode metadata: %w", err)
	}
	return b, nil
}

// decodeMeta parses metadata gossiped by another node. It returns
// ErrBadMeta for anything that is not version-1 raftmq metadata.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nodeMeta{}, fmt.Errorf("%w: %v", ErrBadMeta, err)
	}
	if m.V != metaVersion {
		return nodeMeta{}, fmt.Errorf("%w: format version %d, want %d", ErrBadMeta, m.V, metaVersion)
	}
	if m.Group == "" {
		return nodeMeta{}, fmt.Errorf("%w: no group", ErrBadMeta)
	}
	return m, nil
}
