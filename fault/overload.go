package fault

import (
	"context"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
)

// Budget bounds the extra attempts (retries and hedges) that calls may add to
// a dependency, relative to the first attempts they send it. The retry and
// hedge modules accept any Budget, so a program can share one object across
// every policy that calls the same dependency.
//
// Implementations are safe for concurrent use. Deposit and TryWithdraw never
// block and never call back into the caller.
type Budget interface {
	// Deposit records a first attempt: the traffic extra attempts are
	// measured against.
	Deposit()
	// TryWithdraw reports whether one retry or hedge may be sent now and,
	// when it may, counts it, as one atomic decision. A refusal affects only
	// the attempt asked for, never attempts already running.
	TryWithdraw() bool
}

// BudgetRecorder is an optional interface a MetricsRecorder implements to be
// told when a budget refuses a retry or a hedge (kind is PatternRetry or
// PatternHedge).
type BudgetRecorder interface {
	RecordBudgetRefusal(ctx context.Context, policyName, kind string)
}

// ThrottleRecorder is an optional interface a MetricsRecorder implements to
// be told about a throttle's decisions: throttled is true when the attempt was
// rejected locally; probability is the rejection probability in force.
type ThrottleRecorder interface {
	RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64)
}

// HedgeRecorder is an optional interface a MetricsRecorder implements to be
// told each time a hedge policy starts an extra (hedged) attempt: once per
// attempt started, never for the first attempt and never for a hedge the
// budget refused (that is RecordBudgetRefusal).
type HedgeRecorder interface {
	RecordHedge(ctx context.Context, policyName string)
}

// ThrottledError is returned when a client-side adaptive throttle rejects an
// attempt locally because the dependency has been refusing work. It is never
// retried. Code THROTTLED, HTTP 503, matching apperrors.ErrCodeUnavailable.
type ThrottledError struct {
	*ResilienceError
	Probability float64 // the rejection probability in force when the attempt was rejected
}

// NewThrottledError returns a ThrottledError (503) for a throttle rejecting
// with the given probability; retryAfter (>= 0) hints when the dependency may
// accept work again.
func NewThrottledError(service, correlationID string, probability float64, retryAfter time.Duration) *ThrottledError {
	b := &struct {
		e ThrottledError
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, ErrCodeThrottled, service, correlationID, "throttled: the dependency is refusing work", PatternThrottle)
	b.r.RetryAfter = max(retryAfter, 0)
	b.e = ThrottledError{ResilienceError: &b.r, Probability: probability}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError.
func (e *ThrottledError) Unwrap() error { return e.ResilienceError }
