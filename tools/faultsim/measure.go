package faultsim

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// Millis is a duration that JSON carries as a number of milliseconds.
type Millis time.Duration

// MarshalJSON writes the duration in milliseconds (microsecond precision).
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, math.Round(float64(m)/1e3)/1e3, 'f', -1, 64), nil
}

// UnmarshalJSON reads a number of milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Millis(math.Round(f * 1e6))
	return nil
}

// Report is everything a run measured; the text table, the HTML report and
// the JSON file are views of it.
type Report struct {
	Scenario    string             `json:"scenario"`
	Description string             `json:"description,omitempty"`
	Seed        uint64             `json:"seed"`
	Started     time.Time          `json:"started"`
	WallTime    Millis             `json:"wall_time_ms"`
	Timeline    Millis             `json:"timeline_ms"` // one strategy's pass
	Bucket      Millis             `json:"bucket_ms"`   // resolution of Series
	Deadline    Millis             `json:"deadline_ms"`
	MaxInFlight int                `json:"max_in_flight"`
	Phases      []PhaseInfo        `json:"phases"`
	Policy      fault.PolicyConfig `json:"policy"`
	// Source is the scenario file, when the scenario was parsed from one.
	Source       json.RawMessage     `json:"scenario_source,omitempty"`
	Strategies   []StrategyResult    `json:"strategies"`
	Expectations []ExpectationResult `json:"expectations"`
	// Passed is true when no expectation failed.
	Passed bool `json:"passed"`
	// Interrupted is true when the run was cut short; its figures are partial.
	Interrupted bool `json:"interrupted,omitempty"`
}

// PhaseInfo describes one phase of the timeline as it was run.
type PhaseInfo struct {
	Name      string  `json:"name"`
	Start     Millis  `json:"start_ms"`
	End       Millis  `json:"end_ms"`
	Outage    bool    `json:"outage,omitempty"`
	Rate      float64 `json:"rate"`
	Capacity  int     `json:"capacity"`
	ErrorRate float64 `json:"error_rate"`
	P50       Millis  `json:"latency_p50_ms"`
	P99       Millis  `json:"latency_p99_ms"`
}

// StrategyResult is one strategy's measurements.
type StrategyResult struct {
	Name    string  `json:"name"`
	Overall Stats   `json:"overall"`
	Phases  []Stats `json:"phases"`
	Series  []Point `json:"series"`
	// Transitions are the circuit breaker's state changes (fault only); it
	// starts closed.
	Transitions []Transition `json:"breaker_transitions,omitempty"`
	// Executor is fault/metrics' in-memory Recorder's view of the policy
	// (fault only).
	Executor *metrics.PolicySnapshot `json:"executor_metrics,omitempty"`
	// Shed counts attempts the server answered 503 because its queue was full.
	Shed     int    `json:"server_shed"`
	WallTime Millis `json:"wall_time_ms"`
}

// Outcomes counts requests by how they ended.
type Outcomes struct {
	OK           int `json:"ok"`
	HTTPError    int `json:"http_error"`    // the final answer was a 5xx
	ConnError    int `json:"conn_error"`    // a transport error
	Deadline     int `json:"deadline"`      // the client's deadline passed first
	Timeout      int `json:"timeout"`       // the policy's time limit fired
	CircuitOpen  int `json:"circuit_open"`  // rejected: circuit open
	RateLimited  int `json:"rate_limited"`  // rejected: rate limited
	BulkheadFull int `json:"bulkhead_full"` // rejected: bulkhead full
	Dropped      int `json:"dropped"`       // never sent: in-flight cap
}

func (o *Outcomes) add(x outcome) {
	switch x {
	case outcomeOK:
		o.OK++
	case outcomeHTTPError:
		o.HTTPError++
	case outcomeConnError:
		o.ConnError++
	case outcomeDeadline:
		o.Deadline++
	case outcomeTimeout:
		o.Timeout++
	case outcomeCircuitOpen:
		o.CircuitOpen++
	case outcomeRateLimited:
		o.RateLimited++
	case outcomeBulkheadFull:
		o.BulkheadFull++
	case outcomeDropped:
		o.Dropped++
	}
}

// Stats are one strategy's figures over one phase or the whole run. Requests
// belong to the phase in which they were scheduled to start, server attempts
// to the phase in which they arrived.
type Stats struct {
	Phase     string   `json:"phase"`
	Duration  Millis   `json:"duration_ms"`
	Requests  int      `json:"requests"` // scheduled, dropped ones included
	Sent      int      `json:"sent"`     // Requests - Outcomes.Dropped
	Successes int      `json:"successes"`
	Failures  int      `json:"failures"` // Requests - Successes
	Outcomes  Outcomes `json:"outcomes"`
	// SuccessRate is Successes / Requests.
	SuccessRate float64 `json:"success_rate"`
	// Goodput is successes per second of the phase.
	Goodput float64 `json:"goodput"`
	// Client-observed latency of every sent request, success or not, from
	// its scheduled start.
	P50 Millis `json:"p50_ms"`
	P95 Millis `json:"p95_ms"`
	P99 Millis `json:"p99_ms"`
	// Attempts the server received during the phase (whichever request
	// they belong to: a retry of an earlier request counts where it
	// lands); ReceivedAttempts the attempts the server received for the
	// requests scheduled in the phase, whenever they arrived;
	// ClientAttempts the round trips the clients started for those
	// requests (ReceivedAttempts but for the ones that never reached the
	// server).
	Attempts         int `json:"attempts"`
	ReceivedAttempts int `json:"received_attempts"`
	ClientAttempts   int `json:"client_attempts"`
	// Amplification is ReceivedAttempts / Sent: how much load each request
	// of the phase put on the server, its retries included even when they
	// landed in the next phase (3 means every request hit the server three
	// times; below 1, requests were rejected before reaching it).
	Amplification float64 `json:"amplification"`
	// PeakConcurrency is the most requests in the server at once, in service
	// and queued.
	PeakConcurrency int `json:"peak_concurrency"`
	// Recovery is set for outage phases: how long after the phase ended
	// requests succeeded again.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// Rejected counts the requests fault turned away at once.
func (s Stats) Rejected() int {
	return s.Outcomes.CircuitOpen + s.Outcomes.RateLimited + s.Outcomes.BulkheadFull
}

// Recovery is the time to recover after an outage: from the outage's end to
// the first moment after which, of the requests started within the
// scenario's recovery window, the recovery threshold succeeded.
type Recovery struct {
	Recovered bool   `json:"recovered"`
	After     Millis `json:"after_ms"`
}

// Point is one chart bucket of a strategy's run.
type Point struct {
	T         Millis `json:"t_ms"` // the bucket's start
	Requests  int    `json:"requests"`
	Sent      int    `json:"sent"` // requests not dropped
	Successes int    `json:"successes"`
	Attempts  int    `json:"attempts"` // received by the server in the bucket
	// ClientAttempts are the round trips made for the requests started in
	// the bucket; Amplification is ClientAttempts / Sent, so that a
	// request's retries count where it started.
	ClientAttempts int     `json:"client_attempts"`
	Goodput        float64 `json:"goodput"`
	P99            Millis  `json:"p99_ms"`
	Amplification  float64 `json:"amplification"`
	Peak           int     `json:"peak_concurrency"`
}

// Transition is one circuit-breaker state change.
type Transition struct {
	At    Millis `json:"at_ms"` // from the timeline's origin
	State string `json:"state"` // fault.StateOpen, StateHalfOpen or StateClosed
}

// quantiles returns the 50th, 95th and 99th percentiles (nearest rank) of ds,
// which it sorts.
func quantiles(ds []time.Duration) (p50, p95, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return q(0.50), q(0.95), q(0.99)
}

// summarize computes the Stats of the records started in [from, to).
func summarize(name string, recs []record, from, to time.Duration, attempts, peak int) Stats {
	st := Stats{Phase: name, Duration: Millis(to - from), Attempts: attempts, PeakConcurrency: peak}
	var lat []time.Duration
	for _, r := range recs {
		if r.start < from || r.start >= to {
			continue
		}
		st.Requests++
		st.Outcomes.add(r.outcome)
		st.ClientAttempts += int(r.attempts)
		st.ReceivedAttempts += int(r.received)
		if r.outcome != outcomeDropped {
			lat = append(lat, r.latency)
		}
	}
	st.Successes = st.Outcomes.OK
	st.Failures = st.Requests - st.Successes
	st.Sent = st.Requests - st.Outcomes.Dropped
	if st.Requests > 0 {
		st.SuccessRate = float64(st.Successes) / float64(st.Requests)
	}
	if d := (to - from).Seconds(); d > 0 {
		st.Goodput = float64(st.Successes) / d
	}
	if st.Sent > 0 {
		st.Amplification = float64(st.ReceivedAttempts) / float64(st.Sent)
	}
	p50, p95, p99 := quantiles(lat)
	st.P50, st.P95, st.P99 = Millis(p50), Millis(p95), Millis(p99)
	return st
}

// recovery finds when requests succeeded again after an outage ending at
// end: the first request start t >= end such that, of the requests started
// in [t, t+window), at least threshold succeeded. recs are sorted by start.
// A window must fit before limit (the timeline's end) and hold at least
// three requests.
func recovery(recs []record, end, window, limit time.Duration, threshold float64) *Recovery {
	i := firstAtOrAfter(recs, end)
	j, ok := i, 0
	for ; i < len(recs); i++ {
		t := recs[i].start
		if t+window > limit {
			break
		}
		for j < len(recs) && recs[j].start < t+window {
			if recs[j].outcome == outcomeOK {
				ok++
			}
			j++
		}
		if n := j - i; n >= 3 && float64(ok) >= threshold*float64(n) {
			return &Recovery{Recovered: true, After: Millis(t - end)}
		}
		if recs[i].outcome == outcomeOK {
			ok--
		}
	}
	return &Recovery{Recovered: false}
}

// firstAtOrAfter returns the index of the first record starting at or after t.
func firstAtOrAfter(recs []record, t time.Duration) int {
	i, _ := slices.BinarySearchFunc(recs, t, func(r record, t time.Duration) int {
		switch {
		case r.start < t:
			return -1
		case r.start > t:
			return 1
		}
		return 0
	})
	return i
}

// series cuts the run into chart buckets.
func series(recs []record, srv serverStats, bucket time.Duration, n int) []Point {
	pts := make([]Point, n)
	lat := make([][]time.Duration, n)
	for i := range pts {
		pts[i].T = Millis(time.Duration(i) * bucket)
		pts[i].Attempts = srv.attempts[i]
		pts[i].Peak = srv.peak[i]
	}
	for _, r := range recs {
		b := min(int(r.start/bucket), n-1)
		pts[b].Requests++
		if r.outcome == outcomeOK {
			pts[b].Successes++
		}
		pts[b].ClientAttempts += int(r.attempts)
		if r.outcome != outcomeDropped {
			pts[b].Sent++
			lat[b] = append(lat[b], r.latency)
		}
	}
	for i := range pts {
		pts[i].Goodput = float64(pts[i].Successes) / bucket.Seconds()
		if pts[i].Sent > 0 {
			pts[i].Amplification = float64(pts[i].ClientAttempts) / float64(pts[i].Sent)
		}
		_, _, p99 := quantiles(lat[i])
		pts[i].P99 = Millis(p99)
	}
	return pts
}

// measure turns a strategy's records and its server's counters into its
// result.
func measure(sc *Scenario, name string, recs []record, srv serverStats, transitions []Transition) StrategyResult {
	res := StrategyResult{Name: name, Shed: srv.shed}
	for i := range recs { // recs[i] is request number i, as the server knows it
		if i < len(srv.received) {
			recs[i].received = srv.received[i]
		}
	}
	slices.SortFunc(recs, func(a, b record) int { return int(a.start - b.start) })
	timeline := sc.Timeline()
	var start time.Duration
	totalAtt, peak := 0, 0
	for i, ph := range sc.Phases {
		end := start + ph.Duration
		st := summarize(ph.Name, recs, start, end, srv.phaseAtt[i], srv.phasePeak[i])
		if ph.Outage {
			st.Recovery = recovery(recs, end, sc.recoveryWindow(), timeline, sc.recoveryThreshold())
		}
		res.Phases = append(res.Phases, st)
		totalAtt += srv.phaseAtt[i]
		peak = max(peak, srv.phasePeak[i])
		start = end
	}
	res.Overall = summarize(overall, recs, 0, timeline, totalAtt, peak)
	res.Series = series(recs, srv, sc.bucket(), numBuckets(sc))
	res.Transitions = transitions
	return res
}
