package checker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
)

// payloadMagic starts every body (format, see doc.go).
const payloadMagic = "rmqc1"

// msgKey names one message of the workload.
type msgKey struct {
	Producer int
	Seq      uint64
}

// encodeBody returns the body of message k of run, padded to size bytes
// with letters drawn from a generator seeded by seed, producer and seq.
func encodeBody(run string, seed int64, k msgKey, size int) []byte {
	head := payloadMagic + "|" + run + "|" + strconv.Itoa(k.Producer) + "|" + strconv.FormatUint(k.Seq, 10) + "|"
	padLen := max(size-len(head)-16-1, 1)
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(k.Producer)<<40^k.Seq))
	pad := make([]byte, padLen)
	for i := range pad {
		pad[i] = byte('a' + rng.IntN(26))
	}
	body := make([]byte, 0, len(head)+17+padLen)
	body = append(body, head...)
	body = append(body, payloadSum(head, pad)...)
	body = append(body, '|')
	return append(body, pad...)
}

// payloadSum is the sum field: 16 hex digits of SHA-256 over head+pad.
func payloadSum(head string, pad []byte) string {
	h := sha256.New()
	h.Write([]byte(head))
	h.Write(pad)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// decoded is what a body says about itself.
type decoded struct {
	// Valid is false for a body that does not parse or fails its sum.
	Valid bool
	// Run is the body's run id (when Valid).
	Run string
	// Key is the producer and seq (when Valid).
	Key msgKey
}

// decodeBody parses and verifies a body.
func decodeBody(body []byte) decoded {
	parts := bytes.SplitN(body, []byte("|"), 6)
	if len(parts) != 6 || string(parts[0]) != payloadMagic || !validField(string(parts[1])) {
		return decoded{}
	}
	p, err1 := strconv.Atoi(string(parts[2]))
	s, err2 := strconv.ParseUint(string(parts[3]), 10, 64)
	if err1 != nil || err2 != nil || p < 0 {
		return decoded{}
	}
	head := payloadMagic + "|" + string(parts[1]) + "|" + string(parts[2]) + "|" + string(parts[3]) + "|"
	if payloadSum(head, parts[5]) != string(parts[4]) {
		return decoded{}
	}
	return decoded{Valid: true, Run: string(parts[1]), Key: msgKey{Producer: p, Seq: s}}
}

// digest is a 64-bit FNV-1a hash of a body, to compare copies cheaply.
func digest(body []byte) uint64 {
	h := fnv.New64a()
	h.Write(body)
	return h.Sum64()
}
