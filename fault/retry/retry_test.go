package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// fixed is a plain schedule: 4 attempts, 100ms doubling, no jitter.
func fixed() retry.Config {
	return retry.Config{
		Name:            "svc",
		MaxAttempts:     4,
		InitialInterval: 100 * time.Millisecond,
		MaxInterval:     time.Second,
		Multiplier:      2,
		Jitter:          fault.JitterNone,
	}
}

// same reports whether a and b are the very same error: "passed through
// unchanged" means identity, not a match.
func same(a, b error) bool { return a == b }

func mustNew(t testing.TB, cfg retry.Config) *retry.Retry {
	t.Helper()
	r, err := retry.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// instants runs op under r and returns the fake-time offsets of each attempt.
func instants(t *testing.T, ctx context.Context, r *retry.Retry, fail func(n int) error) ([]time.Duration, time.Duration, error) {
	t.Helper()
	start := time.Now()
	var at []time.Duration
	err := r.Run(ctx, func(context.Context) error {
		at = append(at, time.Since(start))
		return fail(len(at))
	})
	return at, time.Since(start), err
}

func TestExactSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, fixed())
		at, took, err := instants(t, context.Background(), r, func(int) error { return errBoom })
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("attempts at %v, want %v", at, want)
		}
		if took != 700*time.Millisecond {
			t.Errorf("returned after %v, want exactly 700ms (no sleep after the last attempt)", took)
		}
		var ex *fault.RetryExhaustedError
		if !errors.As(err, &ex) {
			t.Fatalf("error = %v, want *fault.RetryExhaustedError", err)
		}
		if ex.Attempts != 4 || ex.TotalTime != 700*time.Millisecond || len(ex.LastErrors) != 4 {
			t.Errorf("Attempts=%d TotalTime=%v len(LastErrors)=%d, want 4, 700ms, 4", ex.Attempts, ex.TotalTime, len(ex.LastErrors))
		}
		if !errors.Is(err, errBoom) || ex.Service != "svc" || ex.HTTPStatus() != 502 {
			t.Errorf("err %v: Is(boom)=%v Service=%q status=%d", err, errors.Is(err, errBoom), ex.Service, ex.HTTPStatus())
		}
		if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRetryExhausted}) {
			t.Errorf("error does not match RETRY_EXHAUSTED: %v", err)
		}
	})
}

func TestSucceedsOnThirdAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, fixed())
		at, took, err := instants(t, context.Background(), r, func(n int) error {
			if n < 3 {
				return errBoom
			}
			return nil
		})
		if err != nil || len(at) != 3 || took != 300*time.Millisecond {
			t.Errorf("err=%v attempts=%v took=%v, want nil, 3 attempts, 300ms", err, at, took)
		}
	})
}

func TestDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{Jitter: fault.JitterNone})
		c := r.Config()
		if c.MaxAttempts != fault.DefaultMaxAttempts || c.InitialInterval != fault.DefaultInitialInterval ||
			c.MaxInterval != fault.DefaultMaxInterval || c.Multiplier != fault.DefaultMultiplier || c.MaxElapsed != 0 {
			t.Errorf("effective config %+v does not carry fault's defaults", c)
		}
		if got := mustNew(t, retry.Config{}).Config().Jitter; got != fault.DefaultJitter {
			t.Errorf("default jitter %q, want %q", got, fault.DefaultJitter)
		}
		at, _, _ := instants(t, context.Background(), r, func(int) error { return errBoom })
		if fmt.Sprint(at) != "[0s 100ms 300ms]" {
			t.Errorf("default schedule %v, want [0s 100ms 300ms]", at)
		}
	})
}

func TestCancelDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(50*time.Millisecond, cancel)
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error {
			<-ctx.Done()
			return fmt.Errorf("dial: %w", ctx.Err())
		})
		if !errors.Is(err, context.Canceled) || len(at) != 1 || took != 50*time.Millisecond {
			t.Errorf("err=%v attempts=%d took=%v, want Canceled after 1 attempt at 50ms", err, len(at), took)
		}
		var ex *fault.RetryExhaustedError
		if errors.As(err, &ex) {
			t.Errorf("caller cancellation reported as exhaustion: %v", err)
		}
	})
}

func TestCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(150*time.Millisecond, cancel) // during the 200ms wait after attempt 2
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { return errBoom })
		if len(at) != 2 || took != 150*time.Millisecond {
			t.Errorf("attempts=%v took=%v, want 2 attempts and a return at 150ms", at, took)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
			t.Errorf("error %v should match context.Canceled and the last attempt's error", err)
		}
		if !strings.Contains(err.Error(), "waiting to retry") {
			t.Errorf("error %q should say it was waiting", err)
		}
	})
}

func TestCancelCauseIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("client went away")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
		r := mustNew(t, fixed())
		_, _, err := instants(t, ctx, r, func(int) error { return errBoom })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) || !errors.Is(err, errBoom) {
			t.Errorf("error %v should match Canceled, the cause and the last error", err)
		}
	})
}

// A context already done at the start never runs the operation: the error
// is ctx.Err() itself.
func TestAlreadyCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { return errBoom })
		if err != context.Canceled || len(at) != 0 || took != 0 {
			t.Errorf("err=%v attempts=%d took=%v, want context.Canceled itself, no attempt, 0s", err, len(at), took)
		}
	})
}

// The caller's context ending after an attempt that hit its own time limit
// gives the caller's context error, never the attempt's: a cancelled caller
// must not match context.DeadlineExceeded nor find a *fault.TimeoutError
// (and CodeOf says nothing), and a caller whose deadline passed finds no
// TimeoutError either. The attempt's error stays in the message.
// Regression: the last error was wrapped with %w, so a cancellation during
// the wait after a timed-out attempt matched DeadlineExceeded, errors.As
// found the TimeoutError and CodeOf said TIMEOUT.
func TestCallerEndAfterTimedOutAttemptIsNotATimeout(t *testing.T) {
	attemptTimeout := func() error { return fault.NewTimeoutError("svc", "", time.Second, fault.TimeoutAttempt) }
	check := func(t *testing.T, err, want error) {
		t.Helper()
		other := context.DeadlineExceeded
		if want == context.DeadlineExceeded {
			other = context.Canceled
		}
		var te *fault.TimeoutError
		if !errors.Is(err, want) || errors.Is(err, other) || errors.As(err, &te) || fault.CodeOf(err) != "" {
			t.Errorf("err %v: want it to match %v only, with no TimeoutError or resilience code", err, want)
		}
		if !strings.Contains(err.Error(), "attempt time limit exceeded") {
			t.Errorf("err %q lost the attempt's error text", err)
		}
	}
	t.Run("cancelled while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(50*time.Millisecond, cancel)
			_, _, err := instants(t, ctx, mustNew(t, fixed()), func(int) error { return attemptTimeout() })
			check(t, err, context.Canceled)
		})
	})
	t.Run("cancelled as the attempt timed out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, _, err := instants(t, ctx, mustNew(t, fixed()), func(int) error { cancel(); return attemptTimeout() })
			check(t, err, context.Canceled)
		})
	})
	t.Run("caller deadline while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// the deadline is hidden from the retry (no early stop), as a
			// context cancelled by a deadline elsewhere would be
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, _, err := instants(t, hiddenDeadline{ctx}, mustNew(t, fixed()), func(int) error { return attemptTimeout() })
			check(t, err, context.DeadlineExceeded)
		})
	})
}

type hiddenDeadline struct{ context.Context }

func (hiddenDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// An attempt that fails with DeadlineExceeded of its own (an inner time
// limit) is retried: only the caller's context ending stops the retry.
func TestInnerDeadlineIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, fixed())
		inner := fault.NewTimeoutError("svc", "", time.Second, fault.TimeoutAttempt)
		at, _, err := instants(t, context.Background(), r, func(int) error { return inner })
		if len(at) != 4 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("attempts=%d err=%v, want 4 attempts, exhaustion matching DeadlineExceeded", len(at), err)
		}
	})
}

func TestCallerDeadlineDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { <-ctx.Done(); return ctx.Err() })
		if !same(err, context.DeadlineExceeded) || len(at) != 1 || took != 50*time.Millisecond {
			t.Errorf("err=%v attempts=%d took=%v, want the op's DeadlineExceeded unchanged after 1 attempt at 50ms", err, len(at), took)
		}
	})
}

func TestDeadlineAwareEarlyStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Attempts at 0 and 100ms; the next would start at 300ms, past the
		// 250ms deadline: stop at 100ms instead of sleeping into failure.
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { return errBoom })
		if len(at) != 2 || took != 100*time.Millisecond {
			t.Errorf("attempts=%v took=%v, want 2 attempts and a return at 100ms", at, took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errBoom) {
			t.Errorf("error %v must match DeadlineExceeded and the last error", err)
		}
		if !strings.Contains(err.Error(), "stopped early") {
			t.Errorf("error %q must say it stopped early", err)
		}
		var ex *fault.RetryExhaustedError
		if !errors.As(err, &ex) || ex.Attempts != 2 || len(ex.LastErrors) != 2 || !same(ex.LastErrors[1], errBoom) {
			t.Errorf("early stop: %+v", ex)
		}
	})
}

func TestDeadlineExactlyAtNextAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The next attempt would start exactly at the deadline: certain
		// failure, so stop now.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { return errBoom })
		if len(at) != 2 || took != 100*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("attempts=%d took=%v err=%v", len(at), took, err)
		}
		// One nanosecond more and attempt 3 runs.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond+1)
		defer cancel2()
		at, _, _ = instants(t, ctx2, r, func(int) error { return errBoom })
		if len(at) != 3 {
			t.Errorf("with 1ns to spare: %d attempts, want 3", len(at))
		}
	})
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fixed()
		cfg.MaxAttempts = 10
		cfg.MaxElapsed = 350 * time.Millisecond
		r := mustNew(t, cfg)
		// 0, 100, 300; the next at 700 is past 350ms.
		at, took, err := instants(t, context.Background(), r, func(int) error { return errBoom })
		if len(at) != 3 || took != 300*time.Millisecond {
			t.Errorf("attempts=%v took=%v, want 3 attempts, return at 300ms", at, took)
		}
		var ex *fault.RetryExhaustedError
		if !errors.As(err, &ex) || ex.Attempts != 3 || !strings.Contains(err.Error(), "MaxElapsed") || !errors.Is(err, errBoom) {
			t.Errorf("err = %v", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a MaxElapsed stop is not the caller's deadline: %v", err)
		}
	})
}

func TestNeverRetried(t *testing.T) {
	marked := errors.New("bad request")
	cases := []struct {
		name string
		err  error
		want error // what the caller gets
	}{
		{"CircuitOpen", fault.NewCircuitOpenError("svc", "", time.Time{}, time.Second, 1), nil},
		{"InvalidPolicy", fault.NewInvalidPolicyError("p", "X", 1, "rule"), nil},
		{"ShuttingDown", fault.NewShuttingDownError("svc", ""), nil},
		{"WrappedCircuitOpen", fmt.Errorf("call: %w", fault.NewCircuitOpenError("svc", "", time.Time{}, 0, 1)), nil},
		{"Permanent", retry.Permanent(marked), marked},
		{"WrappedPermanent", fmt.Errorf("ctx: %w", retry.Permanent(marked)), nil},
		{"RefusedByRetryIf", errors.New("not found"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := fixed()
				cfg.RetryIf = func(err error) bool { return err.Error() != "not found" }
				r := mustNew(t, cfg)
				at, took, err := instants(t, context.Background(), r, func(int) error { return c.err })
				want := c.want
				if want == nil {
					want = c.err
				}
				if len(at) != 1 || took != 0 || !same(err, want) {
					t.Errorf("attempts=%d took=%v err=%v, want 1 attempt, no wait, %v", len(at), took, err, want)
				}
			})
		})
	}
}

func TestRetryIfCannotRetryNeverRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fixed()
		cfg.RetryIf = func(error) bool { return true }
		r := mustNew(t, cfg)
		at, _, _ := instants(t, context.Background(), r, func(int) error {
			return fault.NewCircuitOpenError("svc", "", time.Time{}, 0, 1)
		})
		if len(at) != 1 {
			t.Errorf("open circuit retried %d times", len(at)-1)
		}
	})
}

func TestPermanentHelpers(t *testing.T) {
	if retry.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	p := retry.Permanent(errBoom)
	if !errors.Is(p, errBoom) || p.Error() != "boom" || !retry.IsPermanent(fmt.Errorf("x: %w", p)) || retry.IsPermanent(errBoom) {
		t.Error("Permanent/IsPermanent misbehave")
	}
}

type hinted struct{ d time.Duration }

func (h hinted) Error() string             { return "slow down" }
func (h hinted) RetryAfter() time.Duration { return h.d }

func TestRetryAfterHints(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string // attempt instants
	}{
		{"RateLimitError", fault.NewRateLimitError("svc", "", 250*time.Millisecond, 10, time.Second, 10), "[0s 250ms 500ms 750ms]"},
		{"Method", hinted{30 * time.Millisecond}, "[0s 30ms 60ms 90ms]"},
		{"CappedByMaxInterval", hinted{time.Hour}, "[0s 1s 2s 3s]"},
		{"NegativeFallsBack", hinted{-time.Second}, "[0s 100ms 300ms 700ms]"},
		{"ZeroFallsBack", hinted{0}, "[0s 100ms 300ms 700ms]"},
		{"OverflowFallsBack", hinted{math.MaxInt64}, "[0s 100ms 300ms 700ms]"},
		{"WrappedHint", fmt.Errorf("%w", hinted{time.Second}), "[0s 1s 2s 3s]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := fixed()
				cfg.Jitter = fault.JitterFull // hints are not jittered
				if c.want == "[0s 100ms 300ms 700ms]" {
					cfg.Jitter = fault.JitterNone
				}
				r := mustNew(t, cfg)
				at, _, _ := instants(t, context.Background(), r, func(int) error { return c.err })
				if fmt.Sprint(at) != c.want {
					t.Errorf("attempts at %v, want %s", at, c.want)
				}
			})
		})
	}
}

func TestHintPastDeadlineStopsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r := mustNew(t, fixed())
		at, took, err := instants(t, ctx, r, func(int) error { return hinted{500 * time.Millisecond} })
		if len(at) != 1 || took != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("attempts=%d took=%v err=%v", len(at), took, err)
		}
	})
}

func TestLastErrorsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fixed()
		cfg.MaxAttempts = 12
		cfg.InitialInterval = time.Millisecond
		r := mustNew(t, cfg)
		err := r.Run(context.Background(), func() func(context.Context) error {
			n := 0
			return func(context.Context) error { n++; return fmt.Errorf("attempt %d", n) }
		}())
		var ex *fault.RetryExhaustedError
		if !errors.As(err, &ex) || ex.Attempts != 12 || len(ex.LastErrors) != retry.LastErrorsKept {
			t.Fatalf("err=%v", err)
		}
		for i, e := range ex.LastErrors {
			if want := fmt.Sprintf("attempt %d", 12-retry.LastErrorsKept+1+i); e.Error() != want {
				t.Errorf("LastErrors[%d] = %v, want %s (oldest first)", i, e, want)
			}
		}
		if !same(ex.Cause, ex.LastErrors[len(ex.LastErrors)-1]) {
			t.Errorf("cause %v is not the last error", ex.Cause)
		}
	})
}

func TestSingleAttempt(t *testing.T) {
	r := mustNew(t, retry.Config{MaxAttempts: 1})
	calls := 0
	err := r.Run(context.Background(), func(context.Context) error { calls++; return errBoom })
	var ex *fault.RetryExhaustedError
	if calls != 1 || !errors.As(err, &ex) || ex.Attempts != 1 || !errors.Is(err, errBoom) {
		t.Errorf("calls=%d err=%v", calls, err)
	}
}

type recorder struct {
	fault.NoOpMetricsRecorder
	start    time.Time
	mu       sync.Mutex
	attempts []string
}

func (r *recorder) RecordRetryAttempt(_ context.Context, name string, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, fmt.Sprintf("%s#%d@%v", name, attempt, time.Since(r.start)))
}

func TestHooksAndRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec := &recorder{start: start}
		var hooks []string
		cfg := fixed()
		cfg.OnRetry = func(attempt int, err error, delay time.Duration) {
			hooks = append(hooks, fmt.Sprintf("%d:%v:%v@%v", attempt, err, delay, time.Since(start)))
		}
		cfg.Recorder = rec
		r := mustNew(t, cfg)
		_ = r.Run(context.Background(), func(context.Context) error { return errBoom })
		want := "[2:boom:100ms@0s 3:boom:200ms@100ms 4:boom:400ms@300ms]"
		if fmt.Sprint(hooks) != want {
			t.Errorf("OnRetry calls %v, want %s", hooks, want)
		}
		wantRec := "[svc#2@100ms svc#3@300ms svc#4@700ms]"
		if fmt.Sprint(rec.attempts) != wantRec {
			t.Errorf("recorded %v, want %s (each just before its attempt runs)", rec.attempts, wantRec)
		}
	})
}

func TestPanicPropagatesUnretried(t *testing.T) {
	r := mustNew(t, fixed())
	type pv struct{}
	calls := 0
	got := func() (p any) {
		defer func() { p = recover() }()
		_ = r.Run(context.Background(), func(context.Context) error { calls++; panic(pv{}) })
		return nil
	}()
	if got != (pv{}) || calls != 1 {
		t.Errorf("recovered %v after %d calls, want the op's value after 1", got, calls)
	}
}

func TestNilArguments(t *testing.T) {
	r := mustNew(t, fixed())
	if err := r.Run(context.Background(), nil); !same(err, fault.ErrNilOperation) {
		t.Errorf("nil op: %v", err)
	}
	if err := r.Run(nil, func(context.Context) error { return nil }); !same(err, fault.ErrNilContext) { //nolint:staticcheck // SA1012: the nil-context guard is under test
		t.Errorf("nil ctx: %v", err)
	}
	var nilRetry *retry.Retry
	calls := 0
	if err := nilRetry.Run(context.Background(), func(context.Context) error { calls++; return errBoom }); !same(err, retry.ErrNilRetry) || calls != 0 {
		t.Errorf("nil Retry: err=%v calls=%d, want ErrNilRetry without running", err, calls)
	}
	if nilRetry.Backoff(3) != 0 || nilRetry.Config().MaxAttempts != 1 {
		t.Error("nil Retry accessors")
	}
	v, err := retry.Policy[int](nil).Execute(context.Background(), func(context.Context) (int, error) { return 4, nil })
	if v != 0 || !same(err, retry.ErrNilRetry) {
		t.Errorf("nil view: %d %v, want ErrNilRetry", v, err)
	}
}

func TestInvalidConfig(t *testing.T) {
	cases := []struct {
		cfg   retry.Config
		field string
	}{
		{retry.Config{MaxAttempts: -1}, "Retry.MaxAttempts"},
		{retry.Config{InitialInterval: -1}, "Retry.InitialInterval"},
		{retry.Config{MaxInterval: -1}, "Retry.MaxInterval"},
		{retry.Config{MaxElapsed: -time.Second}, "Retry.MaxElapsed"},
		{retry.Config{Multiplier: 0.5}, "Retry.Multiplier"},
		{retry.Config{Multiplier: math.NaN()}, "Retry.Multiplier"},
		{retry.Config{Multiplier: math.Inf(1)}, "Retry.Multiplier"},
		{retry.Config{Jitter: "random"}, "Retry.Jitter"},
		{retry.Config{InitialInterval: time.Second, MaxInterval: time.Millisecond}, "Retry.MaxInterval"},
	}
	for _, c := range cases {
		c.cfg.Name = "payments"
		r, err := retry.New(c.cfg)
		var ip *fault.InvalidPolicyError
		if r != nil || !errors.As(err, &ip) || ip.Field != c.field || ip.Service != "payments" {
			t.Errorf("New(%+v) = %v, %v; want an InvalidPolicyError for %s naming the retry", c.cfg, r, err, c.field)
			continue
		}
		if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
			t.Errorf("%v does not match INVALID_POLICY", err)
		}
		calls := 0
		if err := retry.Do(context.Background(), c.cfg, func(context.Context) error { calls++; return nil }); !errors.As(err, &ip) || calls != 0 {
			t.Errorf("Do with invalid config: err=%v calls=%d", err, calls)
		}
		res := retry.WithResult(context.Background(), c.cfg, func(context.Context) (int, error) { calls++; return 1, nil })
		if !errors.As(res.UnwrapErr(), &ip) || calls != 0 {
			t.Errorf("WithResult with invalid config: %v calls=%d", res, calls)
		}
	}
	// Several problems are all reported.
	err := retry.Config{MaxAttempts: -1, Multiplier: -2}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxAttempts") || !strings.Contains(err.Error(), "Multiplier") {
		t.Errorf("joined problems: %v", err)
	}
}

func TestFromPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pc := fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: 50 * time.Millisecond, Multiplier: 3, Jitter: fault.JitterNone, MaxElapsed: time.Minute}
		cfg := retry.FromPolicy("orders", pc)
		if cfg.Name != "orders" || cfg.MaxAttempts != 2 || cfg.InitialInterval != 50*time.Millisecond ||
			cfg.Multiplier != 3 || cfg.Jitter != fault.JitterNone || cfg.MaxElapsed != time.Minute {
			t.Fatalf("FromPolicy = %+v", cfg)
		}
		r := mustNew(t, cfg)
		_, took, err := instants(t, context.Background(), r, func(int) error { return errBoom })
		var ex *fault.RetryExhaustedError
		if took != 50*time.Millisecond || !errors.As(err, &ex) || ex.Service != "orders" {
			t.Errorf("took %v err %v", took, err)
		}
	})
}

func TestWithResultAndViews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		res := retry.WithResult(context.Background(), fixed(), func(context.Context) (string, error) {
			n++
			if n < 2 {
				return "", errBoom
			}
			return "ok", nil
		})
		if res.UnwrapOr("") != "ok" || n != 2 {
			t.Errorf("WithResult = %v after %d calls", res, n)
		}
		r := mustNew(t, fixed())
		res2 := fault.ExecuteWithResult(r, context.Background(), func(context.Context) (int, error) { return 7, nil })
		if res2.UnwrapOr(0) != 7 {
			t.Errorf("fault.ExecuteWithResult(retry) = %v", res2)
		}
		res3 := fault.ExecuteWithResult(retry.Policy[int](r), context.Background(), func(context.Context) (int, error) { return 0, errBoom })
		if !errors.Is(res3.UnwrapErr(), errBoom) {
			t.Errorf("through the view: %v", res3)
		}
		if retry.Policy[int](r).Retry() != r {
			t.Error("View.Retry")
		}
		calls := 0
		if err := retry.Policy[int](r).Run(context.Background(), func(context.Context) error { calls++; return errBoom }); !errors.Is(err, errBoom) || calls != 4 {
			t.Errorf("View.Run: %v after %d calls", err, calls)
		}
		// The view passes the last attempt's value along with a passed-through error.
		v, err := retry.Policy[int](r).Execute(context.Background(), func(context.Context) (int, error) { return 9, retry.Permanent(errBoom) })
		if v != 9 || !same(err, errBoom) {
			t.Errorf("view: (%d, %v), want (9, boom)", v, err)
		}
		if err := retry.Do(context.Background(), fixed(), func(context.Context) error { return nil }); err != nil {
			t.Errorf("Do: %v", err)
		}
	})
}

func TestCorrelationIDInErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := fault.WithCorrelationID(context.Background(), "req-9")
		err := mustNew(t, fixed()).Run(ctx, func(context.Context) error { return errBoom })
		var ex *fault.RetryExhaustedError
		if !errors.As(err, &ex) || ex.CorrelationID != "req-9" {
			t.Errorf("err %v", err)
		}
	})
}

func TestJitterBounds(t *testing.T) {
	base := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	for _, j := range []string{fault.JitterFull, fault.JitterEqual, fault.JitterDecorrelated} {
		t.Run(j, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := fixed()
				cfg.Jitter = j
				var waits []time.Duration
				cfg.OnRetry = func(_ int, _ error, d time.Duration) { waits = append(waits, d) }
				r := mustNew(t, cfg)
				distinct := map[time.Duration]bool{}
				for range 200 {
					waits = waits[:0]
					at, _, _ := instants(t, context.Background(), r, func(int) error { return errBoom })
					prev := cfg.InitialInterval
					for i, d := range waits {
						lo, hi := time.Duration(0), base[i]
						switch j {
						case fault.JitterEqual:
							lo = base[i] - base[i]/2
						case fault.JitterDecorrelated:
							lo, hi = cfg.InitialInterval, min(cfg.MaxInterval, 3*prev)
						}
						if d < lo || d > hi {
							t.Fatalf("wait %d = %v outside [%v, %v]", i+1, d, lo, hi)
						}
						if at[i+1]-at[i] != d {
							t.Fatalf("announced wait %v, slept %v", d, at[i+1]-at[i])
						}
						prev = d
						distinct[d] = true
					}
				}
				if len(distinct) < 50 {
					t.Errorf("only %d distinct waits in 600: jitter is not random", len(distinct))
				}
			})
		})
	}
}

// A hook that calls back into the same Retry must not deadlock (there is no
// lock to take, and this guards against one being added). The watchdog runs
// in real time, outside any bubble.
func TestReentrantHook(t *testing.T) {
	cfg := fixed()
	cfg.InitialInterval = time.Microsecond
	cfg.MaxInterval = time.Microsecond
	var r *retry.Retry
	cfg.OnRetry = func(int, error, time.Duration) {
		_ = r.Run(context.Background(), func(context.Context) error { return nil })
		_ = r.Config()
	}
	r = mustNew(t, cfg)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), func(context.Context) error { return errBoom }) }()
	select {
	case err := <-done:
		if !errors.Is(err, errBoom) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reentrant hook deadlocked")
	}
}

func TestConformance(t *testing.T) {
	for _, j := range []string{fault.JitterNone, fault.JitterFull, fault.JitterDecorrelated} {
		t.Run(j, func(t *testing.T) {
			faulttest.Run(t, func() faulttest.Instance {
				r, err := retry.New(retry.Config{Name: "conformance", MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: j})
				if err != nil {
					t.Fatal(err)
				}
				return faulttest.Instance{Policy: retry.Policy[int](r), Guard: r,
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						r, err := retry.New(retry.Config{Name: "conformance", MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: j,
							Recorder: cb.Recorder,
							RetryIf:  func(error) bool { cb.After(); return true },
							OnRetry:  func(int, error, time.Duration) { cb.After() },
						})
						if err != nil {
							t.Fatal(err)
						}
						return faulttest.Instance{Policy: retry.Policy[int](r), Guard: r}
					}}
			})
		})
	}
}

// Many goroutines share one Retry; each call's attempts and outcome are its
// own.
func TestConcurrentStress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fixed()
		cfg.Jitter = fault.JitterFull
		var recorded atomic.Int64
		cfg.OnRetry = func(int, error, time.Duration) { recorded.Add(1) }
		r := mustNew(t, cfg)
		var wg sync.WaitGroup
		var retries atomic.Int64
		for g := range 64 {
			wg.Go(func() {
				for i := range 20 {
					succeedAt := (g+i)%5 + 1 // 5 means never (MaxAttempts 4)
					calls := 0
					err := r.Run(context.Background(), func(context.Context) error {
						calls++
						if calls == succeedAt {
							return nil
						}
						return errBoom
					})
					wantCalls := min(succeedAt, 4)
					if calls != wantCalls || (succeedAt <= 4) != (err == nil) {
						t.Errorf("goroutine %d call %d: %d calls err %v", g, i, calls, err)
					}
					retries.Add(int64(calls - 1))
				}
			})
		}
		wg.Wait()
		if recorded.Load() != retries.Load() {
			t.Errorf("OnRetry ran %d times for %d retries", recorded.Load(), retries.Load())
		}
	})
}

func TestSuccessPathAllocatesNothing(t *testing.T) {
	r := mustNew(t, fixed())
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	if a := testing.AllocsPerRun(1000, func() { _ = r.Run(ctx, op) }); a != 0 {
		t.Errorf("Run allocates %v per call", a)
	}
	p := retry.Policy[int](r)
	next := func(context.Context) (int, error) { return 1, nil }
	if a := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, next) }); a != 0 {
		t.Errorf("View.Execute allocates %v per call", a)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if a := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(dctx, next) }); a != 0 {
		t.Errorf("View.Execute with a deadline allocates %v per call", a)
	}
}
