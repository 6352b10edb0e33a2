package fault

import "context"

type ctxKey int

const (
	correlationIDKey ctxKey = iota
	traceIDKey
)

// WithCorrelationID returns a context carrying the request's correlation ID.
// Resilience errors and ExecutionMetrics created under it pick it up.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationIDKey, id)
}

// CorrelationID returns the correlation ID ctx carries, or "".
func CorrelationID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(correlationIDKey).(string)
	return id
}

// WithTraceID returns a context carrying a trace ID, for services that have
// no tracer wired in (with a Tracer, the span's trace ID is used instead).
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey, id)
}

// TraceID returns the trace ID ctx carries (set by WithTraceID), or "".
func TraceID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(traceIDKey).(string)
	return id
}
