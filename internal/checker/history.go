package checker

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"
)

// Outcome is how a send ended.
type Outcome string

// Outcomes of a send (see the package doc).
const (
	OutcomeOK      Outcome = "ok"
	OutcomeFailed  Outcome = "failed"
	OutcomeUnknown Outcome = "unknown"
)

// Send is one send of the workload: one message, one Producer.Send call.
type Send struct {
	Producer int       `json:"producer"`
	Seq      uint64    `json:"seq"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Outcome  Outcome   `json:"outcome"`
	// MsgID, Queue and Offset are where the broker said it stored the
	// message (OutcomeOK only).
	MsgID  string `json:"msg_id,omitempty"`
	Queue  uint32 `json:"queue"`
	Offset uint64 `json:"offset"`
	// Err is the error of a failed or unknown send.
	Err string `json:"err,omitempty"`
}

func (s *Send) key() msgKey { return msgKey{Producer: s.Producer, Seq: s.Seq} }

// Fault is a fault injected during the workload.
type Fault struct {
	Name string    `json:"name"`
	Time time.Time `json:"time"`
}

// Read is one message as one source returned it. The body is not kept,
// only its digest and what it says about itself.
type Read struct {
	// Source is "replica <addr>" or "group".
	Source string `json:"source"`
	Queue  uint32 `json:"queue"`
	Offset uint64 `json:"offset"`
	MsgID  string `json:"msg_id"`
	// Digest is the FNV-1a hash of the body.
	Digest uint64 `json:"digest"`
	// Valid is false for a body that does not parse or fails its sum.
	Valid bool `json:"valid"`
	// Run, Producer and Seq are the body's own claims (when Valid).
	Run      string `json:"run,omitempty"`
	Producer int    `json:"producer"`
	Seq      uint64 `json:"seq"`
}

func (r *Read) key() msgKey { return msgKey{Producer: r.Producer, Seq: r.Seq} }

// newRead builds the Read of one fetched message.
func newRead(source string, queue uint32, offset uint64, msgID string, body []byte) Read {
	d := decodeBody(body)
	return Read{Source: source, Queue: queue, Offset: offset, MsgID: msgID, Digest: digest(body),
		Valid: d.Valid, Run: d.Run, Producer: d.Key.Producer, Seq: d.Key.Seq}
}

// historyLine is one JSON line of the history file.
type historyLine struct {
	Kind  string `json:"kind"`
	Send  *Send  `json:"send,omitempty"`
	Fault *Fault `json:"fault,omitempty"`
	Read  *Read  `json:"read,omitempty"`
}

// writeHistory writes sends, faults and reads as JSON lines to w.
func writeHistory(w io.Writer, sends []Send, faults []Fault, reads []Read) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range faults {
		if err := enc.Encode(historyLine{Kind: "fault", Fault: &faults[i]}); err != nil {
			return err
		}
	}
	for i := range sends {
		if err := enc.Encode(historyLine{Kind: "send", Send: &sends[i]}); err != nil {
			return err
		}
	}
	for i := range reads {
		if err := enc.Encode(historyLine{Kind: "read", Read: &reads[i]}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeHistoryFile writes the history to path (created or truncated).
func writeHistoryFile(path string, sends []Send, faults []Fault, reads []Read) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(writeHistory(f, sends, faults, reads), f.Close())
}
