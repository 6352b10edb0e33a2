package fault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
)

// every constructor, the codes and statuses it must carry.
func allErrors() []struct {
	err     error
	code    fault.ErrorCode
	app     apperrors.Code
	status  int
	pattern string
} {
	return []struct {
		err     error
		code    fault.ErrorCode
		app     apperrors.Code
		status  int
		pattern string
	}{
		{fault.NewCircuitOpenError("svc", "c1", time.Now(), time.Second, 0.5), fault.ErrCodeCircuitOpen, apperrors.ErrCodeUnavailable, 503, fault.PatternCircuitBreaker},
		{fault.NewRateLimitError("svc", "c1", time.Second, 10, time.Second, 5), fault.ErrCodeRateLimited, apperrors.ErrCodeTooManyRequests, 429, fault.PatternRateLimit},
		{fault.NewTimeoutError("svc", "c1", time.Second, fault.TimeoutAttempt), fault.ErrCodeTimeout, apperrors.ErrCodeTimeout, 504, fault.PatternTimeout},
		{fault.NewBulkheadFullError("svc", "c1", fault.BulkheadQueueFull, 10, 5, time.Second), fault.ErrCodeBulkheadFull, apperrors.ErrCodeUnavailable, 503, fault.PatternBulkhead},
		{fault.NewRetryExhaustedError("svc", "c1", 3, time.Second, []error{errors.New("x")}), fault.ErrCodeRetryExhausted, apperrors.ErrCodeBadGateway, 502, fault.PatternRetry},
		{fault.NewInvalidPolicyError("svc", "Retry.Multiplier", -1.0, "must be >= 1"), fault.ErrCodeInvalidPolicy, apperrors.ErrCodeInternal, 500, ""},
		{fault.NewShuttingDownError("svc", "c1"), fault.ErrCodeShuttingDown, apperrors.ErrCodeUnavailable, 503, fault.PatternShutdown},
		{fault.NewResilienceError(fault.ErrCodeCircuitOpen, "svc", "circuit breaker is open", "circuit_breaker"), fault.ErrCodeCircuitOpen, apperrors.ErrCodeUnavailable, 503, fault.PatternCircuitBreaker},
	}
}

func TestErrorsMatchByCodeStatusAndType(t *testing.T) {
	for _, c := range allErrors() {
		t.Run(string(c.code), func(t *testing.T) {
			wrapped := fmt.Errorf("calling payments: %w", c.err)
			if !errors.Is(wrapped, &fault.ResilienceError{Code: c.code}) {
				t.Error("errors.Is by resilience code failed")
			}
			for _, other := range allErrors() {
				if other.code != c.code && errors.Is(wrapped, &fault.ResilienceError{Code: other.code}) {
					t.Errorf("matched foreign code %s", other.code)
				}
			}
			if !errors.Is(wrapped, &apperrors.AppError{Code: c.app}) {
				t.Errorf("errors.Is by AppError code %s failed", c.app)
			}
			var re *fault.ResilienceError
			if !errors.As(wrapped, &re) || re.Code != c.code || re.Service != "svc" || re.Pattern != c.pattern {
				t.Fatalf("errors.As *ResilienceError = %+v", re)
			}
			if re.Timestamp.IsZero() {
				t.Error("no timestamp")
			}
			var ae *apperrors.AppError
			if !errors.As(wrapped, &ae) || ae.Code != c.app {
				t.Errorf("errors.As *AppError = %v", ae)
			}
			if got := apperrors.HTTPStatusOf(wrapped); got != c.status {
				t.Errorf("HTTPStatusOf = %d, want %d", got, c.status)
			}
			if got := re.HTTPStatus(); got != c.status {
				t.Errorf("HTTPStatus = %d, want %d", got, c.status)
			}
			if fault.CodeOf(wrapped) != c.code {
				t.Errorf("CodeOf = %q", fault.CodeOf(wrapped))
			}
			if msg := wrapped.Error(); !strings.Contains(msg, string(c.code)) || !strings.Contains(msg, `"svc"`) {
				t.Errorf("Error() = %q, want code and service", msg)
			}
		})
	}
}

func TestSpecificTypesReachableWithAs(t *testing.T) {
	var (
		co *fault.CircuitOpenError
		rl *fault.RateLimitError
		to *fault.TimeoutError
		bf *fault.BulkheadFullError
		re *fault.RetryExhaustedError
		ip *fault.InvalidPolicyError
	)
	wrap := func(err error) error { return fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", err)) }
	if !errors.As(wrap(fault.NewCircuitOpenError("s", "", time.Time{}, 3*time.Second, 0.5)), &co) || co.ResetAfter != 3*time.Second || co.RetryAfter != 3*time.Second {
		t.Errorf("CircuitOpenError: %+v", co)
	}
	if !errors.As(wrap(fault.NewRateLimitError("s", "", 2*time.Second, 100, time.Minute, 10)), &rl) || rl.RetryAfter != 2*time.Second || rl.Rate != 100 {
		t.Errorf("RateLimitError: %+v", rl)
	}
	if !errors.As(wrap(fault.NewTimeoutError("s", "", time.Second, fault.TimeoutTotal)), &to) || to.Limit != fault.TimeoutTotal {
		t.Errorf("TimeoutError: %+v", to)
	}
	if !errors.As(wrap(fault.NewBulkheadFullError("s", "", fault.BulkheadQueueTimeout, 1, 2, time.Second)), &bf) || bf.Reason != fault.BulkheadQueueTimeout {
		t.Errorf("BulkheadFullError: %+v", bf)
	}
	if !errors.As(wrap(fault.NewRetryExhaustedError("s", "", 3, time.Second, nil)), &re) || re.Attempts != 3 {
		t.Errorf("RetryExhaustedError: %+v", re)
	}
	if !errors.As(wrap(fault.NewInvalidPolicyError("p", "Bulkhead.MaxConcurrent", 0, "must be >= 1")), &ip) || ip.Field != "Bulkhead.MaxConcurrent" {
		t.Errorf("InvalidPolicyError: %+v", ip)
	}
}

func TestTimeoutErrorMatchesDeadlineExceeded(t *testing.T) {
	err := fault.NewTimeoutError("s", "", time.Second, fault.TimeoutAttempt)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("TimeoutError must match context.DeadlineExceeded")
	}
	if err.HTTPStatus() != http.StatusGatewayTimeout {
		t.Fatal(err.HTTPStatus())
	}
}

func TestRetryExhaustedUnwrapsToLastError(t *testing.T) {
	first, last := errors.New("first"), errors.New("last")
	err := fault.NewRetryExhaustedError("s", "c", 2, time.Second, []error{first, last})
	if !errors.Is(err, last) {
		t.Fatal("errors.Is(err, last) = false")
	}
	if err.CorrelationID != "c" || len(err.LastErrors) != 2 {
		t.Fatalf("%+v", err)
	}
}

func TestShuttingDownIsDistinctFromOtherUnavailable(t *testing.T) {
	if errors.Is(fault.NewCircuitOpenError("s", "", time.Time{}, 0, 0), fault.ErrShuttingDown) {
		t.Fatal("an open circuit must not match ErrShuttingDown")
	}
	if !errors.Is(fmt.Errorf("x: %w", fault.NewShuttingDownError("s", "")), fault.ErrShuttingDown) {
		t.Fatal("shutting-down error must match ErrShuttingDown")
	}
}

func TestNegativeDurationsClamped(t *testing.T) {
	co := fault.NewCircuitOpenError("s", "", time.Time{}, -time.Second, 0)
	rl := fault.NewRateLimitError("s", "", -time.Second, 1, time.Second, 1)
	if co.ResetAfter != 0 || co.RetryAfter != 0 || rl.RetryAfter != 0 {
		t.Fatalf("negative retry-after leaked: %v %v %v", co.ResetAfter, co.RetryAfter, rl.RetryAfter)
	}
}

type hinted struct{ d time.Duration }

func (h hinted) Error() string             { return "hinted" }
func (h hinted) RetryAfter() time.Duration { return h.d }

func TestRetryAfter(t *testing.T) {
	cases := []struct {
		err  error
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{errors.New("plain"), 0, false},
		{fault.NewRateLimitError("s", "", 2*time.Second, 1, time.Second, 1), 2 * time.Second, true},
		{fmt.Errorf("w: %w", fault.NewCircuitOpenError("s", "", time.Time{}, 5*time.Second, 0)), 5 * time.Second, true},
		{fmt.Errorf("w: %w", hinted{time.Minute}), time.Minute, true},
		{hinted{-time.Minute}, 0, false},
		{fault.NewBulkheadFullError("s", "", fault.BulkheadQueueFull, 1, 0, 0), 0, false},
	}
	for _, c := range cases {
		d, ok := fault.RetryAfter(c.err)
		if d != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%v) = %v, %v; want %v, %v", c.err, d, ok, c.want, c.ok)
		}
	}
}

func TestNilAndZeroErrorsDoNotPanic(t *testing.T) {
	var re *fault.ResilienceError
	_ = re.Error()
	_ = re.Unwrap()
	_ = re.HTTPStatus()
	_ = re.Is(&fault.ResilienceError{})
	zero := &fault.ResilienceError{Code: fault.ErrCodeCircuitOpen}
	if zero.Error() != "CIRCUIT_OPEN" {
		t.Errorf("zero Error() = %q", zero.Error())
	}
	if errors.Is(zero, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
		t.Error("a ResilienceError without AppError matched an AppError code")
	}
	if fault.CodeOf(nil) != "" || fault.CodeOf(errors.New("x")) != "" {
		t.Error("CodeOf of non-resilience errors")
	}
}

func TestRejectionCodes(t *testing.T) {
	for code, want := range map[fault.ErrorCode]bool{
		fault.ErrCodeCircuitOpen: true, fault.ErrCodeRateLimited: true, fault.ErrCodeBulkheadFull: true,
		fault.ErrCodeTimeout: false, fault.ErrCodeRetryExhausted: false, fault.ErrCodeInvalidPolicy: false, "": false,
	} {
		if code.Rejection() != want {
			t.Errorf("%q.Rejection() = %v", code, !want)
		}
	}
}

func BenchmarkNewCircuitOpenError(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = fault.NewCircuitOpenError("payment-service", "", now, time.Second, 0.5)
	}
}

func TestConstructorsAllocateOnce(t *testing.T) {
	now := time.Now()
	for name, f := range map[string]func(){
		"CircuitOpen": func() { _ = fault.NewCircuitOpenError("s", "", now, time.Second, 0) },
		"RateLimit":   func() { _ = fault.NewRateLimitError("s", "", time.Second, 1, time.Second, 1) },
		"Timeout":     func() { _ = fault.NewTimeoutError("s", "", time.Second, fault.TimeoutAttempt) },
		"Bulkhead":    func() { _ = fault.NewBulkheadFullError("s", "", fault.BulkheadQueueFull, 1, 0, 0) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 1 {
			t.Errorf("%s: %v allocations, want 1", name, n)
		}
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad request")
	if fault.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	p := fault.Permanent(base)
	wrapped := fmt.Errorf("x: %w", p)
	if !fault.IsPermanent(wrapped) || !errors.Is(wrapped, base) || p.Error() != "bad request" {
		t.Fatalf("%v", wrapped)
	}
	if fault.IsPermanent(base) {
		t.Fatal("unmarked error reported permanent")
	}
	var pe *fault.PermanentError
	if !errors.As(wrapped, &pe) || pe.Err != base {
		t.Fatal("errors.As *PermanentError")
	}
}

// A section's problems name the policy when the section is validated as
// part of its policy, the one path that knows the name.
func TestSectionErrorsNameThePolicy(t *testing.T) {
	err := fault.PolicyConfig{Name: "orders", Retry: &fault.RetryPolicyConfig{Multiplier: -1}}.Validate()
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || ip.Service != "orders" || ip.Field != "Retry.Multiplier" {
		t.Fatalf("%v", err)
	}
	for _, err := range []error{
		fault.PolicyConfig{Name: "p", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: -1}}.Validate(),
		fault.PolicyConfig{Name: "p", Timeout: &fault.TimeoutPolicyConfig{Timeout: -1}}.Validate(),
		fault.PolicyConfig{Name: "p", RateLimit: &fault.RateLimitPolicyConfig{}}.Validate(),
		fault.PolicyConfig{Name: "p", Bulkhead: &fault.BulkheadPolicyConfig{}}.Validate(),
	} {
		if !errors.As(err, &ip) || ip.Service != "p" {
			t.Errorf("%v", err)
		}
	}
	// Alone, a section's problems name no policy.
	if err := (fault.RetryPolicyConfig{Multiplier: -1}).Validate(); !errors.As(err, &ip) || ip.Service != "" || ip.Field != "Retry.Multiplier" {
		t.Errorf("%v", err)
	}
}

func TestRetryExhaustedBudgetRefused(t *testing.T) {
	last := errors.New("boom")
	e := fault.NewRetryExhaustedError("svc", "", 1, 0, []error{last})
	if errors.Is(e, fault.ErrBudgetExhausted) {
		t.Fatal("an exhausted retry matches ErrBudgetExhausted without BudgetRefused")
	}
	e.BudgetRefused = true
	err := fmt.Errorf("wrapped: %w", e)
	if !errors.Is(err, fault.ErrBudgetExhausted) || !errors.Is(err, last) ||
		!errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRetryExhausted}) ||
		!errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeBadGateway}) {
		t.Fatalf("a budget-refused RetryExhaustedError must match the sentinel, its cause and its codes: %v", err)
	}
	var re *fault.RetryExhaustedError
	if !errors.As(err, &re) || !re.BudgetRefused {
		t.Fatal("errors.As must reach the RetryExhaustedError")
	}
}

// Messages round the durations people read to the millisecond; the fields
// keep the exact values.
func TestRuleMessagesRoundDurations(t *testing.T) {
	d := 29*time.Second + 999997725*time.Nanosecond
	e := fault.NewRateLimitError("api", "", d, 10, time.Minute, 10)
	if msg := e.Error(); !strings.Contains(msg, "retry after 30s") {
		t.Errorf("message %q, want the retry-after rounded to 30s", msg)
	}
	if e.RetryAfter != d {
		t.Errorf("RetryAfter = %v, want the exact %v", e.RetryAfter, d)
	}
	e = fault.NewRateLimitError("api", "", 1500*time.Nanosecond, 10, time.Minute, 10)
	if msg := e.Error(); !strings.Contains(msg, "retry after 2µs") {
		t.Errorf("message %q, want a sub-millisecond retry-after rounded to the microsecond", msg)
	}
}

// CodeOf answers the library's own errors, unwrapped, without allocating
// (classifiers and fallback predicates ask on every failure), and gives the
// same code as errors.As does for them, unwrapped and wrapped.
func TestCodeOfOwnErrorsAllocatesNothing(t *testing.T) {
	errs := []error{
		fault.NewResilienceError(fault.ErrCodeTimeout, "svc", "m", fault.PatternTimeout),
		fault.NewShuttingDownError("svc", ""),
		fault.NewCircuitOpenError("svc", "", time.Now(), time.Second, 0.5),
		fault.NewRateLimitError("svc", "", time.Second, 10, time.Second, 10),
		fault.NewTimeoutError("svc", "", time.Second, fault.TimeoutAttempt),
		fault.NewBulkheadFullError("svc", "", fault.BulkheadQueueFull, 1, 0, 0),
		fault.NewRetryExhaustedError("svc", "", 3, time.Second, nil),
		fault.NewThrottledError("svc", "", 0.5, time.Second),
		fault.NewInvalidPolicyError("svc", "Field", 1, "rule"),
	}
	for _, err := range errs {
		var re *fault.ResilienceError
		if !errors.As(err, &re) {
			t.Fatalf("%T: errors.As found no *ResilienceError", err)
		}
		if got := fault.CodeOf(err); got != re.Code || got == "" {
			t.Errorf("CodeOf(%T) = %q, want %q", err, got, re.Code)
		}
		if got := fault.CodeOf(fmt.Errorf("wrapped: %w", err)); got != re.Code {
			t.Errorf("CodeOf(wrapped %T) = %q, want %q", err, got, re.Code)
		}
		if _, ok := err.(*fault.InvalidPolicyError); ok {
			continue // not on a hot path: answered through errors.As
		}
		if a := testing.AllocsPerRun(100, func() { _ = fault.CodeOf(err) }); a != 0 {
			t.Errorf("CodeOf(%T) allocates %.0f times, want 0", err, a)
		}
	}
}
