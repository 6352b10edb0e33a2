package fault

import (
	"context"
	"time"
)

// Circuit states, as reported in ExecutionMetrics.CircuitState and to
// MetricsRecorder.RecordCircuitState.
const (
	StateClosed   = "closed"
	StateHalfOpen = "half-open"
	StateOpen     = "open"
)

// ExecutionMetrics describes one execution through a policy. Build it with
// NewExecutionMetrics and the With methods, which return modified copies.
type ExecutionMetrics struct {
	PolicyName    string        // the policy executed
	Duration      time.Duration // from start to result, retries and waits included
	Success       bool          // the operation's result was delivered without error (false when a fallback served the call)
	CircuitState  string        // the breaker's state after the execution ("" without a breaker)
	RetryAttempts int           // retries after the first attempt (0: it ran once)
	CorrelationID string        // from the context (WithCorrelationID)
	TraceID       string        // from the tracer's span, or the context (WithTraceID)
	StartTime     time.Time     // when the execution started
	ErrorCode     ErrorCode     // the resilience code of the error, "" on success or for the operation's own errors
	Err           error         // the error returned to the caller, nil on success
	Fallback      bool          // a fallback ran and its result (or error) is what the caller got
}

// NewExecutionMetrics returns metrics for an execution of the named policy
// that took duration and succeeded or not.
func NewExecutionMetrics(policyName string, duration time.Duration, success bool) ExecutionMetrics {
	return ExecutionMetrics{PolicyName: policyName, Duration: duration, Success: success}
}

// WithCircuitState returns m with CircuitState set.
func (m ExecutionMetrics) WithCircuitState(state string) ExecutionMetrics {
	m.CircuitState = state
	return m
}

// WithRetryAttempts returns m with RetryAttempts set.
func (m ExecutionMetrics) WithRetryAttempts(n int) ExecutionMetrics {
	m.RetryAttempts = n
	return m
}

// WithCorrelationID returns m with CorrelationID set.
func (m ExecutionMetrics) WithCorrelationID(id string) ExecutionMetrics {
	m.CorrelationID = id
	return m
}

// WithTraceID returns m with TraceID set.
func (m ExecutionMetrics) WithTraceID(id string) ExecutionMetrics {
	m.TraceID = id
	return m
}

// WithStartTime returns m with StartTime set.
func (m ExecutionMetrics) WithStartTime(t time.Time) ExecutionMetrics {
	m.StartTime = t
	return m
}

// WithError returns m with Err and ErrorCode set from err; a non-nil err also
// clears Success.
func (m ExecutionMetrics) WithError(err error) ExecutionMetrics {
	m.Err = err
	m.ErrorCode = CodeOf(err)
	if err != nil {
		m.Success = false
	}
	return m
}

// WithFallback returns m with Fallback set; a fallback's result is never the
// operation's success, so true also clears Success.
func (m ExecutionMetrics) WithFallback(used bool) ExecutionMetrics {
	m.Fallback = used
	if used {
		m.Success = false
	}
	return m
}

// WasRetried reports whether the operation ran more than once.
func (m ExecutionMetrics) WasRetried() bool { return m.RetryAttempts > 0 }

// Rejected reports whether a pattern turned the execution away (circuit open,
// rate limited, bulkhead full) rather than the operation failing.
func (m ExecutionMetrics) Rejected() bool { return m.ErrorCode.Rejection() }

// MetricsRecorder receives resilience events. Implementations must be safe
// for concurrent use and quick: they run on the caller's goroutine. Package
// fault/metrics has in-memory, log/slog and fan-out recorders.
type MetricsRecorder interface {
	// RecordExecution is called once per execution.
	RecordExecution(ctx context.Context, metrics ExecutionMetrics)
	// RecordCircuitState is called on every breaker transition, in order.
	RecordCircuitState(ctx context.Context, policyName string, state string)
	// RecordRetryAttempt is called before each retry; attempt is the number of
	// the attempt about to run (2 for the first retry).
	RecordRetryAttempt(ctx context.Context, policyName string, attempt int)
	// RecordRateLimit is called per limiter decision: limited is true when the
	// call was turned away (or had to wait).
	RecordRateLimit(ctx context.Context, policyName string, limited bool)
	// RecordBulkheadQueue is called per bulkhead admission: queued is true when
	// the call had to wait for a slot.
	RecordBulkheadQueue(ctx context.Context, policyName string, queued bool)
}

// TimeoutRecorder is an optional interface a MetricsRecorder implements to be
// told when a time limit fires (MetricsRecorder itself has no timeout
// event). The timeout module reports to a recorder that has it.
type TimeoutRecorder interface {
	// RecordTimeout is called once each time a limit fires; limit is
	// TimeoutAttempt or TimeoutTotal, timeout its length.
	RecordTimeout(ctx context.Context, policyName, limit string, timeout time.Duration)
}

// NoOpMetricsRecorder records nothing; use it for tests or when metrics are
// disabled.
type NoOpMetricsRecorder struct{}

// RecordExecution does nothing.
func (NoOpMetricsRecorder) RecordExecution(context.Context, ExecutionMetrics) {}

// RecordCircuitState does nothing.
func (NoOpMetricsRecorder) RecordCircuitState(context.Context, string, string) {}

// RecordRetryAttempt does nothing.
func (NoOpMetricsRecorder) RecordRetryAttempt(context.Context, string, int) {}

// RecordRateLimit does nothing.
func (NoOpMetricsRecorder) RecordRateLimit(context.Context, string, bool) {}

// RecordBulkheadQueue does nothing.
func (NoOpMetricsRecorder) RecordBulkheadQueue(context.Context, string, bool) {}

var _ MetricsRecorder = NoOpMetricsRecorder{}
