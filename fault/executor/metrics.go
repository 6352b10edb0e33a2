package executor

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Metrics is a snapshot of what an executor counted itself: with
// ExecutorConfig.MetricsEnabled and no MetricsRecorder (the state
// fault.DefaultExecutorConfig returns), the executor keeps an in-memory
// recorder so that the flag means something; Executor.Metrics reads it.
type Metrics struct {
	Enabled  bool            // false: metrics are off, or a MetricsRecorder receives them instead
	Policies []PolicyMetrics // one per policy that executed, sorted by name
}

// PolicyMetrics are the counts of one policy since the executor was built.
type PolicyMetrics struct {
	Name          string
	Executions    uint64        // executions that ran through the policy
	Successes     uint64        // executions that ended without an error
	Failures      uint64        // executions that ended with an error, rejections included
	Rejections    uint64        // failures where a pattern turned the call away (circuit open, rate limited, bulkhead full, throttled)
	Retries       uint64        // retry attempts (attempts after the first)
	RateLimited   uint64        // limiter decisions that limited a call
	Queued        uint64        // bulkhead admissions that had to wait
	Timeouts      uint64        // time limits that fired
	TotalDuration time.Duration // sum of the executions' durations
	CircuitState  string        // the last state the breaker reported ("" without a breaker or transition)
}

// Metrics returns a snapshot of the executor's own in-memory recorder (see
// [Metrics]). With metrics off, or a MetricsRecorder configured, it returns
// Metrics{Enabled: false}: read that recorder instead. A nil *Executor
// returns the zero Metrics.
func (e *Executor[T]) Metrics() Metrics {
	if e == nil || e.env.own == nil {
		return Metrics{}
	}
	return e.env.own.snapshot()
}

// ownRecorder is the executor's in-memory recorder. Its cost per execution:
// a sync.Map lookup of the policy's counters and a few atomic adds on them
// (counters shared by every caller of the policy), on top of the
// ExecutionMetrics every observed execution builds.
type ownRecorder struct {
	policies sync.Map // name -> *policyCounters
}

// policyCounters has no executions counter: every execution is a success or
// a failure, so the snapshot adds the two (one atomic add less per call).
type policyCounters struct {
	successes, failures, rejections    atomic.Uint64
	retries, limited, queued, timeouts atomic.Uint64
	duration                           atomic.Int64
	state                              atomic.Pointer[string]
}

func (r *ownRecorder) of(name string) *policyCounters {
	if c, ok := r.policies.Load(name); ok {
		pc, _ := c.(*policyCounters)
		return pc
	}
	c, _ := r.policies.LoadOrStore(name, new(policyCounters))
	pc, _ := c.(*policyCounters)
	return pc
}

func (r *ownRecorder) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	c := r.of(m.PolicyName)
	c.duration.Add(int64(m.Duration))
	switch {
	case m.Success:
		c.successes.Add(1)
	case m.ErrorCode.Rejection():
		c.failures.Add(1)
		c.rejections.Add(1)
	default:
		c.failures.Add(1)
	}
}

func (r *ownRecorder) RecordCircuitState(_ context.Context, name, state string) {
	r.of(name).state.Store(&state)
}

func (r *ownRecorder) RecordRetryAttempt(_ context.Context, name string, _ int) {
	r.of(name).retries.Add(1)
}

func (r *ownRecorder) RecordRateLimit(_ context.Context, name string, limited bool) {
	if limited {
		r.of(name).limited.Add(1)
	}
}

func (r *ownRecorder) RecordBulkheadQueue(_ context.Context, name string, queued bool) {
	if queued {
		r.of(name).queued.Add(1)
	}
}

func (r *ownRecorder) RecordTimeout(_ context.Context, name, _ string, _ time.Duration) {
	r.of(name).timeouts.Add(1)
}

func (r *ownRecorder) snapshot() Metrics {
	m := Metrics{Enabled: true}
	r.policies.Range(func(k, v any) bool {
		c, _ := v.(*policyCounters)
		name, _ := k.(string)
		p := PolicyMetrics{
			Name:          name,
			Successes:     c.successes.Load(),
			Failures:      c.failures.Load(),
			Rejections:    c.rejections.Load(),
			Retries:       c.retries.Load(),
			RateLimited:   c.limited.Load(),
			Queued:        c.queued.Load(),
			Timeouts:      c.timeouts.Load(),
			TotalDuration: time.Duration(c.duration.Load()),
		}
		p.Executions = p.Successes + p.Failures
		if s := c.state.Load(); s != nil {
			p.CircuitState = *s
		}
		m.Policies = append(m.Policies, p)
		return true
	})
	sort.Slice(m.Policies, func(i, j int) bool { return m.Policies[i].Name < m.Policies[j].Name })
	return m
}

var (
	_ fault.MetricsRecorder = (*ownRecorder)(nil)
	_ fault.TimeoutRecorder = (*ownRecorder)(nil)
)
