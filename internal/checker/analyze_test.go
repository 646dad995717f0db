package checker

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const testRun = "run1"

// hist builds synthetic histories: sends and the reads of each source.
type hist struct {
	sends  []Send
	faults []Fault
	reads  []Read
}

func msgID(q uint32, off uint64) string { return fmt.Sprintf("g:%016X", uint64(q)<<32|off) }

// ack records producer p's seq as acked at queue q offset off.
func (h *hist) ack(p int, seq uint64, q uint32, off uint64) *hist {
	h.sends = append(h.sends, Send{Producer: p, Seq: seq, Outcome: OutcomeOK, MsgID: msgID(q, off), Queue: q, Offset: off})
	return h
}

// send records producer p's seq with a non-ok outcome.
func (h *hist) send(p int, seq uint64, o Outcome) *hist {
	h.sends = append(h.sends, Send{Producer: p, Seq: seq, Outcome: o, Err: "boom"})
	return h
}

// read records that every listed source read producer p's seq at q/off.
func (h *hist) read(p int, seq uint64, q uint32, off uint64, sources ...string) *hist {
	body := encodeBody(testRun, 7, msgKey{p, seq}, 100)
	for _, s := range sources {
		h.reads = append(h.reads, newRead(s, q, off, msgID(q, off), body))
	}
	return h
}

// readBody records a read of an arbitrary body.
func (h *hist) readBody(src string, q uint32, off uint64, body []byte) *hist {
	h.reads = append(h.reads, newRead(src, q, off, msgID(q, off), body))
	return h
}

// both acks producer p's seq at q/off and has every source read it.
func (h *hist) both(p int, seq uint64, q uint32, off uint64) *hist {
	return h.ack(p, seq, q, off).read(p, seq, q, off, all...)
}

var all = []string{"replica a", "replica b", groupSource}

func (h *hist) analyze() *Report {
	return analyze(input{run: testRun, sources: all, sends: h.sends, faults: h.faults, reads: h.reads,
		minOffset: map[uint32]uint64{0: 0, 1: 0}})
}

// clean is a correct history: two producers, two queues.
func clean() *hist {
	h := &hist{}
	return h.both(0, 0, 0, 0).both(1, 0, 1, 0).both(0, 1, 1, 1).both(1, 1, 0, 1).both(0, 2, 0, 2)
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name  string
		build func() *hist
		ok    bool
		check func(r *Report) bool
	}{
		{"clean", clean, true, func(r *Report) bool {
			return r.Acked == 5 && r.Attempted == 5 && r.Lost == 0 && r.Duplicates == 0 && r.Inconsistent == 0 && r.Redelivered == 0
		}},
		{"lost", func() *hist { return clean().ack(1, 2, 1, 2) }, false, func(r *Report) bool {
			return r.Lost == 1 && r.Missing["replica a"] == 1 && r.Missing[groupSource] == 1
		}},
		{"missing from one replica", func() *hist {
			return clean().ack(1, 2, 1, 2).read(1, 2, 1, 2, "replica a", groupSource)
		}, false, func(r *Report) bool { return r.Lost == 0 && r.Missing["replica b"] == 1 && r.Missing["replica a"] == 0 }},
		{"duplicate of an acked message", func() *hist {
			return clean().read(0, 2, 0, 3, all...)
		}, true, func(r *Report) bool { return r.Duplicates == 1 }},
		{"unknown then present", func() *hist {
			return clean().send(1, 2, OutcomeUnknown).read(1, 2, 1, 2, all...)
		}, true, func(r *Report) bool { return r.Unknown == 1 && r.UnknownPresent == 1 }},
		{"failed then present", func() *hist {
			return clean().send(1, 2, OutcomeFailed).read(1, 2, 1, 2, all...)
		}, true, func(r *Report) bool { return r.Failed == 1 && r.FailedPresent == 1 }},
		{"unknown and absent", func() *hist { return clean().send(1, 2, OutcomeUnknown) }, true,
			func(r *Report) bool { return r.Unknown == 1 && r.UnknownPresent == 0 && r.Lost == 0 }},
		{"replicas disagree at a position", func() *hist {
			h := clean().ack(1, 2, 1, 2).read(1, 2, 1, 2, "replica a", groupSource)
			return h.send(1, 3, OutcomeUnknown).read(1, 3, 1, 2, "replica b")
		}, false, func(r *Report) bool { return r.Inconsistent >= 1 }},
		{"ack names another position", func() *hist {
			return clean().ack(1, 2, 1, 3).read(1, 2, 1, 2, all...)
		}, false, func(r *Report) bool { return r.Inconsistent == 1 && r.Lost == 0 && r.Missing["replica a"] == 0 }},
		{"ack position holds another message", func() *hist {
			h := clean().ack(1, 2, 1, 2).read(1, 2, 1, 3, all...)
			return h.send(1, 3, OutcomeUnknown).read(1, 3, 1, 2, all...)
		}, false, func(r *Report) bool { return r.Inconsistent >= 1 }},
		{"order violation", func() *hist {
			h := &hist{}
			return h.both(0, 1, 0, 0).both(0, 0, 0, 1)
		}, false, func(r *Report) bool { return r.OrderViolations == 1 }},
		{"order across queues is free", func() *hist {
			h := &hist{}
			return h.both(0, 1, 0, 0).both(0, 0, 1, 0)
		}, true, func(r *Report) bool { return r.OrderViolations == 0 }},
		{"corrupt body", func() *hist {
			body := encodeBody(testRun, 7, msgKey{1, 2}, 100)
			body[len(body)-1] ^= 1
			return clean().readBody("replica a", 1, 2, body)
		}, false, func(r *Report) bool { return r.Corrupt == 1 }},
		{"foreign run", func() *hist {
			return clean().readBody("replica a", 1, 2, encodeBody("other", 7, msgKey{1, 2}, 100)).
				readBody("replica b", 1, 2, encodeBody("other", 7, msgKey{1, 2}, 100))
		}, true, func(r *Report) bool { return r.Foreign == 1 && r.Unexpected == 0 }},
		{"never sent", func() *hist { return clean().read(5, 0, 1, 2, all...) }, true,
			func(r *Report) bool { return r.Unexpected == 1 }},
		{"group redelivers", func() *hist { return clean().read(0, 0, 0, 0, groupSource) }, true,
			func(r *Report) bool { return r.Redelivered == 1 }},
		{"group delivers out of order", func() *hist {
			h := &hist{}
			h.ack(0, 0, 0, 0).ack(0, 1, 0, 1).read(0, 0, 0, 0, "replica a", "replica b").read(0, 1, 0, 1, "replica a", "replica b")
			return h.read(0, 1, 0, 1, groupSource).read(0, 0, 0, 0, groupSource)
		}, false, func(r *Report) bool { return r.OrderViolations == 1 && r.Missing[groupSource] == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.build().analyze()
			if r.OK() != tc.ok || !tc.check(r) {
				t.Fatalf("OK %v, want %v; report:\n%s", r.OK(), tc.ok, r)
			}
		})
	}
}

func TestAnalyzeFailovers(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	h := &hist{faults: []Fault{{"kill", at(1000)}, {"pause", at(5000)}, {"late", at(9000)}}}
	h.sends = []Send{
		{Producer: 0, Seq: 0, Start: at(900), End: at(1001), Outcome: OutcomeOK}, // started before the fault
		{Producer: 0, Seq: 1, Start: at(1002), End: at(2500), Outcome: OutcomeUnknown},
		{Producer: 1, Seq: 0, Start: at(1500), End: at(3000), Outcome: OutcomeOK},
		{Producer: 0, Seq: 2, Start: at(2600), End: at(2800), Outcome: OutcomeOK},
		{Producer: 1, Seq: 1, Start: at(5000), End: at(5100), Outcome: OutcomeOK},
	}
	r := h.analyze()
	want := []FailoverSample{
		{Fault: "kill", At: at(1000), Recovered: true, Took: 1800 * time.Millisecond},
		{Fault: "pause", At: at(5000), Recovered: true, Took: 100 * time.Millisecond},
		{Fault: "late", At: at(9000)},
	}
	if fmt.Sprint(r.Failovers) != fmt.Sprint(want) {
		t.Fatalf("samples %v, want %v", r.Failovers, want)
	}
	if r.FailoverP50 != 100*time.Millisecond || r.FailoverP99 != 1800*time.Millisecond || r.FailoverMax != 1800*time.Millisecond {
		t.Fatalf("p50 %v p99 %v max %v", r.FailoverP50, r.FailoverP99, r.FailoverMax)
	}
	if s := r.String(); !strings.Contains(s, `failover after "late": no write succeeded`) || !strings.Contains(s, "p99 1.8s") {
		t.Fatalf("report:\n%s", s)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	tests := []struct {
		p    int
		in   []time.Duration
		want time.Duration
	}{
		{50, d, 50}, {99, d, 99}, {100, d, 100}, {1, d, 1},
		{50, d[:1], 1}, {99, d[:1], 1}, {50, d[:2], 1}, {99, d[:2], 2},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("p%d of %d", tc.p, len(tc.in)), func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
