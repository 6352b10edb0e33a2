package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

func newRecorder(t testing.TB, opts ...metrics.Option) *metrics.Recorder {
	t.Helper()
	r, err := metrics.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exec builds the metrics the executor would report for an execution that
// returned err.
func exec(policy string, d time.Duration, err error) fault.ExecutionMetrics {
	return fault.NewExecutionMetrics(policy, d, err == nil).WithError(err)
}

var (
	errOp       = errors.New("boom")
	errOpen     = fault.NewCircuitOpenError("p", "", time.Time{}, time.Second, 0.5)
	errLimited  = fault.NewRateLimitError("p", "", time.Second, 10, time.Second, 10)
	errFull     = fault.NewBulkheadFullError("p", "", "full", 1, 0, 0)
	errTimeout  = fault.NewTimeoutError("p", "", time.Second, "attempt")
	errRetryOut = fault.NewRetryExhaustedError("p", "", 3, time.Second, []error{errOp})
)

func TestRecorderCountsOutcomes(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	for _, err := range []error{nil, nil, errOp, errTimeout, errRetryOut, errOpen, errOpen, errLimited, errFull} {
		r.RecordExecution(ctx, exec("p", time.Millisecond, err))
	}
	r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithRetryAttempts(2))
	got, ok := r.Policy("p")
	if !ok {
		t.Fatal("policy p not found")
	}
	want := metrics.PolicySnapshot{
		Executions: 10, Successes: 3, Failures: 3, Timeouts: 1, Rejections: 4,
		RejectedBy:        metrics.Rejections{CircuitOpen: 2, RateLimited: 1, BulkheadFull: 1},
		RetriedExecutions: 1,
	}
	got.Latency = metrics.Latency{}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, ok := r.Policy("other"); ok {
		t.Fatal("unknown policy reported as seen")
	}
}

// TestRejectionMatchesContract checks that the Recorder counts as rejections
// exactly the codes fault.ErrorCode.Rejection names.
func TestRejectionMatchesContract(t *testing.T) {
	codes := []fault.ErrorCode{"", fault.ErrCodeCircuitOpen, fault.ErrCodeRateLimited, fault.ErrCodeTimeout,
		fault.ErrCodeBulkheadFull, fault.ErrCodeRetryExhausted, fault.ErrCodeInvalidPolicy, fault.ErrCodeShuttingDown, "SOMETHING_NEW"}
	for _, code := range codes {
		r := newRecorder(t)
		m := fault.NewExecutionMetrics("p", 0, false)
		m.ErrorCode = code
		r.RecordExecution(context.Background(), m)
		p, _ := r.Policy("p")
		if got := p.Rejections == 1; got != code.Rejection() {
			t.Errorf("code %q: counted as rejection %v, contract says %v", code, got, code.Rejection())
		}
		if got := p.Timeouts == 1; got != (code == fault.ErrCodeTimeout) {
			t.Errorf("code %q: counted as timeout %v", code, got)
		}
	}
}

func TestRecorderEvents(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	r.RecordRetryAttempt(ctx, "p", 2)
	r.RecordRetryAttempt(ctx, "p", 3)
	r.RecordRateLimit(ctx, "p", true)
	r.RecordRateLimit(ctx, "p", false)
	r.RecordRateLimit(ctx, "p", false)
	r.RecordBulkheadQueue(ctx, "p", true)
	r.RecordBulkheadQueue(ctx, "p", false)
	for _, s := range []string{fault.StateOpen, fault.StateHalfOpen, fault.StateOpen, fault.StateHalfOpen, fault.StateClosed, "bogus"} {
		r.RecordCircuitState(ctx, "p", s)
	}
	got, _ := r.Policy("p")
	want := metrics.PolicySnapshot{
		Retries: 2, RateLimitLimited: 1, RateLimitAllowed: 2, BulkheadQueued: 1, BulkheadImmediate: 1,
		CircuitState: fault.StateClosed, CircuitTransitions: 6, CircuitOpens: 2,
	}
	got.Latency = metrics.Latency{}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// The state an execution reports also sets the current state.
	r.RecordExecution(ctx, exec("p", 0, errOpen).WithCircuitState(fault.StateOpen))
	if got, _ := r.Policy("p"); got.CircuitState != fault.StateOpen || got.CircuitTransitions != 6 {
		t.Fatalf("after an execution in state open: state %q, transitions %d", got.CircuitState, got.CircuitTransitions)
	}
}

// TestLateExecutionDoesNotUndoATransition: the executor reads the breaker's
// state when an execution ends and reports it a moment later; a transition
// recorded in between (another call tripped the breaker) is newer. The late
// record must not put the old state back: the breaker is open, the snapshot
// must say so.
func TestLateExecutionDoesNotUndoATransition(t *testing.T) {
	synctest.Test(t, lateExecution)
}

func lateExecution(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	began := time.Now()
	r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(began))
	time.Sleep(2 * time.Millisecond) // the transition comes after that execution ended
	r.RecordCircuitState(ctx, "p", fault.StateOpen)
	// An execution that ended before the transition, reported after it.
	r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(began))
	if got, _ := r.Policy("p"); got.CircuitState != fault.StateOpen {
		t.Fatalf("state %q after a late record of an older execution, want %q", got.CircuitState, fault.StateOpen)
	}
	// An execution that ended after the transition reports the current
	// state (a policy registered again gets a fresh, closed breaker that
	// reports no transition).
	r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(time.Now()))
	if got, _ := r.Policy("p"); got.CircuitState != fault.StateClosed {
		t.Fatalf("state %q after a newer execution, want %q", got.CircuitState, fault.StateClosed)
	}
	// Without a start time, an execution's state is taken as it is.
	r.RecordExecution(ctx, exec("p", 0, errOpen).WithCircuitState(fault.StateOpen))
	if got, _ := r.Policy("p"); got.CircuitState != fault.StateOpen {
		t.Fatalf("state %q, want %q", got.CircuitState, fault.StateOpen)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	// 1ms..100ms, one each: p50 = 50ms, p95 = 95ms, p99 = 99ms.
	for i := 1; i <= 100; i++ {
		r.RecordExecution(ctx, exec("p", time.Duration(i)*time.Millisecond, nil))
	}
	l := r.Snapshot().Policies["p"].Latency
	if l.Count != 100 || l.Sum != 5050*time.Millisecond || l.Mean != 50500*time.Microsecond {
		t.Fatalf("count %d sum %v mean %v", l.Count, l.Sum, l.Mean)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"p50", l.P50, 50 * time.Millisecond},
		{"p95", l.P95, 95 * time.Millisecond},
		{"p99", l.P99, 99 * time.Millisecond},
		{"max", l.Max, 100 * time.Millisecond},
		{"q0", l.Quantile(0), time.Millisecond},
		{"q1", l.Quantile(1), 100 * time.Millisecond},
		{"q0.1", l.Quantile(0.1), 10 * time.Millisecond},
	} {
		if d := c.got - c.want; d*16 > c.want || -d*16 > c.want {
			t.Errorf("%s = %v, want %v within 1/16", c.name, c.got, c.want)
		}
	}
	if q := (metrics.Latency{}).Quantile(0.5); q != 0 {
		t.Errorf("empty quantile = %v", q)
	}
	// Negative durations count as 0; huge ones land in the overflow bucket.
	r.RecordExecution(ctx, exec("q", -time.Second, nil))
	r.RecordExecution(ctx, exec("q", 100*time.Hour, nil))
	lq := r.Snapshot().Policies["q"].Latency
	if lq.Quantile(0) != 0 || lq.Max != 1<<40 || lq.Sum != 100*time.Hour {
		t.Errorf("negative and huge durations: q0 %v max %v sum %v", lq.Quantile(0), lq.Max, lq.Sum)
	}
}

func TestMaxPoliciesOverflow(t *testing.T) {
	r := newRecorder(t, metrics.WithMaxPolicies(3))
	ctx := context.Background()
	for i := range 10 {
		r.RecordExecution(ctx, exec(fmt.Sprintf("p%d", i), 0, nil))
		r.RecordRetryAttempt(ctx, fmt.Sprintf("p%d", i), 2)
	}
	s := r.Snapshot()
	if len(s.Policies) != 4 {
		t.Fatalf("%d policies, want 3 and the overflow: %v", len(s.Policies), s.Policies)
	}
	for _, name := range []string{"p0", "p1", "p2"} {
		if s.Policies[name].Executions != 1 {
			t.Errorf("%s: %d executions", name, s.Policies[name].Executions)
		}
	}
	if o := s.Policies[metrics.OverflowPolicy]; o.Executions != 7 || o.Retries != 7 {
		t.Errorf("overflow: %+v", o)
	}
	if _, ok := r.Policy(metrics.OverflowPolicy); !ok {
		t.Error("Policy(OverflowPolicy) not found")
	}
	// A known policy still gets its own counters once the cap is reached.
	r.RecordExecution(ctx, exec("p1", 0, nil))
	if got, _ := r.Policy("p1"); got.Executions != 2 {
		t.Errorf("p1 after the cap: %d executions", got.Executions)
	}
	if _, ok := newRecorder(t).Policy(metrics.OverflowPolicy); ok {
		t.Error("unused overflow reported")
	}
}

// TestPolicyNamedLikeTheOverflow: a policy may be named "_overflow" (a
// valid fault policy name). It must not get an entry of its own that the
// overflow entry then hides in the snapshot under the same key: its
// executions are counted with the overflow, and every record stays counted.
func TestPolicyNamedLikeTheOverflow(t *testing.T) {
	for _, limit := range []int{1, 3} {
		r := newRecorder(t, metrics.WithMaxPolicies(limit))
		ctx := context.Background()
		r.RecordExecution(ctx, exec(metrics.OverflowPolicy, 0, nil))
		for i := range 4 {
			r.RecordExecution(ctx, exec(fmt.Sprint("p", i), 0, nil))
		}
		var total uint64
		for _, p := range r.Snapshot().Policies {
			total += p.Executions
		}
		if total != 5 {
			t.Errorf("WithMaxPolicies(%d): %d executions in the snapshot, want 5", limit, total)
		}
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []metrics.Option{metrics.WithMaxPolicies(0), metrics.WithMaxPolicies(-1), metrics.WithStripes(0), metrics.WithStripes(65)} {
		if _, err := metrics.New(o); !errors.Is(err, metrics.ErrInvalidOption) {
			t.Errorf("New with a bad option: %v", err)
		}
	}
	if _, err := metrics.New(nil, metrics.WithStripes(3)); err != nil {
		t.Errorf("New(nil, WithStripes(3)): %v", err)
	}
}

// TestConcurrentCountsExact: after N concurrent executions, the counters add
// up to exactly N, and snapshots taken meanwhile keep their identities.
func TestConcurrentCountsExact(t *testing.T) {
	for _, stripes := range []int{1, 4} {
		t.Run(fmt.Sprint("stripes=", stripes), func(t *testing.T) {
			r := newRecorder(t, metrics.WithStripes(stripes))
			const goroutines, each = 8, 2000
			errs := []error{nil, errOp, errOpen, errLimited, errFull, errTimeout, nil}
			ctx := context.Background()
			stop := make(chan struct{})
			var readers sync.WaitGroup
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for name, p := range r.Snapshot().Policies {
						checkIdentities(t, name, p)
					}
				}
			})
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						policy := "a"
						if (g+i)%3 == 0 {
							policy = "b"
						}
						r.RecordExecution(ctx, exec(policy, time.Duration(i)*time.Microsecond, errs[(g+i)%len(errs)]))
						r.RecordRetryAttempt(ctx, policy, 2)
					}
				})
			}
			wg.Wait()
			close(stop)
			readers.Wait()
			s := r.Snapshot()
			var total, retries, counted uint64
			for name, p := range s.Policies {
				checkIdentities(t, name, p)
				if p.Latency.Count != p.Executions {
					t.Errorf("%s: latency count %d, executions %d", name, p.Latency.Count, p.Executions)
				}
				total += p.Executions
				counted += p.Successes + p.Failures + p.Rejections
				retries += p.Retries
			}
			if total != goroutines*each || counted != total || retries != total {
				t.Fatalf("executions %d, successes+failures+rejections %d, retries %d; want %d", total, counted, retries, goroutines*each)
			}
		})
	}
}

func checkIdentities(t *testing.T, name string, p metrics.PolicySnapshot) {
	t.Helper()
	if p.Executions != p.Successes+p.Failures+p.Rejections ||
		p.Rejections != p.RejectedBy.CircuitOpen+p.RejectedBy.RateLimited+p.RejectedBy.BulkheadFull ||
		p.Timeouts > p.Failures {
		t.Errorf("%s: inconsistent snapshot %+v", name, p)
	}
}

// TestConcurrentNewPolicies creates policies from many goroutines at once,
// past the cap: no record is lost.
func TestConcurrentNewPolicies(t *testing.T) {
	r := newRecorder(t, metrics.WithMaxPolicies(50))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				r.RecordExecution(context.Background(), exec(fmt.Sprint("p", (g*31+i)%100), 0, nil))
			}
		})
	}
	wg.Wait()
	s := r.Snapshot()
	var total uint64
	for _, p := range s.Policies {
		total += p.Executions
	}
	if total != 800 || len(s.Policies) != 51 {
		t.Fatalf("total %d over %d policies; want 800 over 51", total, len(s.Policies))
	}
}

func TestRecordExecutionAllocs(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	m := exec("payments", 3*time.Millisecond, errOpen).WithCircuitState(fault.StateOpen).WithRetryAttempts(1)
	r.RecordExecution(ctx, m)
	if n := testing.AllocsPerRun(1000, func() {
		r.RecordExecution(ctx, m)
		r.RecordRetryAttempt(ctx, "payments", 2)
		r.RecordRateLimit(ctx, "payments", true)
		r.RecordBulkheadQueue(ctx, "payments", false)
		r.RecordCircuitState(ctx, "payments", fault.StateHalfOpen)
	}); n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

// FuzzRecordExecution: any execution metrics are recorded without panic and
// leave a consistent snapshot.
func FuzzRecordExecution(f *testing.F) {
	f.Add("p", int64(time.Millisecond), true, "", 0, "closed")
	f.Add("", int64(-1), false, "CIRCUIT_OPEN", -3, "bogus")
	f.Add("x", int64(1<<62), false, "TIMEOUT", 1<<30, "open")
	f.Fuzz(func(t *testing.T, policy string, d int64, ok bool, code string, retries int, state string) {
		r := newRecorder(t, metrics.WithMaxPolicies(1))
		m := fault.NewExecutionMetrics(policy, time.Duration(d), ok).WithRetryAttempts(retries).WithCircuitState(state)
		m.ErrorCode = fault.ErrorCode(code)
		r.RecordExecution(context.Background(), m)
		r.RecordCircuitState(context.Background(), policy, state)
		s := r.Snapshot()
		var total uint64
		for name, p := range s.Policies {
			checkIdentities(t, name, p)
			total += p.Executions
		}
		if total != 1 {
			t.Fatalf("%d executions recorded", total)
		}
	})
}
