package metrics

import (
	"math"
	"time"
)

// Snapshot is a copy of a Recorder's counters, safe to keep and marshal
// (encoding/json gives the shape that Publish exposes).
//
// Consistency: a snapshot is taken while executions may still be recorded,
// without stopping them. Each counter is read atomically exactly once, and
// every total is computed from those same reads, so within one policy these
// identities hold exactly in every snapshot:
//
//	Executions == Successes + Failures + Rejections
//	Rejections == RejectedBy.CircuitOpen + RejectedBy.RateLimited + RejectedBy.BulkheadFull
//	Timeouts   <= Failures
//
// An execution is counted by one atomic increment of its outcome class, so it
// is either fully in those counters or not at all. The latency histogram, the
// duration sum and the event counters (retries, rate-limit and bulkhead
// decisions) are separate increments: while records are in flight, they may
// differ from Executions by the records in progress during the copy. Once no
// record is in flight (after the executions being measured have returned),
// a snapshot is exact: Latency.Count == Executions.
type Snapshot struct {
	// Since is when the Recorder was created; counters count from then.
	Since time.Time `json:"since"`
	// Taken is when the snapshot was taken.
	Taken time.Time `json:"taken"`
	// Policies maps each policy name seen (and OverflowPolicy, once used) to
	// its counters.
	Policies map[string]PolicySnapshot `json:"policies"`
}

// PolicySnapshot is one policy's counters; see Snapshot for how they relate.
type PolicySnapshot struct {
	// Executions is the number of executions recorded (RecordExecution calls).
	Executions uint64 `json:"executions"`
	// Successes counts executions whose result reached the caller without error.
	Successes uint64 `json:"successes"`
	// Failures counts executions that ran (or started to) and failed: the
	// operation's own errors, timeouts, exhausted retries, shutdown refusals.
	Failures uint64 `json:"failures"`
	// Timeouts counts the failures whose code is fault.ErrCodeTimeout.
	Timeouts uint64 `json:"timeouts"`
	// Rejections counts executions a pattern turned away without running the
	// operation: the codes for which fault.ErrorCode.Rejection is true.
	Rejections uint64 `json:"rejections"`
	// RejectedBy splits Rejections by reason.
	RejectedBy Rejections `json:"rejected_by"`
	// RetriedExecutions counts executions that ran more than once
	// (ExecutionMetrics.RetryAttempts > 0).
	RetriedExecutions uint64 `json:"retried_executions"`
	// Retries counts RecordRetryAttempt calls: attempts after the first.
	Retries uint64 `json:"retries"`
	// Fallbacks counts the executions a fallback served
	// (ExecutionMetrics.Fallback). Each is also counted by its outcome above,
	// never as a success (a fallback's answer is not the operation's): a
	// fallback that answered without error is one of Failures.
	Fallbacks uint64 `json:"fallbacks"`
	// Hedges counts the hedged attempts started: attempts a hedge policy
	// sent beside a slow one (fault.HedgeRecorder). Hedges a budget refused
	// are BudgetRefusedHedges, not Hedges.
	Hedges uint64 `json:"hedges"`
	// CircuitState is the breaker's last reported state (fault.StateClosed,
	// StateHalfOpen, StateOpen), or "" if no breaker reported one: the last
	// transition, or the state a later execution saw (an execution that
	// ended before the last transition was recorded does not undo it).
	CircuitState string `json:"circuit_state,omitempty"`
	// CircuitTransitions counts RecordCircuitState calls; CircuitOpens the
	// transitions to open.
	CircuitTransitions uint64 `json:"circuit_transitions"`
	CircuitOpens       uint64 `json:"circuit_opens"`
	// RateLimitAllowed and RateLimitLimited count the limiter's decisions
	// (RecordRateLimit with limited false and true).
	RateLimitAllowed uint64 `json:"ratelimit_allowed"`
	RateLimitLimited uint64 `json:"ratelimit_limited"`
	// BulkheadImmediate and BulkheadQueued count bulkhead admissions that got
	// a slot at once and those that had to wait (RecordBulkheadQueue). They
	// are totals since Since, not the current queue length.
	BulkheadImmediate uint64 `json:"bulkhead_immediate"`
	BulkheadQueued    uint64 `json:"bulkhead_queued"`
	// BudgetRefusedRetries and BudgetRefusedHedges count the retries and
	// hedges a retry budget refused (fault.BudgetRecorder).
	BudgetRefusedRetries uint64 `json:"budget_refused_retries"`
	BudgetRefusedHedges  uint64 `json:"budget_refused_hedges"`
	// ThrottledAttempts counts the attempts an adaptive throttle rejected
	// (fault.ThrottleRecorder); RejectedBy.Throttled counts the executions
	// that ended that way.
	ThrottledAttempts uint64 `json:"throttled_attempts"`
	// ThrottleProbability is the throttle's last reported rejection
	// probability (0 when none reported).
	ThrottleProbability float64 `json:"throttle_probability"`
	// Latency summarises the executions' durations.
	Latency Latency `json:"latency"`
}

// Rejections splits rejected executions by the pattern that turned them away.
type Rejections struct {
	CircuitOpen  uint64 `json:"circuit_open"`  // fault.ErrCodeCircuitOpen
	RateLimited  uint64 `json:"rate_limited"`  // fault.ErrCodeRateLimited
	BulkheadFull uint64 `json:"bulkhead_full"` // fault.ErrCodeBulkheadFull
	Throttled    uint64 `json:"throttled"`     // fault.ErrCodeThrottled
}

// Latency summarises execution durations from the Recorder's histogram.
//
// Precision: durations below 16ns are exact; from 16ns to 2^40ns (about
// 18m19s) each power of two is split into 8 equal buckets and a quantile is
// reported as the midpoint of its bucket, so it is within 6.25% of the true
// duration at that rank. Longer durations are reported as 2^40ns. Mean is
// exact (from the sum of durations). A histogram costs about 2.4 KB per
// policy and stripe, whatever the number of executions.
type Latency struct {
	Count uint64        `json:"count"`   // durations recorded
	Sum   time.Duration `json:"sum_ns"`  // total of the durations
	Mean  time.Duration `json:"mean_ns"` // Sum / Count, 0 when empty
	P50   time.Duration `json:"p50_ns"`  // median
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"` // the highest non-empty bucket's reported value

	counts *[numBuckets]uint64
}

// Quantile returns the duration at quantile q (0 <= q <= 1; values outside
// are clamped), with the precision described on Latency; 0 when empty.
func (l Latency) Quantile(q float64) time.Duration {
	if l.counts == nil {
		return 0
	}
	return quantile(l.counts, l.Count, q)
}

// Snapshot returns a copy of every policy's counters; see Snapshot for what
// it guarantees about concurrent records.
func (r *Recorder) Snapshot() Snapshot {
	m := *r.policies.Load()
	s := Snapshot{Since: r.start, Taken: time.Now(), Policies: make(map[string]PolicySnapshot, len(m)+1)}
	for name, e := range m {
		s.Policies[name] = e.snapshot()
	}
	if r.overUsed.Load() {
		s.Policies[OverflowPolicy] = r.overflow.snapshot()
	}
	return s
}

// Policy returns the counters of one policy, and false if the Recorder has
// not seen it (names folded into OverflowPolicy are not seen).
func (r *Recorder) Policy(name string) (PolicySnapshot, bool) {
	if e, ok := (*r.policies.Load())[name]; ok {
		return e.snapshot(), true
	}
	if name == OverflowPolicy && r.overUsed.Load() {
		return r.overflow.snapshot(), true
	}
	return PolicySnapshot{}, false
}

func (e *entry) snapshot() PolicySnapshot {
	var (
		class  [numClasses]uint64
		counts [numBuckets]uint64
		p      PolicySnapshot
		sum    uint64
	)
	for i := range e.stripes {
		s := &e.stripes[i]
		for c := range class {
			class[c] += s.class[c].Load()
		}
		sum += s.sum.Load()
		p.RetriedExecutions += s.retried.Load()
		p.Retries += s.retries.Load()
		p.Fallbacks += s.fallback.Load()
		p.Hedges += s.hedges.Load()
		p.RateLimitAllowed += s.rateAllowed.Load()
		p.RateLimitLimited += s.rateLimited.Load()
		p.BulkheadImmediate += s.bulkImmediate.Load()
		p.BulkheadQueued += s.bulkQueued.Load()
		p.BudgetRefusedRetries += s.budgetRetry.Load()
		p.BudgetRefusedHedges += s.budgetHedge.Load()
		p.ThrottledAttempts += s.throttled.Load()
		for b := range counts {
			counts[b] += s.hist[b].Load()
		}
	}
	p.Successes = class[classSuccess]
	p.Timeouts = class[classTimeout]
	p.Failures = class[classFailure] + class[classTimeout]
	p.RejectedBy = Rejections{
		CircuitOpen:  class[classCircuitOpen],
		RateLimited:  class[classRateLimited],
		BulkheadFull: class[classBulkheadFull],
		Throttled:    class[classThrottled],
	}
	p.Rejections = p.RejectedBy.CircuitOpen + p.RejectedBy.RateLimited + p.RejectedBy.BulkheadFull + p.RejectedBy.Throttled
	p.ThrottleProbability = math.Float64frombits(e.throttleP.Load())
	p.Executions = p.Successes + p.Failures + p.Rejections
	p.CircuitState = stateName(e.state.Load())
	p.CircuitTransitions = e.transitions.Load()
	p.CircuitOpens = e.opens.Load()
	p.Latency = newLatency(&counts, sum)
	return p
}

func newLatency(counts *[numBuckets]uint64, sum uint64) Latency {
	l := Latency{counts: counts, Sum: time.Duration(sum)}
	for i, c := range counts {
		l.Count += c
		if c > 0 {
			l.Max = bucketValue(i)
		}
	}
	if l.Count == 0 {
		return l
	}
	l.Mean = time.Duration(sum / l.Count)
	l.P50 = quantile(counts, l.Count, 0.50)
	l.P95 = quantile(counts, l.Count, 0.95)
	l.P99 = quantile(counts, l.Count, 0.99)
	return l
}
