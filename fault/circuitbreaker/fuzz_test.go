package circuitbreaker_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

// FuzzConfig: New never panics; it accepts exactly what fault's validation
// accepts, rejects the rest with INVALID_POLICY errors that name a field,
// and a breaker it builds survives any sequence of outcomes with its
// counts adding up.
func FuzzConfig(f *testing.F) {
	f.Add("svc", 5, 1, 0, 0, int64(time.Minute), 0.0, int64(0), int64(0), []byte{0, 1, 1, 1, 1, 1, 0})
	f.Add("svc", 1, 2, 3, 4, int64(1), 0.5, int64(1), int64(1), []byte{1, 1, 2, 3, 0, 0})
	f.Add("svc", 0, 0, 0, 0, int64(math.MaxInt64), 1.0, int64(math.MaxInt64), int64(math.MaxInt64), []byte{1, 1, 1, 1})
	f.Add("", -1, -1, -1, -1, int64(-1), math.NaN(), int64(-1), int64(-1), []byte{})
	f.Add("x", math.MaxInt, math.MaxInt32, math.MaxInt32, math.MaxInt, int64(math.MinInt64), math.Inf(1), int64(9), int64(10), []byte{3})
	f.Add(" bad ", int(fault.MaxCount), int(fault.MaxCount), int(fault.MaxCount), int(fault.MaxCount), int64(2), 1e-300, int64(19), int64(1), []byte{1})
	f.Fuzz(func(t *testing.T, name string, ft, st, hm, mc int, timeout int64, rate float64, window, slow int64, outcomes []byte) {
		cfg := circuitbreaker.Config{Name: name, FailureThreshold: ft, SuccessThreshold: st, HalfOpenMaxCalls: hm,
			MinimumCalls: mc, Timeout: time.Duration(timeout), FailureRateThreshold: rate,
			Window: time.Duration(window), SlowCallThreshold: time.Duration(slow)}
		b, err := circuitbreaker.New(cfg)
		sec := fault.CircuitBreakerPolicyConfig{FailureThreshold: ft, SuccessThreshold: st, HalfOpenMaxCalls: hm,
			MinimumCalls: mc, Timeout: cfg.Timeout, FailureRateThreshold: rate, Window: cfg.Window, SlowCallThreshold: cfg.SlowCallThreshold}
		want := fault.PolicyConfig{Name: name, CircuitBreaker: &sec}.Validate()
		if (err == nil) != (want == nil) {
			t.Fatalf("New error %v, fault validation %v", err, want)
		}
		if err != nil {
			if b != nil {
				t.Fatal("New returned a breaker and an error")
			}
			checkInvalid(t, err)
			return
		}
		if len(outcomes) > 64 {
			outcomes = outcomes[:64]
		}
		ctx := context.Background()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		for _, o := range outcomes {
			switch o % 5 {
			case 0:
				_, _ = call(b, ok)
			case 1:
				_, _ = call(b, fail)
			case 2:
				_, _ = circuitbreaker.Policy[int](b).Execute(cancelled, fail)
			case 3:
				[]func(){b.Reset, b.ForceOpen, b.ForceClosed}[int(o/5)%3]()
			case 4:
				func() {
					defer func() { _ = recover() }()
					_, _ = call(b, func(context.Context) (int, error) { panic(o) })
				}()
			}
			m := b.Metrics()
			if m.InFlight != 0 || m.Requests != m.Successes+m.Failures+m.Exclusions {
				t.Fatalf("after outcome %d: %+v", o, m)
			}
			if s := b.CircuitState(); s != fault.StateClosed && s != fault.StateOpen && s != fault.StateHalfOpen {
				t.Fatalf("state %q", s)
			}
		}
	})
}

func checkInvalid(t *testing.T, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ip *fault.InvalidPolicyError
		if !errors.As(e, &ip) || ip.Field == "" || ip.Rule == "" || fault.CodeOf(e) != fault.ErrCodeInvalidPolicy {
			t.Fatalf("%v (%T) is not an InvalidPolicyError naming a field and a rule", e, e)
		}
	}
}
