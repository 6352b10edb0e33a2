package otel

import (
	"context"

	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authcorp/libs/go/src/fault"
)

// Span names and span attribute keys.
const (
	// SpanNamePrefix starts every execution span's name: "fault.execute
	// payment-service". Policies beyond the WithMaxPolicies cap share the
	// name SpanNamePrefix alone (their fault.policy attribute still names
	// them).
	SpanNamePrefix = "fault.execute"
	// EventAttempt is the name of the event added per attempt.
	EventAttempt = "fault.attempt"

	AttrAttempt          = attribute.Key("fault.attempt")        // event: the attempt's number, from 1
	AttrRetryAttempts    = attribute.Key("fault.retry.attempts") // span: retries after the first attempt
	AttrRejected         = attribute.Key("fault.rejected")       // span: true when a pattern turned the execution away
	AttrCorrelationID    = attribute.Key("fault.correlation_id") // span: ExecutionMetrics.CorrelationID, when set
	AttrExceptionMessage = attribute.Key("exception.message")    // event: the attempt's error text
)

// Tracer is a fault.Tracer over the OpenTelemetry trace API: one span per
// execution, named "fault.execute <policy>" (kind internal, attribute
// fault.policy), with an event "fault.attempt" per attempt, the execution's
// outcome as attributes, and status Error when it failed. It is safe for
// concurrent use.
type Tracer struct {
	t     trace.Tracer
	names *policies[*spanStart]
}

var _ fault.Tracer = (*Tracer)(nil)

// spanStart is a policy's precomputed span name and start options.
type spanStart struct {
	name string
	opts []trace.SpanStartOption
}

// NewTracer returns a Tracer that starts spans from a tracer of tp named
// ScopeName; a nil tp means the global TracerProvider
// (otel.GetTracerProvider). Of the options, WithMaxPolicies applies.
func NewTracer(tp trace.TracerProvider, opts ...Option) (*Tracer, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if tp == nil {
		tp = otelapi.GetTracerProvider()
	}
	newStart := func(policy string) *spanStart {
		name := SpanNamePrefix + " " + policy
		if policy == OverflowPolicy {
			name = SpanNamePrefix
		}
		return &spanStart{name: name, opts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(AttrPolicy.String(policy)),
		}}
	}
	return &Tracer{t: tp.Tracer(ScopeName), names: newPolicies(c.maxPolicies, newStart)}, nil
}

// Start starts the execution's span as a child of ctx's span and returns the
// context carrying it.
func (t *Tracer) Start(ctx context.Context, policyName string) (context.Context, fault.Span) {
	ctx = orBackground(ctx)
	s := t.names.get(policyName)
	ctx, sp := t.t.Start(ctx, s.name, s.opts...)
	if s.name == SpanNamePrefix && policyName != OverflowPolicy {
		sp.SetAttributes(AttrPolicy.String(policyName))
	}
	return ctx, span{sp}
}

// span is one execution's span.
type span struct{ s trace.Span }

// TraceID returns the span's trace ID in hex, or "" when it has none (a
// no-op TracerProvider).
func (s span) TraceID() string {
	sc := s.s.SpanContext()
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// attemptOK holds the event options of successful attempts 1 to 8, built
// once.
var attemptOK = func() (o [9][]trace.EventOption) {
	for n := 1; n < len(o); n++ {
		o[n] = []trace.EventOption{trace.WithAttributes(AttrAttempt.Int(n), AttrOutcome.String(OutcomeSuccess))}
	}
	return o
}()

// errorType is the error.type attribute value of err: the lower-case
// resilience code, or ErrorTypeOther for an error without one.
func errorType(err error) string {
	m := fault.ExecutionMetrics{}.WithError(err)
	return classAttrs[classOf(&m)][1].Value.AsString()
}

// Attempt adds the event "fault.attempt" with the attempt's number, its
// outcome and, when it failed, error.type and exception.message.
func (s span) Attempt(attempt int, err error) {
	if !s.s.IsRecording() {
		return
	}
	if err == nil {
		if attempt > 0 && attempt < len(attemptOK) {
			s.s.AddEvent(EventAttempt, attemptOK[attempt]...)
			return
		}
		s.s.AddEvent(EventAttempt, trace.WithAttributes(AttrAttempt.Int(attempt), AttrOutcome.String(OutcomeSuccess)))
		return
	}
	outcome := OutcomeFailure
	if fault.CodeOf(err).Rejection() {
		outcome = OutcomeRejected
	}
	s.s.AddEvent(EventAttempt, trace.WithAttributes(
		AttrAttempt.Int(attempt),
		AttrOutcome.String(outcome),
		AttrErrorType.String(errorType(err)),
		AttrExceptionMessage.String(err.Error()),
	))
}

// End sets the execution's attributes (fault.outcome, fault.retry.attempts,
// and when they apply fault.circuit.state, error.type, fault.rejected with
// fault.reason, fault.fallback, fault.correlation_id), sets status Error with
// the error's text when the execution failed or was rejected (or a fallback
// served it and returned an error), and ends the span.
func (s span) End(m fault.ExecutionMetrics) {
	if !s.s.IsRecording() {
		s.s.End()
		return
	}
	c := classOf(&m)
	var buf [8]attribute.KeyValue
	a := append(buf[:0], classAttrs[c]...)
	a = append(a, AttrRetryAttempts.Int(m.RetryAttempts))
	if m.CircuitState != "" {
		a = append(a, AttrCircuitState.String(m.CircuitState))
	}
	if c >= firstRejection {
		a = append(a, AttrRejected.Bool(true), rejectionAttrs[c-firstRejection][1])
	}
	if m.CorrelationID != "" {
		a = append(a, AttrCorrelationID.String(m.CorrelationID))
	}
	s.s.SetAttributes(a...)
	if c != clSuccess && (c != clFallback || m.Err != nil) {
		desc := ""
		if m.Err != nil {
			desc = m.Err.Error()
		}
		s.s.SetStatus(codes.Error, desc)
	}
	s.s.End()
}
