// Package metrics has the fault.MetricsRecorder implementations that need
// nothing beyond the standard library: an in-memory Recorder with snapshots
// and expvar publication, a LogRecorder over log/slog, a FanOut that sends
// events to several recorders, and Async, which puts a bounded queue between
// the caller and a recorder that may block.
//
// # What gets recorded
//
// The executor reports one fault.ExecutionMetrics per execution
// (RecordExecution) and the patterns report their events: breaker transitions
// (RecordCircuitState), retries about to run (RecordRetryAttempt), rate-limit
// decisions (RecordRateLimit) and bulkhead admissions (RecordBulkheadQueue);
// through the optional interfaces, retries and hedges a budget refused
// (fault.BudgetRecorder), throttle decisions (fault.ThrottleRecorder) and
// hedges started (fault.HedgeRecorder). Every execution has exactly one
// outcome:
//
//   - success: ExecutionMetrics.Success is true and no fallback served it;
//   - rejected: a pattern turned it away without running the operation, that
//     is its ErrorCode is one for which fault.ErrorCode.Rejection is true
//     (fault.ErrCodeCircuitOpen, ErrCodeRateLimited, ErrCodeBulkheadFull,
//     ErrCodeThrottled); the code is the reason;
//   - failure: anything else, including timeouts (fault.ErrCodeTimeout: the
//     operation ran and was cut off), exhausted retries and the operation's
//     own errors. Timeouts are also counted on their own.
//
// An execution a fallback served (ExecutionMetrics.Fallback) is never a
// success: the Recorder counts it as a failure or a rejection and also in
// Fallbacks.
//
// # Cardinality
//
// The policy name is the only free-form label; everything else is a fixed
// enum (outcome, rejection reason, circuit state). The Recorder keeps at most
// WithMaxPolicies distinct names (DefaultMaxPolicies) and counts the rest
// together under OverflowPolicy, so a caller that puts request data into
// policy names cannot make it grow without bound. The LogRecorder writes the
// name as an attribute value and has no such concern.
//
// # Cost
//
// Recording an execution in the Recorder takes no lock and allocates nothing
// once the policy has been seen: the policy's counters are found in a
// copy-on-write map read through an atomic pointer and updated with atomic
// adds (one for the outcome, one for the duration sum, one for the histogram
// bucket). Each policy's counters sit on cache lines of their own. On
// machines where many CPUs record the same policy at once, WithStripes
// spreads a policy's counters over per-CPU stripes. See the README for
// figures.
//
// # Log records
//
// The LogRecorder writes these records, at the levels of DefaultLevels unless
// WithLevels says otherwise:
//
//	message                      level  attributes
//	"fault execution"            Debug  policy outcome duration retry_attempts [circuit_state error_code error correlation_id trace_id]
//	"fault rejection"            Info   the same, outcome "rejected"
//	"fault circuit state"        Warn when open, Info for half-open and closed; policy state
//	"fault retry"                Debug  policy attempt
//	"fault rate limited"         Debug  policy
//	"fault bulkhead queued"      Debug  policy
//	"fault retry budget refused" Info   policy kind
//	"fault throttled"            Debug  policy probability
//	"fault hedge"                Debug  policy
//
// An execution a fallback served is logged with outcome "fallback". Allowed
// rate-limit decisions, immediate bulkhead admissions and admitted throttle
// decisions are not logged.
//
// # Panics and blocking
//
// FanOut calls each recorder in turn and recovers a recorder's panic, so one
// broken recorder neither reaches the caller nor stops the others. It does
// not protect against a recorder that blocks: wrap such a recorder in an
// Async, whose Record methods never wait (a full queue drops the event and
// counts it).
//
// # API
//
// [New] builds the in-memory [Recorder] (snapshots: [Snapshot],
// [PolicySnapshot]); [NewLogRecorder] logs through log/slog; [NewFanOut]
// sends to several recorders; [NewAsync] queues in front of a slow one.
package metrics
