package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/throttle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t testing.TB, cfg throttle.Config) *throttle.Throttle {
	t.Helper()
	th, err := throttle.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return th
}

// advance sleeps d of fake time and lets the throttle's bucket timer run.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func record(th *throttle.Throttle, accepted, refused int) {
	for range accepted {
		th.Record(throttle.Accepted)
	}
	for range refused {
		th.Record(throttle.Refused)
	}
}

func TestConformance(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		th := mustNew(t, throttle.Config{Name: "conf"})
		return faulttest.Instance{Policy: throttle.Policy[int](th), Guard: th}
	})
}

func TestDefaults(t *testing.T) {
	c := mustNew(t, throttle.Config{}).Config()
	if c.K != 2 || c.Window != 2*time.Minute || c.MaxRejectionProbability != 0.9 || c.MinRequests != 20 || c.Buckets != 100 {
		t.Fatalf("Config() = %+v, want K 2, Window 2m, cap 0.9, MinRequests 20, Buckets 100", c)
	}
}

// TestFormula: the probability in force is the SRE formula over the
// completed buckets of the window, and the rejection rate of Allow matches
// it within binomial tolerance.
func TestFormula(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		var mu sync.Mutex
		th := mustNew(t, throttle.Config{Window: 10 * time.Second, Buckets: 10, MinRequests: 1,
			Rand: func() float64 { mu.Lock(); defer mu.Unlock(); return r.Float64() }})
		record(th, 30, 70)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v before the bucket ended, want 0", p)
		}
		advance(time.Second)
		want := (100 - 2.0*30) / 101
		if p := th.Probability(); math.Abs(p-want) > 1e-12 {
			t.Fatalf("probability %v, want (100 − 2·30)/101 = %v", p, want)
		}
		const n = 20000
		rejected := 0
		for range n {
			if !th.Allow() {
				rejected++
			}
		}
		rate := float64(rejected) / n
		sigma := math.Sqrt(want * (1 - want) / n)
		if math.Abs(rate-want) > 4*sigma {
			t.Fatalf("rejection rate %.4f, want %.4f ± %.4f (4σ)", rate, want, 4*sigma)
		}
		// The rejections counted as requests: the next bucket sees them.
		advance(time.Second)
		wantNext := (100 + float64(rejected) - 2*30) / (100 + float64(rejected) + 1)
		if p := th.Probability(); math.Abs(p-min(wantNext, 0.9)) > 1e-12 {
			t.Fatalf("probability %v after %d local rejections, want %v: local rejections count as requests", p, rejected, wantNext)
		}
	})
}

func TestCapAndMinRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: time.Second, Buckets: 10, MinRequests: 20, MaxRejectionProbability: 0.5})
		record(th, 0, 19)
		advance(100 * time.Millisecond)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v with 19 requests, want 0 below MinRequests", p)
		}
		record(th, 0, 1)
		advance(100 * time.Millisecond)
		if p := th.Probability(); p != 0.5 {
			t.Fatalf("probability %v with every request refused, want the cap 0.5", p)
		}
		advance(time.Second)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v after the window slid past, want 0", p)
		}
	})
}

// TestRuleOutcomesAfterIdleCount: after the window has emptied and the
// bucket timer stopped, the outcome that restarts it counts in the bucket
// it was recorded in, like every outcome after it (it was closed into the
// bucket in force when the timer stopped, and so left the window at once).
func TestRuleOutcomesAfterIdleCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: time.Second, Buckets: 10, MinRequests: 10})
		record(th, 1, 0)
		advance(5 * time.Second) // the window empties, the timer stops
		record(th, 0, 10)
		advance(100 * time.Millisecond)
		if p := th.Probability(); p != 0.9 {
			t.Fatalf("probability %v after 10 refusals, want the cap 0.9 (every refusal counted)", p)
		}
		// Their bucket, 5.0s to 5.1s, is in the window of every bucket
		// ending up to 6.0s.
		advance(900 * time.Millisecond)
		if p := th.Probability(); p != 0.9 {
			t.Fatalf("probability %v a window after the refusals' bucket began, want 0.9: it is still in the window", p)
		}
		advance(100 * time.Millisecond)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v a window after the refusals' bucket ended, want 0", p)
		}
	})
}

// simulate plays a capacity-limited dependency: per bucket, demand
// attempts are offered; the throttle rejects some; the dependency accepts at
// most capacity of those admitted and refuses the rest. It returns the
// probability at the end of each bucket.
func simulate(th *throttle.Throttle, buckets, demand, capacity int, bucket time.Duration) []float64 {
	ps := make([]float64, 0, buckets)
	for range buckets {
		accepted := 0
		for range demand {
			if !th.Allow() {
				continue
			}
			if accepted < capacity {
				accepted++
				th.Record(throttle.Accepted)
			} else {
				th.Record(throttle.Refused)
			}
		}
		advance(bucket)
		ps = append(ps, th.Probability())
	}
	return ps
}

// TestRuleConvergesAndRecovers: against a dependency whose capacity is a
// third of the demand, the probability converges to 1 − K·capacity/demand
// (here 1/3) and stays there (local rejections count as requests, so it
// does not oscillate); when the dependency recovers it falls to 0 within one
// window.
func TestRuleConvergesAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			window = 10 * time.Second
			n      = 20
			bucket = window / n
			demand = 300
		)
		r := rand.New(rand.NewPCG(3, 4))
		th := mustNew(t, throttle.Config{Window: window, Buckets: n, Rand: r.Float64})
		ps := simulate(th, 4*n, demand, demand/3, bucket)
		last := ps[len(ps)-n:]
		lo, hi, sum := 1.0, 0.0, 0.0
		for _, p := range last {
			lo, hi, sum = min(lo, p), max(hi, p), sum+p
		}
		if mean := sum / n; math.Abs(mean-1.0/3) > 0.03 || hi-lo > 0.05 {
			t.Fatalf("over the last window the probability ranged %.3f..%.3f (mean %.3f), want a steady 1/3", lo, hi, mean)
		}
		if math.Abs(lo-1.0/3) > 0.025 || math.Abs(hi-1.0/3) > 0.025 {
			t.Fatalf("over the last window the probability ranged %.3f..%.3f, want within ±0.025 of 1/3", lo, hi)
		}
		rec := simulate(th, n+1, demand, math.MaxInt, bucket)
		for i, p := range rec {
			if p == 0 {
				if i >= n {
					t.Fatalf("probability reached 0 %v after the dependency recovered, want within one window (%v)", time.Duration(i+1)*bucket, window)
				}
				t.Logf("probability reached 0 %v after the dependency recovered", time.Duration(i+1)*bucket)
				return
			}
		}
		t.Fatalf("probability %v one window after the dependency recovered, want 0", rec[len(rec)-1])
	})
}

func TestExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Name: "svc", Window: time.Second, Buckets: 10, MinRequests: 1, Rand: func() float64 { return 0 }})
		v := throttle.Policy[int](th)
		ctx := fault.WithCorrelationID(context.Background(), "corr-1")
		got, err := v.Execute(ctx, func(context.Context) (int, error) { return 7, nil })
		if got != 7 || err != nil {
			t.Fatalf("Execute = %v, %v; want 7, nil", got, err)
		}
		overloaded := throttle.MarkOverload(errors.New("busy"))
		for range 10 {
			_, _ = v.Execute(ctx, func(context.Context) (int, error) { return 0, overloaded })
		}
		advance(100 * time.Millisecond)
		ran := false
		_, err = v.Execute(ctx, func(context.Context) (int, error) { ran = true; return 1, nil })
		if ran {
			t.Fatal("a throttled attempt ran")
		}
		var te *fault.ThrottledError
		if !errors.As(err, &te) || te.Probability != th.Probability() || te.Service != "svc" || te.CorrelationID != "corr-1" {
			t.Fatalf("error %#v, want a *fault.ThrottledError for svc with the probability in force", err)
		}
		if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeThrottled}) ||
			!errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) ||
			fault.CodeOf(err).HTTPStatus() != http.StatusServiceUnavailable || !fault.CodeOf(err).Rejection() {
			t.Fatalf("error %v must match THROTTLED and UNAVAILABLE, and map to 503", err)
		}
		if d, ok := fault.RetryAfter(err); !ok || d != 100*time.Millisecond {
			t.Fatalf("RetryAfter = %v, %v; want one bucket", d, ok)
		}
	})
}

func TestDoneContextNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: time.Second, Buckets: 10, MinRequests: 1})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := th.Run(ctx, func(context.Context) error { ran = true; return nil })
		if ran || !errors.Is(err, context.Canceled) {
			t.Fatalf("Run on a done context: ran %v, err %v", ran, err)
		}
		// The caller's own cancellation during an attempt is ignored.
		for range 50 {
			ctx, cancel := context.WithCancel(context.Background())
			_ = th.Run(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() })
		}
		advance(100 * time.Millisecond)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v after only cancelled attempts, want 0 (nothing counted)", p)
		}
	})
}

type overloadError struct{ on bool }

func (e overloadError) Error() string  { return "overload" }
func (e overloadError) Overload() bool { return e.on }

func TestDefaultClassifier(t *testing.T) {
	plain := errors.New("not found")
	tests := []struct {
		name string
		err  error
		want throttle.Outcome
	}{
		{"plain", plain, throttle.Accepted},
		{"timeout", fault.NewTimeoutError("x", "", time.Second, fault.TimeoutAttempt), throttle.Accepted},
		{"marked", throttle.MarkOverload(plain), throttle.Refused},
		{"wrapped mark", fmt.Errorf("call: %w", throttle.MarkOverload(plain)), throttle.Refused},
		{"joined mark", errors.Join(plain, throttle.MarkOverload(plain)), throttle.Refused},
		{"method true", overloadError{true}, throttle.Refused},
		{"method false", overloadError{false}, throttle.Accepted},
		{"circuit open", fault.NewCircuitOpenError("x", "", time.Time{}, time.Second, 1), throttle.Refused},
		{"rate limited", fault.NewRateLimitError("x", "", time.Second, 1, time.Second, 1), throttle.Refused},
		{"bulkhead full", fault.NewBulkheadFullError("x", "", "full", 1, 1, 0), throttle.Refused},
		{"throttled", fault.NewThrottledError("x", "", 0.5, 0), throttle.Refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := throttle.DefaultClassifier(tt.err); got != tt.want {
				t.Fatalf("DefaultClassifier(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if throttle.MarkOverload(nil) != nil {
		t.Fatal("MarkOverload(nil) must be nil")
	}
	if m := throttle.MarkOverload(plain); !errors.Is(m, plain) || m.Error() != plain.Error() {
		t.Fatal("the mark must keep the error's text and identity")
	}
}

func TestClassifierAndRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		th := mustNew(t, throttle.Config{Name: "p", Window: time.Second, Buckets: 10, MinRequests: 1, Recorder: rec,
			Classifier: func(error) throttle.Outcome { return throttle.Refused }, Rand: func() float64 { return 0 }})
		_ = th.Run(context.Background(), func(context.Context) error { return errors.New("any") })
		advance(100 * time.Millisecond)
		if err := th.Run(context.Background(), func(context.Context) error { return nil }); err == nil {
			t.Fatal("the custom classifier's refusal must raise the probability")
		}
		if rec.throttled.Load() != 1 || rec.last.Load() != math.Float64bits(0.5) {
			t.Fatalf("recorder saw %d throttled, probability %v", rec.throttled.Load(), math.Float64frombits(rec.last.Load()))
		}
	})
}

type recorder struct {
	fault.NoOpMetricsRecorder
	throttled atomic.Int64
	admitted  atomic.Int64 // reports made on an admitted attempt
	last      atomic.Uint64
}

func (r *recorder) RecordThrottle(_ context.Context, name string, throttled bool, p float64) {
	if name != "p" {
		panic("wrong policy name " + name)
	}
	if throttled {
		r.throttled.Add(1)
	} else {
		r.admitted.Add(1)
	}
	r.last.Store(math.Float64bits(p))
}

// TestRecorderToldOfEachNewProbability: an admitted attempt tells the
// recorder of a probability it has not been told of yet, once; a rejection
// tells it every time.
func TestRecorderToldOfEachNewProbability(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		draw := 1.0 // admit everything until set lower
		th := mustNew(t, throttle.Config{Name: "p", Window: time.Second, Buckets: 10, MinRequests: 1, Recorder: rec,
			Rand: func() float64 { return draw }})
		ctx := context.Background()
		for range 3 {
			if err := th.Admit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if rec.admitted.Load() != 0 {
			t.Fatalf("%d reports while the probability stayed 0, want none", rec.admitted.Load())
		}
		record(th, 1, 3) // 4 requests, 1 accept: (4 − 2·1)/5 = 0.4
		advance(100 * time.Millisecond)
		for range 3 {
			if err := th.Admit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if rec.admitted.Load() != 1 || rec.last.Load() != math.Float64bits(0.4) {
			t.Fatalf("%d reports, last %v; want one, of 0.4", rec.admitted.Load(), math.Float64frombits(rec.last.Load()))
		}
		draw = 0
		for range 2 {
			if err := th.Admit(ctx); err == nil {
				t.Fatal("an attempt drawn under the probability was admitted")
			}
		}
		if rec.throttled.Load() != 2 || rec.admitted.Load() != 1 {
			t.Fatalf("%d rejections and %d admissions reported, want 2 and 1", rec.throttled.Load(), rec.admitted.Load())
		}
	})
}

// TestRuleNoAllocations: the decision and the success path allocate nothing.
func TestRuleNoAllocations(t *testing.T) {
	th := mustNew(t, throttle.Config{})
	v := throttle.Policy[int](th)
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	if a := testing.AllocsPerRun(1000, func() {
		if th.Allow() {
			th.Record(throttle.Accepted)
		}
		_, _ = v.Execute(ctx, op)
	}); a != 0 {
		t.Fatalf("%v allocations per decision, want 0", a)
	}
	// Recording a failure costs what the classifier does, nothing more.
	quiet := mustNew(t, throttle.Config{Classifier: func(error) throttle.Outcome { return throttle.Refused }})
	failure := errors.New("busy")
	if a := testing.AllocsPerRun(1000, func() {
		quiet.Done(ctx, failure)
		quiet.Record(throttle.Refused)
	}); a != 0 {
		t.Fatalf("%v allocations per failure recorded, want 0", a)
	}
}

// TestConcurrent: 1,000 goroutines throttled at once (race detector), under
// fake time: every outcome is counted and the probability stays in range.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: time.Second, Buckets: 10})
		var wg sync.WaitGroup
		var admitted, rejected, accepted atomic.Int64
		for g := range 1000 {
			wg.Go(func() {
				for i := range 50 {
					if !th.Allow() {
						rejected.Add(1)
					} else {
						admitted.Add(1)
						if (g+i)%3 == 0 {
							accepted.Add(1)
							th.Record(throttle.Accepted)
						} else {
							th.Record(throttle.Refused)
						}
					}
					if p := th.Probability(); p < 0 || p > 0.9 {
						panic(fmt.Sprint("probability out of range: ", p))
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if rejected.Load() == 0 || admitted.Load()+rejected.Load() != 50000 {
			t.Fatalf("admitted %d, rejected %d", admitted.Load(), rejected.Load())
		}
		// Every outcome and every local rejection was counted: once the
		// last bucket has closed, the probability is the formula over all
		// of them (the 0.5s of traffic fits in the 1s window).
		advance(100 * time.Millisecond)
		r, a := float64(admitted.Load()+rejected.Load()), float64(accepted.Load())
		want := min(max((r-2*a)/(r+1), 0), 0.9)
		if p := th.Probability(); math.Abs(p-want) > 1e-12 {
			t.Fatalf("probability %v, want %v from %v requests and %v accepts: an outcome went uncounted", p, want, r, a)
		}
	})
}

func TestNil(t *testing.T) {
	var th *throttle.Throttle
	if !th.Allow() || th.Admit(context.Background()) != nil || th.Probability() != 0 {
		t.Fatal("a nil throttle admits everything")
	}
	th.Record(throttle.Refused)
	th.Done(context.Background(), errors.New("x"))
	if c := th.Config(); c.Name != "" || c.K != 0 || c.Buckets != 0 || c.Classifier != nil {
		t.Fatalf("a nil throttle's Config = %+v, want the zero Config", c)
	}
	if err := th.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Run on a nil throttle: %v, want the operation's nil", err)
	}
	if got, err := throttle.Policy[int](nil).Execute(context.Background(), func(context.Context) (int, error) { return 2, nil }); got != 2 || err != nil {
		t.Fatal("a view of a nil throttle runs the operation")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   throttle.Config
		field string
	}{
		{throttle.Config{K: 0.5}, "Throttle.K"},
		{throttle.Config{K: math.NaN()}, "Throttle.K"},
		{throttle.Config{K: math.Inf(1)}, "Throttle.K"},
		{throttle.Config{Window: -1}, "Throttle.Window"},
		{throttle.Config{MaxRejectionProbability: 1.5}, "Throttle.MaxRejectionProbability"},
		{throttle.Config{MaxRejectionProbability: math.NaN()}, "Throttle.MaxRejectionProbability"},
		{throttle.Config{MinRequests: -1}, "Throttle.MinRequests"},
		{throttle.Config{Buckets: 1}, "Throttle.Buckets"},
		{throttle.Config{Buckets: 5000}, "Throttle.Buckets"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			tt.cfg.Name = "svc"
			th, err := throttle.New(tt.cfg)
			var ip *fault.InvalidPolicyError
			if th != nil || !errors.As(err, &ip) || ip.Field != tt.field || ip.Service != "svc" {
				t.Fatalf("New(%+v) = %v, %v; want an InvalidPolicyError for %s", tt.cfg, th, err, tt.field)
			}
		})
	}
	if c := throttle.FromPolicy("p", fault.ThrottlePolicyConfig{K: 3, Window: time.Minute, MaxRejectionProbability: 0.5, MinRequests: 5}); c.Name != "p" || c.K != 3 || c.Window != time.Minute || c.MaxRejectionProbability != 0.5 || c.MinRequests != 5 {
		t.Fatalf("FromPolicy = %+v", c)
	}
	if throttle.Refused.String() != "refused" || throttle.Outcome(9).String() != "Outcome(9)" {
		t.Fatal("Outcome.String")
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(2.0, int64(time.Minute), 0.9, 20, 100)
	f.Add(math.NaN(), int64(-1), -1.0, -1, -1)
	f.Fuzz(func(t *testing.T, k float64, window int64, maxP float64, minReq, buckets int) {
		th, err := throttle.New(throttle.Config{K: k, Window: time.Duration(window), MaxRejectionProbability: maxP, MinRequests: minReq, Buckets: buckets})
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) {
				t.Fatalf("error %v is not an InvalidPolicyError", err)
			}
			return
		}
		th.Record(throttle.Refused)
		th.Allow()
	})
}
