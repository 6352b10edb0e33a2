package executor

import (
	"context"
	"log/slog"

	"github.com/authcorp/libs/go/src/fault"
)

// logFailure logs a failed execution: rejections (circuit open, rate
// limited, bulkhead full) at Debug, since they come in floods while a
// dependency is down and the breaker's state change is already logged at
// Warn; time limits and exhausted retries at Info; the operation's own errors
// are the caller's to log and are not logged here.
func logFailure(ctx context.Context, env *env, name string, err error) {
	code := fault.CodeOf(err)
	var level slog.Level
	switch {
	case code.Rejection():
		level = slog.LevelDebug
	case code == fault.ErrCodeTimeout || code == fault.ErrCodeRetryExhausted:
		level = slog.LevelInfo
	default:
		return
	}
	logExecution(ctx, env, level, "fault: execution failed", name, code, "error", err)
}

// logFallback logs an execution a fallback served, with the failure it
// answered.
func logFallback(ctx context.Context, env *env, name string, cause error) {
	logExecution(ctx, env, slog.LevelInfo, "fault: fallback served", name, fault.CodeOf(cause), "cause", cause)
}

// logExecution writes one line about an execution: the policy, the code,
// err under errKey, and the correlation and trace IDs. Empty attributes are
// left out: no correlation_id="" on every line.
func logExecution(ctx context.Context, env *env, level slog.Level, msg, name string, code fault.ErrorCode, errKey string, err error) {
	if !env.logger.Enabled(ctx, level) {
		return
	}
	var buf [5]slog.Attr
	attrs := append(buf[:0], slog.String("policy", name), slog.String("code", string(code)), slog.String(errKey, err.Error()))
	if id := fault.CorrelationID(ctx); id != "" {
		attrs = append(attrs, slog.String("correlation_id", id))
	}
	if id := fault.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	env.logger.LogAttrs(ctx, level, msg, attrs...)
}
