package metrics

import (
	"context"
	"log/slog"

	"github.com/authcorp/libs/go/src/fault"
)

// Log record messages, one per kind of event.
const (
	MsgExecution    = "fault execution"
	MsgRejection    = "fault rejection"
	MsgCircuitState = "fault circuit state"
	MsgRetry        = "fault retry"
	MsgRateLimited  = "fault rate limited"
	MsgQueued       = "fault bulkhead queued"
)

// Levels sets the level of each kind of log record a LogRecorder writes.
type Levels struct {
	// Execution: a successful or failed execution. Default Debug: the caller
	// gets the error and usually logs it itself.
	Execution slog.Level
	// Rejection: an execution turned away by an open circuit, the rate
	// limiter or a full bulkhead. Default Info: load being shed is worth
	// seeing in production without being an error of this service.
	Rejection slog.Level
	// CircuitOpen: a breaker opening. Default Warn.
	CircuitOpen slog.Level
	// CircuitRecovery: a breaker going half-open or closed. Default Info.
	CircuitRecovery slog.Level
	// Event: a retry about to run, a call rate limited, a call queued by a
	// bulkhead. Default Debug. Allowed and immediate admissions are not
	// logged at all.
	Event slog.Level
}

// DefaultLevels returns the levels a LogRecorder uses unless told otherwise.
func DefaultLevels() Levels {
	return Levels{
		Execution:       slog.LevelDebug,
		Rejection:       slog.LevelInfo,
		CircuitOpen:     slog.LevelWarn,
		CircuitRecovery: slog.LevelInfo,
		Event:           slog.LevelDebug,
	}
}

// LogRecorder is a fault.MetricsRecorder that writes structured log records
// through log/slog. It checks the handler's level before building a record, so
// a disabled level costs one Enabled call. Every record carries the attribute
// policy; see the package documentation for the other attributes.
type LogRecorder struct {
	l      *slog.Logger
	levels Levels
}

var _ fault.MetricsRecorder = (*LogRecorder)(nil)

// LogOption configures a LogRecorder.
type LogOption func(*LogRecorder)

// WithLevels replaces the record levels (see DefaultLevels).
func WithLevels(l Levels) LogOption { return func(r *LogRecorder) { r.levels = l } }

// NewLogRecorder returns a LogRecorder writing to l (slog.Default() when nil).
func NewLogRecorder(l *slog.Logger, opts ...LogOption) *LogRecorder {
	if l == nil {
		l = slog.Default()
	}
	r := &LogRecorder{l: l, levels: DefaultLevels()}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Attribute keys of the log records.
const (
	KeyPolicy        = "policy"
	KeyOutcome       = "outcome" // success, failure, rejected, fallback
	KeyDuration      = "duration"
	KeyRetryAttempts = "retry_attempts"
	KeyCircuitState  = "circuit_state"
	KeyErrorCode     = "error_code"
	KeyError         = "error"
	KeyCorrelationID = "correlation_id"
	KeyTraceID       = "trace_id"
	KeyState         = "state"
	KeyAttempt       = "attempt"
)

// Outcome values of KeyOutcome.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeRejected = "rejected"
	OutcomeFallback = "fallback" // a fallback served the execution (ExecutionMetrics.Fallback)
)

// RecordExecution logs the execution at Levels.Execution, or at
// Levels.Rejection when a pattern turned it away, with the attributes policy,
// outcome, duration, retry_attempts, and when set circuit_state, error_code,
// error, correlation_id and trace_id.
func (r *LogRecorder) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	level, msg, outcome := r.levels.Execution, MsgExecution, OutcomeFailure
	switch {
	case m.Fallback:
		outcome = OutcomeFallback
	case m.Success:
		outcome = OutcomeSuccess
	case m.ErrorCode.Rejection():
		level, msg, outcome = r.levels.Rejection, MsgRejection, OutcomeRejected
	}
	if !r.l.Enabled(ctx, level) {
		return
	}
	var buf [9]slog.Attr
	a := append(buf[:0],
		slog.String(KeyPolicy, m.PolicyName),
		slog.String(KeyOutcome, outcome),
		slog.Duration(KeyDuration, m.Duration),
		slog.Int(KeyRetryAttempts, m.RetryAttempts),
	)
	if m.CircuitState != "" {
		a = append(a, slog.String(KeyCircuitState, m.CircuitState))
	}
	if m.ErrorCode != "" {
		a = append(a, slog.String(KeyErrorCode, string(m.ErrorCode)))
	}
	if m.Err != nil {
		a = append(a, slog.Any(KeyError, m.Err))
	}
	if m.CorrelationID != "" {
		a = append(a, slog.String(KeyCorrelationID, m.CorrelationID))
	}
	if m.TraceID != "" {
		a = append(a, slog.String(KeyTraceID, m.TraceID))
	}
	r.l.LogAttrs(ctx, level, msg, a...)
}

// RecordCircuitState logs a transition at Levels.CircuitOpen when the state
// is open and Levels.CircuitRecovery otherwise, with policy and state.
func (r *LogRecorder) RecordCircuitState(ctx context.Context, policyName, state string) {
	level := r.levels.CircuitRecovery
	if state == fault.StateOpen {
		level = r.levels.CircuitOpen
	}
	if r.l.Enabled(ctx, level) {
		r.l.LogAttrs(ctx, level, MsgCircuitState, slog.String(KeyPolicy, policyName), slog.String(KeyState, state))
	}
}

// RecordRetryAttempt logs the retry about to run at Levels.Event, with policy
// and attempt.
func (r *LogRecorder) RecordRetryAttempt(ctx context.Context, policyName string, attempt int) {
	if r.l.Enabled(ctx, r.levels.Event) {
		r.l.LogAttrs(ctx, r.levels.Event, MsgRetry, slog.String(KeyPolicy, policyName), slog.Int(KeyAttempt, attempt))
	}
}

// RecordRateLimit logs a limited call at Levels.Event; allowed calls are not
// logged.
func (r *LogRecorder) RecordRateLimit(ctx context.Context, policyName string, limited bool) {
	if limited && r.l.Enabled(ctx, r.levels.Event) {
		r.l.LogAttrs(ctx, r.levels.Event, MsgRateLimited, slog.String(KeyPolicy, policyName))
	}
}

// RecordBulkheadQueue logs a call that had to queue at Levels.Event;
// immediate admissions are not logged.
func (r *LogRecorder) RecordBulkheadQueue(ctx context.Context, policyName string, queued bool) {
	if queued && r.l.Enabled(ctx, r.levels.Event) {
		r.l.LogAttrs(ctx, r.levels.Event, MsgQueued, slog.String(KeyPolicy, policyName))
	}
}
