package otel_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/authcorp/libs/go/src/fault"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

var (
	errOp      = errors.New("boom")
	errOpen    = fault.NewCircuitOpenError("p", "", time.Time{}, time.Second, 0.5)
	errLimited = fault.NewRateLimitError("p", "", time.Second, 10, time.Second, 10)
	errFull    = fault.NewBulkheadFullError("p", "", "full", 1, 0, 0)
	errTimeout = fault.NewTimeoutError("p", "", time.Second, "attempt")
	errRetry   = fault.NewRetryExhaustedError("p", "", 3, time.Second, []error{errOp})
)

func exec(policy string, d time.Duration, err error) fault.ExecutionMetrics {
	return fault.NewExecutionMetrics(policy, d, err == nil).WithError(err)
}

// sdk is a real SDK MeterProvider with a manual reader.
type sdk struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newSDK(t testing.TB) *sdk {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &sdk{reader: reader, mp: mp}
}

func newRecorder(t testing.TB, s *sdk, opts ...faultotel.Option) *faultotel.Recorder {
	t.Helper()
	r, err := faultotel.NewRecorder(s.mp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// collect returns the metrics of the fault scope by name.
func (s *sdk) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != faultotel.ScopeName {
			t.Fatalf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrs renders an attribute set as "k=v,k=v" in key order.
func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// sums returns a counter's data points as attrs -> value.
func sums(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: data %T, want Sum[int64]", m.Name, m.Data)
	}
	if !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: monotonic %v temporality %v", m.Name, sum.IsMonotonic, sum.Temporality)
	}
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		out[attrs(dp.Attributes)] = dp.Value
	}
	return out
}

func checkPoints[V comparable](t *testing.T, name string, got, want map[string]V) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d points, want %d:\n got %v\nwant %v", name, len(got), len(want), got, want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s{%s} = %v (present %v), want %v", name, k, g, ok, w)
		}
	}
}

func TestRecorderInstruments(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	r.RecordExecution(ctx, exec("pay", 20*time.Millisecond, nil))
	r.RecordExecution(ctx, exec("pay", 30*time.Millisecond, nil).WithRetryAttempts(1))
	r.RecordExecution(ctx, exec("pay", time.Second, errOp))
	r.RecordExecution(ctx, exec("pay", 2*time.Second, errTimeout))
	r.RecordExecution(ctx, exec("pay", 3*time.Second, errRetry))
	r.RecordExecution(ctx, exec("pay", 0, errOpen).WithCircuitState(fault.StateOpen))
	r.RecordExecution(ctx, exec("pay", 0, errOpen))
	r.RecordExecution(ctx, exec("pay", 0, errLimited))
	r.RecordExecution(ctx, exec("pay", 0, errFull))
	r.RecordExecution(ctx, exec("cart", -time.Second, nil)) // negative: recorded as 0
	r.RecordRetryAttempt(ctx, "pay", 2)
	r.RecordRetryAttempt(ctx, "pay", 3)
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	r.RecordCircuitState(ctx, "pay", fault.StateHalfOpen)
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	r.RecordCircuitState(ctx, "pay", "bogus") // ignored
	r.RecordCircuitState(ctx, "cart", fault.StateClosed)
	r.RecordRateLimit(ctx, "pay", true)
	r.RecordRateLimit(ctx, "pay", false)
	r.RecordRateLimit(ctx, "pay", false)
	r.RecordBulkheadQueue(ctx, "pay", true)
	r.RecordBulkheadQueue(ctx, "pay", false)

	got := s.collect(t)
	units := map[string]string{
		"fault.execution.duration":  "s",
		"fault.execution.count":     "{execution}",
		"fault.rejections":          "{rejection}",
		"fault.retry.attempts":      "{attempt}",
		"fault.circuit.state":       "{state}",
		"fault.circuit.transitions": "{transition}",
		"fault.ratelimit.requests":  "{request}",
		"fault.bulkhead.requests":   "{request}",
	}
	if len(got) != len(units) {
		t.Errorf("%d instruments reported, want %d", len(got), len(units))
	}
	for name, unit := range units {
		m, ok := got[name]
		if !ok {
			t.Errorf("instrument %s missing", name)
			continue
		}
		if m.Unit != unit || m.Description == "" {
			t.Errorf("%s: unit %q description %q, want unit %q", name, m.Unit, m.Description, unit)
		}
	}

	checkPoints(t, "fault.execution.count", sums(t, got["fault.execution.count"]), map[string]int64{
		"fault.outcome=success,fault.policy=pay":                            2,
		"error.type=_OTHER,fault.outcome=failure,fault.policy=pay":          1,
		"error.type=timeout,fault.outcome=failure,fault.policy=pay":         1,
		"error.type=retry_exhausted,fault.outcome=failure,fault.policy=pay": 1,
		"error.type=circuit_open,fault.outcome=rejected,fault.policy=pay":   2,
		"error.type=rate_limited,fault.outcome=rejected,fault.policy=pay":   1,
		"error.type=bulkhead_full,fault.outcome=rejected,fault.policy=pay":  1,
		"fault.outcome=success,fault.policy=cart":                           1,
	})
	checkPoints(t, "fault.rejections", sums(t, got["fault.rejections"]), map[string]int64{
		"fault.pattern=circuit_breaker,fault.policy=pay,fault.reason=circuit_open": 2,
		"fault.pattern=rate_limit,fault.policy=pay,fault.reason=rate_limited":      1,
		"fault.pattern=bulkhead,fault.policy=pay,fault.reason=bulkhead_full":       1,
	})
	checkPoints(t, "fault.retry.attempts", sums(t, got["fault.retry.attempts"]), map[string]int64{
		"fault.pattern=retry,fault.policy=pay": 2,
	})
	checkPoints(t, "fault.circuit.transitions", sums(t, got["fault.circuit.transitions"]), map[string]int64{
		"fault.circuit.state=open,fault.pattern=circuit_breaker,fault.policy=pay":      2,
		"fault.circuit.state=half-open,fault.pattern=circuit_breaker,fault.policy=pay": 1,
		"fault.circuit.state=closed,fault.pattern=circuit_breaker,fault.policy=cart":   1,
	})
	checkPoints(t, "fault.ratelimit.requests", sums(t, got["fault.ratelimit.requests"]), map[string]int64{
		"fault.pattern=rate_limit,fault.policy=pay,fault.ratelimit.result=limited":  1,
		"fault.pattern=rate_limit,fault.policy=pay,fault.ratelimit.result=acquired": 2,
	})
	checkPoints(t, "fault.bulkhead.requests", sums(t, got["fault.bulkhead.requests"]), map[string]int64{
		"fault.bulkhead.result=queued,fault.pattern=bulkhead,fault.policy=pay":    1,
		"fault.bulkhead.result=immediate,fault.pattern=bulkhead,fault.policy=pay": 1,
	})

	gauge, ok := got["fault.circuit.state"].Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("fault.circuit.state: data %T, want Gauge[int64]", got["fault.circuit.state"].Data)
	}
	states := map[string]int64{}
	for _, dp := range gauge.DataPoints {
		states[attrs(dp.Attributes)] = dp.Value
	}
	checkPoints(t, "fault.circuit.state", states, map[string]int64{
		"fault.pattern=circuit_breaker,fault.policy=pay":  faultotel.GaugeOpen,
		"fault.pattern=circuit_breaker,fault.policy=cart": faultotel.GaugeClosed,
	})

	hist, ok := got["fault.execution.duration"].Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("fault.execution.duration: data %T", got["fault.execution.duration"].Data)
	}
	type h struct {
		count uint64
		sum   float64
	}
	hs := map[string]h{}
	for _, dp := range hist.DataPoints {
		hs[attrs(dp.Attributes)] = h{dp.Count, dp.Sum}
		if fmt.Sprint(dp.Bounds) != fmt.Sprint(faultotel.DefaultDurationBoundaries) {
			t.Errorf("bounds %v", dp.Bounds)
		}
	}
	checkPoints(t, "fault.execution.duration", hs, map[string]h{
		"fault.outcome=success,fault.policy=pay":                            {2, 0.05},
		"error.type=_OTHER,fault.outcome=failure,fault.policy=pay":          {1, 1},
		"error.type=timeout,fault.outcome=failure,fault.policy=pay":         {1, 2},
		"error.type=retry_exhausted,fault.outcome=failure,fault.policy=pay": {1, 3},
		"error.type=circuit_open,fault.outcome=rejected,fault.policy=pay":   {2, 0},
		"error.type=rate_limited,fault.outcome=rejected,fault.policy=pay":   {1, 0},
		"error.type=bulkhead_full,fault.outcome=rejected,fault.policy=pay":  {1, 0},
		"fault.outcome=success,fault.policy=cart":                           {1, 0},
	})

	// Close unregisters the gauge: it is no longer reported.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.collect(t)["fault.circuit.state"]; ok {
		t.Error("fault.circuit.state still reported after Close")
	}
}

// TestRejectionMatchesContract: fault.rejections counts exactly the codes
// fault.ErrorCode.Rejection names.
// gaugeOf returns the fault.circuit.state value of a policy, and whether
// it is reported.
func (s *sdk) gaugeOf(t *testing.T, policy string) (int64, bool) {
	t.Helper()
	g, ok := s.collect(t)[faultotel.MetricCircuitState].Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("no %s gauge", faultotel.MetricCircuitState)
	}
	for _, dp := range g.DataPoints {
		if v, _ := dp.Attributes.Value(faultotel.AttrPolicy); v.AsString() == policy {
			return dp.Value, true
		}
	}
	return 0, false
}

// TestLateExecutionDoesNotUndoATransition: the executor reads the breaker's
// state when an execution ends and reports it a moment later; a transition
// recorded in between is newer, and the late record must not put the old
// state back on the gauge (an alert on "== open" would miss the open
// breaker).
func TestLateExecutionDoesNotUndoATransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSDK(t)
		r := newRecorder(t, s)
		ctx := context.Background()
		began := time.Now()
		r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(began))
		time.Sleep(2 * time.Millisecond) // the transition comes after that execution ended
		r.RecordCircuitState(ctx, "p", fault.StateOpen)
		// An execution that ended before the transition, reported after it.
		r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(began))
		if v, ok := s.gaugeOf(t, "p"); !ok || v != faultotel.GaugeOpen {
			t.Fatalf("gauge %d (reported %v) after a late record of an older execution, want %d (open)", v, ok, faultotel.GaugeOpen)
		}
		// An execution that ended after the transition reports the current
		// state (a policy registered again gets a fresh, closed breaker that
		// reports no transition).
		r.RecordExecution(ctx, exec("p", time.Millisecond, nil).WithCircuitState(fault.StateClosed).WithStartTime(time.Now()))
		if v, _ := s.gaugeOf(t, "p"); v != faultotel.GaugeClosed {
			t.Fatalf("gauge %d after a newer execution, want %d (closed)", v, faultotel.GaugeClosed)
		}
		// Without a start time, an execution's state is taken as it is.
		r.RecordExecution(ctx, exec("p", 0, errOpen).WithCircuitState(fault.StateOpen))
		if v, _ := s.gaugeOf(t, "p"); v != faultotel.GaugeOpen {
			t.Fatalf("gauge %d, want %d (open)", v, faultotel.GaugeOpen)
		}
	})
}

func TestRejectionMatchesContract(t *testing.T) {
	codes := []fault.ErrorCode{"", fault.ErrCodeCircuitOpen, fault.ErrCodeRateLimited, fault.ErrCodeTimeout,
		fault.ErrCodeBulkheadFull, fault.ErrCodeRetryExhausted, fault.ErrCodeInvalidPolicy, fault.ErrCodeShuttingDown, fault.ErrCodeThrottled, "SOMETHING_NEW"}
	for _, code := range codes {
		s := newSDK(t)
		r := newRecorder(t, s)
		m := fault.NewExecutionMetrics("p", 0, false)
		m.ErrorCode = code
		r.RecordExecution(context.Background(), m)
		_, rejected := s.collect(t)["fault.rejections"]
		if rejected != code.Rejection() {
			t.Errorf("code %q: counted as rejection %v, contract says %v", code, rejected, code.Rejection())
		}
	}
}

func TestRecorderMaxPolicies(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s, faultotel.WithMaxPolicies(2))
	for i := range 5 {
		r.RecordExecution(context.Background(), exec(fmt.Sprint("p", i), 0, nil))
		r.RecordCircuitState(context.Background(), fmt.Sprint("p", i), fault.StateOpen)
	}
	checkPoints(t, "fault.execution.count", sums(t, s.collect(t)["fault.execution.count"]), map[string]int64{
		"fault.outcome=success,fault.policy=p0":        1,
		"fault.outcome=success,fault.policy=p1":        1,
		"fault.outcome=success,fault.policy=_overflow": 3,
	})
	if n := len(s.collect(t)["fault.circuit.state"].Data.(metricdata.Gauge[int64]).DataPoints); n != 3 {
		t.Errorf("%d gauge points, want 3", n)
	}
}

// TestPolicyNamedLikeTheOverflow: a policy named "_overflow" (a valid fault
// policy name) is reported with the overflow, not as a second set of series
// with the same fault.policy value that also takes a place under the cap.
func TestPolicyNamedLikeTheOverflow(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s, faultotel.WithMaxPolicies(1))
	ctx := context.Background()
	r.RecordCircuitState(ctx, faultotel.OverflowPolicy, fault.StateOpen)
	r.RecordCircuitState(ctx, "a", fault.StateClosed)
	if v, ok := s.gaugeOf(t, "a"); !ok || v != faultotel.GaugeClosed {
		t.Errorf("policy a: gauge %d (reported %v), want its own series at %d", v, ok, faultotel.GaugeClosed)
	}
	if v, ok := s.gaugeOf(t, faultotel.OverflowPolicy); !ok || v != faultotel.GaugeOpen {
		t.Errorf("_overflow: gauge %d (reported %v), want %d", v, ok, faultotel.GaugeOpen)
	}
}

func TestRecorderOptionsAndNilInputs(t *testing.T) {
	for _, o := range []faultotel.Option{faultotel.WithMaxPolicies(0), faultotel.WithDurationBoundaries(1, 1), faultotel.WithDurationBoundaries(2, 1)} {
		if _, err := faultotel.NewRecorder(newSDK(t).mp, o); !errors.Is(err, faultotel.ErrInvalidOption) {
			t.Errorf("bad option accepted: %v", err)
		}
		if _, err := faultotel.NewTracer(nil, o); !errors.Is(err, faultotel.ErrInvalidOption) {
			t.Errorf("bad tracer option accepted: %v", err)
		}
	}
	s := newSDK(t)
	r := newRecorder(t, s, nil, faultotel.WithDurationBoundaries(0.1, 1))
	var nilCtx context.Context // a nil context must not panic
	r.RecordExecution(nilCtx, exec("p", 500*time.Millisecond, nil))
	hist := s.collect(t)["fault.execution.duration"].Data.(metricdata.Histogram[float64])
	if got := hist.DataPoints[0]; fmt.Sprint(got.Bounds) != "[0.1 1]" || fmt.Sprint(got.BucketCounts) != "[0 1 0]" {
		t.Errorf("custom bounds: %v %v", got.Bounds, got.BucketCounts)
	}
	// A nil provider means the global one (a no-op unless set).
	g, err := faultotel.NewRecorder(nil)
	if err != nil {
		t.Fatal(err)
	}
	g.RecordExecution(context.Background(), exec("p", 0, nil))
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecorderConcurrent: counts add up exactly under concurrent recording.
func TestRecorderConcurrent(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s, faultotel.WithMaxPolicies(4))
	var wg sync.WaitGroup
	const goroutines, each = 8, 500
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.RecordExecution(context.Background(), exec(fmt.Sprint("p", (g+i)%6), time.Millisecond, []error{nil, errOp, errOpen}[i%3]))
			}
		})
	}
	wg.Wait()
	var total int64
	for _, v := range sums(t, s.collect(t)["fault.execution.count"]) {
		total += v
	}
	if total != goroutines*each {
		t.Fatalf("total %d, want %d", total, goroutines*each)
	}
}

func TestRecorderAllocs(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	m := exec("pay", time.Millisecond, errOpen)
	r.RecordExecution(ctx, m)
	r.RecordRetryAttempt(ctx, "pay", 2)
	if n := testing.AllocsPerRun(1000, func() {
		r.RecordExecution(ctx, m)
		r.RecordRetryAttempt(ctx, "pay", 2)
	}); n != 0 {
		t.Errorf("%v allocations per execution with the SDK", n)
	}
}

// FuzzDurationBoundaries: any boundaries are either refused with
// ErrInvalidOption or accepted and used, never a panic.
func FuzzDurationBoundaries(f *testing.F) {
	f.Add(0.1, 1.0, 10.0, 0.5)
	f.Add(1.0, 1.0, 2.0, -1.0)
	f.Add(-5.0, 0.0, 1e300, 1e-300)
	f.Fuzz(func(t *testing.T, a, b, c, d float64) {
		s := newSDK(t)
		r, err := faultotel.NewRecorder(s.mp, faultotel.WithDurationBoundaries(a, b, c))
		if err != nil {
			if !errors.Is(err, faultotel.ErrInvalidOption) {
				t.Fatalf("unexpected error %v", err)
			}
			if a < b && b < c {
				t.Fatalf("valid boundaries %v %v %v refused: %v", a, b, c, err)
			}
			return
		}
		defer r.Close()
		r.RecordExecution(context.Background(), exec("p", time.Duration(d*float64(time.Second)), nil))
		if n := len(s.collect(t)["fault.execution.duration"].Data.(metricdata.Histogram[float64]).DataPoints); n != 1 {
			t.Fatalf("%d histogram points", n)
		}
	})
}
