package checker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// maxExamples bounds the examples kept per kind of problem.
const maxExamples = 5

// Report is the verdict of one Check. The counters are explained in the
// package doc.
type Report struct {
	Topic  string
	RunID  string
	Queues int
	// Sources are the sources read: "replica <addr>" for each replica,
	// and "group".
	Sources []string
	// Elapsed is the workload's duration, Start to Stop.
	Elapsed time.Duration

	Attempted, Acked, Failed, Unknown int

	Lost            int
	Missing         map[string]int
	Duplicates      int
	UnknownPresent  int
	FailedPresent   int
	Unexpected      int
	Corrupt         int
	Foreign         int
	Inconsistent    int
	OrderViolations int
	// Redelivered counts consumer-group deliveries of a queue offset the
	// group had already delivered (allowed: at-least-once).
	Redelivered int
	// ReadErrors says what could not be read completely (a replica that
	// failed, a consumer group that timed out, replicas that did not agree
	// on their max offsets in time).
	ReadErrors []string

	// Failovers has one sample per fault.
	Failovers []FailoverSample
	// FailoverP50, FailoverP99 and FailoverMax summarize the recovered
	// samples (zero without any).
	FailoverP50, FailoverP99, FailoverMax time.Duration

	// Examples holds up to 5 examples per problem kind ("lost",
	// "inconsistent", ...), for the String form and for debugging.
	Examples map[string][]string
}

// FailoverSample is the time from one fault to the end of the first
// successful send started after it.
type FailoverSample struct {
	Fault string
	At    time.Time
	// Recovered is false when no send started after the fault succeeded.
	Recovered bool
	Took      time.Duration
}

// OK reports whether nothing forbidden happened: no acked message lost or
// missing from a source, no inconsistency, no order violation, no
// corrupt payload, and every source read completely.
func (r *Report) OK() bool {
	missing := 0
	for _, n := range r.Missing {
		missing += n
	}
	return r.Lost == 0 && missing == 0 && r.Inconsistent == 0 && r.OrderViolations == 0 &&
		r.Corrupt == 0 && len(r.ReadErrors) == 0
}

// example records an example of a problem kind, keeping the first few.
func (r *Report) example(kind, format string, args ...any) {
	if r.Examples == nil {
		r.Examples = map[string][]string{}
	}
	if len(r.Examples[kind]) < maxExamples {
		r.Examples[kind] = append(r.Examples[kind], fmt.Sprintf(format, args...))
	}
}

// String renders the report on a few lines, examples last.
func (r *Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "check %s: topic %s, run %s, %d queues, %v workload\n", verdict, r.Topic, r.RunID, r.Queues, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  sends: %d attempted, %d acked, %d failed, %d unknown\n", r.Attempted, r.Acked, r.Failed, r.Unknown)
	fmt.Fprintf(&b, "  lost %d, inconsistent %d, order violations %d, corrupt %d\n", r.Lost, r.Inconsistent, r.OrderViolations, r.Corrupt)
	fmt.Fprintf(&b, "  duplicates %d, unknown-then-present %d, failed-then-present %d, unexpected %d, foreign %d, redelivered %d\n",
		r.Duplicates, r.UnknownPresent, r.FailedPresent, r.Unexpected, r.Foreign, r.Redelivered)
	for _, s := range r.Sources {
		fmt.Fprintf(&b, "  missing from %s: %d\n", s, r.Missing[s])
	}
	for _, f := range r.Failovers {
		if f.Recovered {
			fmt.Fprintf(&b, "  failover after %q: first write after %v\n", f.Fault, f.Took.Round(time.Millisecond))
		} else {
			fmt.Fprintf(&b, "  failover after %q: no write succeeded\n", f.Fault)
		}
	}
	if len(r.Failovers) > 0 {
		fmt.Fprintf(&b, "  failover p50 %v, p99 %v, max %v\n", r.FailoverP50.Round(time.Millisecond),
			r.FailoverP99.Round(time.Millisecond), r.FailoverMax.Round(time.Millisecond))
	}
	for _, e := range r.ReadErrors {
		fmt.Fprintf(&b, "  read error: %s\n", e)
	}
	for _, kind := range slices.Sorted(maps.Keys(r.Examples)) {
		for _, e := range r.Examples[kind] {
			fmt.Fprintf(&b, "  %s: %s\n", kind, e)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// summarizeFailovers fills the percentiles from the recovered samples.
func (r *Report) summarizeFailovers() {
	var took []time.Duration
	for _, f := range r.Failovers {
		if f.Recovered {
			took = append(took, f.Took)
		}
	}
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	r.FailoverP50 = percentile(took, 50)
	r.FailoverP99 = percentile(took, 99)
	r.FailoverMax = took[len(took)-1]
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}
