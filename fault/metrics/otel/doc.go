// Package otel reports fault's executions and pattern events to
// OpenTelemetry: Recorder is a fault.MetricsRecorder over the metric API and
// Tracer a fault.Tracer over the trace API. It is a module of its own, so
// that OpenTelemetry reaches only the programs that import it.
//
// Wire both into the executor's config; the MeterProvider and
// TracerProvider are the application's (the SDK's, with its exporters):
//
//	rec, err := otel.NewRecorder(meterProvider)
//	tr, err := otel.NewTracer(tracerProvider)
//	cfg := fault.DefaultExecutorConfig()
//	cfg.MetricsRecorder, cfg.Tracer = rec, tr
//
// # Metrics
//
// All instruments come from the meter named ScopeName:
//
//	name                       kind                   unit          attributes
//	fault.execution.duration   Float64Histogram       s             fault.policy fault.outcome [error.type]
//	fault.execution.count      Int64Counter           {execution}   fault.policy fault.outcome [error.type]
//	fault.rejections           Int64Counter           {rejection}   fault.policy fault.pattern fault.reason
//	fault.retry.attempts       Int64Counter           {attempt}     fault.policy fault.pattern=retry
//	fault.circuit.state        Int64ObservableGauge   {state}       fault.policy fault.pattern=circuit_breaker
//	fault.circuit.transitions  Int64Counter           {transition}  fault.policy fault.pattern=circuit_breaker fault.circuit.state
//	fault.ratelimit.requests   Int64Counter           {request}     fault.policy fault.pattern=rate_limit fault.ratelimit.result
//	fault.bulkhead.requests    Int64Counter           {request}     fault.policy fault.pattern=bulkhead fault.bulkhead.result
//	fault.budget.refusals      Int64Counter           {attempt}     fault.policy fault.pattern (retry or hedge)
//	fault.throttle.rejections  Int64Counter           {attempt}     fault.policy fault.pattern=throttle
//	fault.throttle.probability Float64ObservableGauge 1             fault.policy fault.pattern=throttle
//	fault.hedges               Int64Counter           {attempt}     fault.policy fault.pattern=hedge
//
// fault.outcome is success, failure, rejected or fallback. An execution is
// rejected when its ErrorCode is one for which fault.ErrorCode.Rejection is
// true; fault.reason (circuit_open, rate_limited, bulkhead_full, throttled)
// then says why. An execution a fallback served (ExecutionMetrics.Fallback)
// is fallback, with fault.fallback=true, whatever its error: a substitute
// answer is never a success. error.type, set on failures and rejections
// only, is the lower-case resilience code (timeout, retry_exhausted,
// shutting_down, invalid_policy, circuit_open, rate_limited, bulkhead_full,
// throttled), or _OTHER for the operation's own error. fault.circuit.state is one series per policy whose value is the
// state: 0 closed, 1 half-open, 2 open (GaugeClosed, GaugeHalfOpen,
// GaugeOpen); a policy appears once a breaker reported a state.
// fault.ratelimit.result is acquired or limited, fault.bulkhead.result
// immediate or queued. Durations are recorded in seconds, in the buckets of
// DefaultDurationBoundaries unless WithDurationBoundaries (or a View) says
// otherwise.
//
// # Cardinality
//
// fault.policy is the only free-form attribute; every other attribute is a
// fixed enum, so a policy has at most 11 execution series, 4 rejection
// series, 1 retry series, 1 gauge series, 3 transition series, 2 each for
// the limiter, the bulkhead and the budget, and 1 each for throttle
// rejections, the throttle's probability and hedges. Policy names beyond WithMaxPolicies
// (DefaultMaxPolicies) are reported as OverflowPolicy. Attribute sets are
// built once per policy, so recording allocates nothing of its own.
//
// # Traces
//
// The Tracer starts one span per execution, named "fault.execute <policy>"
// (kind internal, attribute fault.policy), as a child of the caller's span.
// Each attempt adds an event "fault.attempt" with fault.attempt (the
// attempt's number from 1), fault.outcome and, when it failed, error.type
// and exception.message. End sets fault.outcome, fault.retry.attempts and,
// when they apply, error.type, fault.circuit.state, fault.rejected=true with
// fault.reason, fault.fallback=true, and fault.correlation_id; a failed or
// rejected execution gets status Error with the error's text, and so does
// one a fallback served when the fallback returned an error. Span.TraceID returns the trace ID
// in hex, which the executor copies into ExecutionMetrics.TraceID.
//
// # API
//
// [NewRecorder] builds a [Recorder], a fault.MetricsRecorder over the
// OpenTelemetry metric API; [NewTracer] a [Tracer], a fault.Tracer over its
// trace API.
package otel
