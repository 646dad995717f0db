package checker

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// groupSource is the Source of reads by the consumer group.
const groupSource = "group"

// replicaSource is the Source of reads from one replica.
func replicaSource(addr string) string { return "replica " + addr }

// pos is a queue position.
type pos struct {
	Queue  uint32
	Offset uint64
}

// slot is what the first source to read a position found there.
type slot struct {
	read Read
	bad  bool // already counted as inconsistent
}

// input is everything analyze needs; reads of the group are in delivery
// order.
type input struct {
	run     string
	sources []string
	sends   []Send
	faults  []Fault
	reads   []Read
	// minOffset is each queue's first offset on the replicas, where the
	// consumer group starts.
	minOffset map[uint32]uint64
}

// analyzer holds the indexes built from the reads.
type analyzer struct {
	in   input
	r    *Report
	acks map[msgKey]*Send
	sent map[msgKey]*Send
	log  map[pos]*slot
	// seen[source] holds the messages of this run that source returned.
	seen map[string]map[msgKey]bool
	// stored holds every position each message of this run was read at.
	stored map[msgKey]map[pos]bool
}

// analyze computes the report of one run.
func analyze(in input) *Report {
	a := &analyzer{
		in:     in,
		r:      &Report{RunID: in.run, Sources: in.sources, Missing: map[string]int{}},
		acks:   map[msgKey]*Send{},
		sent:   map[msgKey]*Send{},
		log:    map[pos]*slot{},
		seen:   map[string]map[msgKey]bool{},
		stored: map[msgKey]map[pos]bool{},
	}
	for _, s := range in.sources {
		a.r.Missing[s] = 0
		a.seen[s] = map[msgKey]bool{}
	}
	a.countSends()
	a.indexReads()
	a.checkAcks()
	a.checkStored()
	a.checkOrder()
	a.checkGroupOrder()
	a.failovers()
	return a.r
}

func (a *analyzer) countSends() {
	for i := range a.in.sends {
		s := &a.in.sends[i]
		a.r.Attempted++
		a.sent[s.key()] = s
		switch s.Outcome {
		case OutcomeOK:
			a.r.Acked++
			a.acks[s.key()] = s
		case OutcomeFailed:
			a.r.Failed++
			a.r.example("failed", "producer %d seq %d after %v: %s", s.Producer, s.Seq, s.End.Sub(s.Start).Round(time.Millisecond), s.Err)
		default:
			a.r.Unknown++
			a.r.example("unknown", "producer %d seq %d after %v: %s", s.Producer, s.Seq, s.End.Sub(s.Start).Round(time.Millisecond), s.Err)
		}
	}
}

// indexReads builds the union log and finds positions (or ids) that
// sources disagree on, and corrupt and foreign bodies.
func (a *analyzer) indexReads() {
	idPos := map[string]pos{}
	badID := map[string]bool{}
	odd := map[pos]bool{} // corrupt or foreign, counted once
	for _, rd := range a.in.reads {
		p := pos{rd.Queue, rd.Offset}
		if s, ok := a.log[p]; !ok {
			a.log[p] = &slot{read: rd}
		} else if (s.read.MsgID != rd.MsgID || s.read.Digest != rd.Digest) && !s.bad {
			s.bad = true
			a.r.Inconsistent++
			a.r.example("inconsistent", "queue %d offset %d: %s has %s (body %016x), %s has %s (body %016x)",
				p.Queue, p.Offset, s.read.Source, s.read.MsgID, s.read.Digest, rd.Source, rd.MsgID, rd.Digest)
		}
		if q, ok := idPos[rd.MsgID]; !ok {
			idPos[rd.MsgID] = p
		} else if q != p && !badID[rd.MsgID] {
			badID[rd.MsgID] = true
			a.r.Inconsistent++
			a.r.example("inconsistent", "msg id %s at queue %d offset %d and at queue %d offset %d (%s)",
				rd.MsgID, q.Queue, q.Offset, p.Queue, p.Offset, rd.Source)
		}
		switch {
		case !rd.Valid:
			if !odd[p] {
				odd[p] = true
				a.r.Corrupt++
				a.r.example("corrupt", "queue %d offset %d (%s) from %s", p.Queue, p.Offset, rd.MsgID, rd.Source)
			}
		case rd.Run != a.in.run:
			if !odd[p] {
				odd[p] = true
				a.r.Foreign++
			}
		default:
			if a.seen[rd.Source] == nil {
				a.seen[rd.Source] = map[msgKey]bool{}
			}
			a.seen[rd.Source][rd.key()] = true
			if a.stored[rd.key()] == nil {
				a.stored[rd.key()] = map[pos]bool{}
			}
			a.stored[rd.key()][p] = true
		}
	}
}

// checkAcks finds acked messages lost or missing from a source, and acks
// whose position holds something else.
func (a *analyzer) checkAcks() {
	for _, k := range sortedKeys(a.acks) {
		s := a.acks[k]
		if a.stored[k] == nil {
			a.r.Lost++
			a.r.example("lost", "producer %d seq %d acked as %s at queue %d offset %d", k.Producer, k.Seq, s.MsgID, s.Queue, s.Offset)
		}
		for _, src := range a.in.sources {
			if !a.seen[src][k] {
				a.r.Missing[src]++
				a.r.example("missing", "producer %d seq %d (%s) not read from %s", k.Producer, k.Seq, s.MsgID, src)
			}
		}
		sl, ok := a.log[pos{s.Queue, s.Offset}]
		if !ok {
			if a.stored[k] != nil {
				a.r.Inconsistent++
				a.r.example("inconsistent", "producer %d seq %d acked as %s at queue %d offset %d, read only elsewhere",
					k.Producer, k.Seq, s.MsgID, s.Queue, s.Offset)
			}
			continue // otherwise lost, counted above
		}
		if rd := sl.read; rd.MsgID != s.MsgID || !rd.Valid || rd.Run != a.in.run || rd.key() != k {
			a.r.Inconsistent++
			a.r.example("inconsistent", "producer %d seq %d acked as %s at queue %d offset %d, which holds %s (producer %d seq %d)",
				k.Producer, k.Seq, s.MsgID, s.Queue, s.Offset, rd.MsgID, rd.Producer, rd.Seq)
		}
	}
}

// checkStored classifies every stored message of this run by its send.
func (a *analyzer) checkStored() {
	for _, k := range sortedKeys(a.stored) {
		a.r.Duplicates += len(a.stored[k]) - 1
		s := a.sent[k]
		switch {
		case s == nil:
			a.r.Unexpected++
			a.r.example("unexpected", "producer %d seq %d was never sent", k.Producer, k.Seq)
		case s.Outcome == OutcomeUnknown:
			a.r.UnknownPresent++
		case s.Outcome == OutcomeFailed:
			a.r.FailedPresent++
			a.r.example("failed-present", "producer %d seq %d failed (%s) but is stored", k.Producer, k.Seq, s.Err)
		}
	}
}

// checkOrder walks every queue in offset order: a producer's acked
// messages, at their acked positions, must come in increasing seq.
func (a *analyzer) checkOrder() {
	positions := slices.SortedFunc(maps.Keys(a.log), func(x, y pos) int {
		return cmp.Or(cmp.Compare(x.Queue, y.Queue), cmp.Compare(x.Offset, y.Offset))
	})
	type qp struct {
		queue    uint32
		producer int
	}
	last := map[qp]uint64{}
	for _, p := range positions {
		rd := a.log[p].read
		s := a.acks[rd.key()]
		if !rd.Valid || rd.Run != a.in.run || s == nil || s.MsgID != rd.MsgID || (pos{s.Queue, s.Offset}) != p {
			continue
		}
		k := qp{p.Queue, rd.Producer}
		if prev, ok := last[k]; ok && rd.Seq <= prev {
			a.r.OrderViolations++
			a.r.example("order", "queue %d offset %d: producer %d seq %d after seq %d", p.Queue, p.Offset, rd.Producer, rd.Seq, prev)
		}
		last[k] = rd.Seq
	}
}

// checkGroupOrder checks the consumer group's deliveries per queue: an
// offset delivered again is a redelivery; an offset delivered for the
// first time after a higher one is an order violation.
func (a *analyzer) checkGroupOrder() {
	delivered := map[pos]bool{}
	next := map[uint32]uint64{} // one past the highest offset delivered
	for _, rd := range a.in.reads {
		if rd.Source != groupSource {
			continue
		}
		p := pos{rd.Queue, rd.Offset}
		if delivered[p] {
			a.r.Redelivered++
			continue
		}
		delivered[p] = true
		n, ok := next[rd.Queue]
		if !ok {
			n = a.in.minOffset[rd.Queue]
		}
		if rd.Offset < n {
			a.r.OrderViolations++
			a.r.example("order", "group delivered queue %d offset %d after offset %d", rd.Queue, rd.Offset, n-1)
		}
		next[rd.Queue] = max(n, rd.Offset+1)
	}
}

// failovers measures each fault: to the end of the first successful send
// that started after it.
func (a *analyzer) failovers() {
	for _, f := range a.in.faults {
		sample := FailoverSample{Fault: f.Name, At: f.Time}
		var first time.Time
		for i := range a.in.sends {
			s := &a.in.sends[i]
			if s.Outcome == OutcomeOK && !s.Start.Before(f.Time) && (first.IsZero() || s.End.Before(first)) {
				first = s.End
			}
		}
		if !first.IsZero() {
			sample.Recovered, sample.Took = true, first.Sub(f.Time)
		}
		a.r.Failovers = append(a.r.Failovers, sample)
	}
	a.r.summarizeFailovers()
}

// sortedKeys returns m's keys by producer, then seq, so examples are
// deterministic.
func sortedKeys[V any](m map[msgKey]V) []msgKey {
	return slices.SortedFunc(maps.Keys(m), func(x, y msgKey) int {
		return cmp.Or(cmp.Compare(x.Producer, y.Producer), cmp.Compare(x.Seq, y.Seq))
	})
}
