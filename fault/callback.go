package fault

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"
)

// Callbacks a user hands a pattern (recorders, state-change hooks,
// classifiers, key functions, health checks) may panic, block or call back
// into the pattern. The patterns follow one rule, set out in
// docs/ARCHITECTURE.md ("Callbacks"):
//
//   - a callback that runs after the operation finished (recorder,
//     state-change hook, classifier) never turns the operation's result into a
//     panic: its panic is contained, the pattern's state stays consistent and
//     the first such panic of each callback is logged (once) through the
//     logger the pattern was given, slog.Default() when none;
//   - a callback that decides whether the operation runs at all (a key
//     function) runs before anything is held, so its panic propagates with
//     nothing to release.
//
// SafeRecorder and LogContainedPanic are the two halves of the contained case,
// shared by every pattern module.

// SafeRecorder returns r wrapped so that a panic in any of its methods is
// recovered (the event is lost, the call it reported on goes on normally) and
// the first one is logged at Error level through logger (slog.Default() when
// nil). The wrapper also forwards TimeoutRecorder, BudgetRecorder,
// ThrottleRecorder and HedgeRecorder events when r implements them.
//
// A nil r (also a typed nil) returns nil; NoOpMetricsRecorder and a recorder
// SafeRecorder already wrapped are returned unchanged. Patterns wrap the
// recorder they are configured with; callers never need to.
func SafeRecorder(r MetricsRecorder, logger *slog.Logger) MetricsRecorder {
	if IsNil(r) {
		return nil
	}
	switch r.(type) {
	case NoOpMetricsRecorder, *safeRecorder:
		return r
	}
	s := &safeRecorder{r: r, logger: logger}
	s.tr, _ = r.(TimeoutRecorder)
	s.br, _ = r.(BudgetRecorder)
	s.thr, _ = r.(ThrottleRecorder)
	s.hr, _ = r.(HedgeRecorder)
	return s
}

type safeRecorder struct {
	r        MetricsRecorder
	tr       TimeoutRecorder
	br       BudgetRecorder
	thr      ThrottleRecorder
	hr       HedgeRecorder
	logger   *slog.Logger
	reported atomic.Bool
}

func (s *safeRecorder) contain(method string) {
	if v := recover(); v != nil {
		LogContainedPanic(s.logger, &s.reported, "", "MetricsRecorder."+method, v)
	}
}

func (s *safeRecorder) RecordExecution(ctx context.Context, m ExecutionMetrics) {
	defer s.contain("RecordExecution")
	s.r.RecordExecution(ctx, m)
}

func (s *safeRecorder) RecordCircuitState(ctx context.Context, policyName, state string) {
	defer s.contain("RecordCircuitState")
	s.r.RecordCircuitState(ctx, policyName, state)
}

func (s *safeRecorder) RecordRetryAttempt(ctx context.Context, policyName string, attempt int) {
	defer s.contain("RecordRetryAttempt")
	s.r.RecordRetryAttempt(ctx, policyName, attempt)
}

func (s *safeRecorder) RecordRateLimit(ctx context.Context, policyName string, limited bool) {
	defer s.contain("RecordRateLimit")
	s.r.RecordRateLimit(ctx, policyName, limited)
}

func (s *safeRecorder) RecordBulkheadQueue(ctx context.Context, policyName string, queued bool) {
	defer s.contain("RecordBulkheadQueue")
	s.r.RecordBulkheadQueue(ctx, policyName, queued)
}

func (s *safeRecorder) RecordTimeout(ctx context.Context, policyName, limit string, d time.Duration) {
	if s.tr != nil {
		defer s.contain("RecordTimeout")
		s.tr.RecordTimeout(ctx, policyName, limit, d)
	}
}

func (s *safeRecorder) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	if s.br != nil {
		defer s.contain("RecordBudgetRefusal")
		s.br.RecordBudgetRefusal(ctx, policyName, kind)
	}
}

func (s *safeRecorder) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	if s.thr != nil {
		defer s.contain("RecordThrottle")
		s.thr.RecordThrottle(ctx, policyName, throttled, probability)
	}
}

func (s *safeRecorder) RecordHedge(ctx context.Context, policyName string) {
	if s.hr != nil {
		defer s.contain("RecordHedge")
		s.hr.RecordHedge(ctx, policyName)
	}
}

// Unwrap returns the wrapped recorder.
func (s *safeRecorder) Unwrap() MetricsRecorder { return s.r }

// LogContainedPanic reports a panic v that a pattern recovered from the user
// callback named callback (e.g. "OnStateChange") of the pattern named
// policyName: the first call for a given reported flag logs one Error record
// through logger (slog.Default() when nil); later ones log nothing, so a
// callback that panics on every call cannot flood the log.
func LogContainedPanic(logger *slog.Logger, reported *atomic.Bool, policyName, callback string, v any) {
	if reported != nil && !reported.CompareAndSwap(false, true) {
		return
	}
	if logger == nil {
		logger = slog.Default()
	}
	attrs := make([]slog.Attr, 0, 3)
	if policyName != "" {
		attrs = append(attrs, slog.String("policy", policyName))
	}
	attrs = append(attrs, slog.String("callback", callback), slog.String("panic", fmt.Sprint(v)))
	logger.LogAttrs(context.Background(), slog.LevelError,
		"fault: a callback panicked; the panic was contained (further panics of this callback are not logged)", attrs...)
}

// IsNil reports whether v is nil or an interface holding a nil pointer, map,
// slice, channel or function (a "typed nil"). Constructors that take an
// interface use it to reject typed nils, which pass a plain v == nil check
// and fail later.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
