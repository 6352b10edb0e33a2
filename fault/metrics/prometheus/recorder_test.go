package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authcorp/libs/go/src/fault"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

var ctx = context.Background()

func mustNew(t testing.TB, opts ...faultprom.Option) *faultprom.Recorder {
	t.Helper()
	r, err := faultprom.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exec(name string, d time.Duration, err error) fault.ExecutionMetrics {
	return fault.NewExecutionMetrics(name, d, err == nil).WithError(err)
}

// record feeds one of every event to r, for the exposition tests.
func record(r *faultprom.Recorder) {
	r.RecordExecution(ctx, exec("pay", 3*time.Millisecond, nil))
	r.RecordExecution(ctx, exec("pay", 30*time.Millisecond, errors.New("boom")))
	r.RecordExecution(ctx, exec("pay", 0, fault.NewCircuitOpenError("pay", "", time.Time{}, time.Second, 1)))
	r.RecordExecution(ctx, exec("pay", 2*time.Second, fault.NewTimeoutError("pay", "", time.Second, fault.TimeoutAttempt)))
	r.RecordRetryAttempt(ctx, "pay", 2)
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	r.RecordRateLimit(ctx, "pay", true)
	r.RecordRateLimit(ctx, "pay", false)
	r.RecordBulkheadQueue(ctx, "pay", true)
	r.RecordTimeout(ctx, "pay", fault.TimeoutAttempt, time.Second)
	r.RecordBudgetRefusal(ctx, "pay", fault.PatternHedge)
	r.RecordThrottle(ctx, "pay", true, 0.25)
	r.RecordExecution(ctx, exec("pay", 5*time.Millisecond, nil).WithFallback(true))
	r.RecordHedge(ctx, "pay")
}

const wantExposition = `
# HELP fault_budget_refusals_total Retries and hedges a retry budget refused, by kind.
# TYPE fault_budget_refusals_total counter
fault_budget_refusals_total{kind="hedge",policy="pay"} 1
# HELP fault_bulkhead_admissions_total Bulkhead admissions: immediate or queued.
# TYPE fault_bulkhead_admissions_total counter
fault_bulkhead_admissions_total{policy="pay",result="queued"} 1
# HELP fault_circuit_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE fault_circuit_state gauge
fault_circuit_state{policy="pay",state="closed"} 0
fault_circuit_state{policy="pay",state="half-open"} 0
fault_circuit_state{policy="pay",state="open"} 1
# HELP fault_circuit_transitions_total Circuit breaker transitions, by the state entered.
# TYPE fault_circuit_transitions_total counter
fault_circuit_transitions_total{policy="pay",state="open"} 1
# HELP fault_execution_duration_seconds Duration of executions through a resilience policy, retries and waits included.
# TYPE fault_execution_duration_seconds histogram
fault_execution_duration_seconds_bucket{outcome="failure",policy="pay",le="0.01"} 0
fault_execution_duration_seconds_bucket{outcome="failure",policy="pay",le="0.1"} 1
fault_execution_duration_seconds_bucket{outcome="failure",policy="pay",le="+Inf"} 2
fault_execution_duration_seconds_sum{outcome="failure",policy="pay"} 2.03
fault_execution_duration_seconds_count{outcome="failure",policy="pay"} 2
fault_execution_duration_seconds_bucket{outcome="fallback",policy="pay",le="0.01"} 1
fault_execution_duration_seconds_bucket{outcome="fallback",policy="pay",le="0.1"} 1
fault_execution_duration_seconds_bucket{outcome="fallback",policy="pay",le="+Inf"} 1
fault_execution_duration_seconds_sum{outcome="fallback",policy="pay"} 0.005
fault_execution_duration_seconds_count{outcome="fallback",policy="pay"} 1
fault_execution_duration_seconds_bucket{outcome="rejected",policy="pay",le="0.01"} 1
fault_execution_duration_seconds_bucket{outcome="rejected",policy="pay",le="0.1"} 1
fault_execution_duration_seconds_bucket{outcome="rejected",policy="pay",le="+Inf"} 1
fault_execution_duration_seconds_sum{outcome="rejected",policy="pay"} 0
fault_execution_duration_seconds_count{outcome="rejected",policy="pay"} 1
fault_execution_duration_seconds_bucket{outcome="success",policy="pay",le="0.01"} 1
fault_execution_duration_seconds_bucket{outcome="success",policy="pay",le="0.1"} 1
fault_execution_duration_seconds_bucket{outcome="success",policy="pay",le="+Inf"} 1
fault_execution_duration_seconds_sum{outcome="success",policy="pay"} 0.003
fault_execution_duration_seconds_count{outcome="success",policy="pay"} 1
# HELP fault_executions_total Executions through a resilience policy, by outcome and reason.
# TYPE fault_executions_total counter
fault_executions_total{outcome="failure",policy="pay",reason="error"} 1
fault_executions_total{outcome="failure",policy="pay",reason="timeout"} 1
fault_executions_total{outcome="fallback",policy="pay",reason=""} 1
fault_executions_total{outcome="rejected",policy="pay",reason="circuit_open"} 1
fault_executions_total{outcome="success",policy="pay",reason=""} 1
# HELP fault_hedges_total Hedged attempts started: attempts sent beside a slow one.
# TYPE fault_hedges_total counter
fault_hedges_total{policy="pay"} 1
# HELP fault_ratelimit_requests_total Rate limiter decisions: acquired or limited.
# TYPE fault_ratelimit_requests_total counter
fault_ratelimit_requests_total{policy="pay",result="acquired"} 1
fault_ratelimit_requests_total{policy="pay",result="limited"} 1
# HELP fault_retries_total Retries: attempts after the first.
# TYPE fault_retries_total counter
fault_retries_total{policy="pay"} 1
# HELP fault_throttle_probability Adaptive throttle rejection probability at its last decision.
# TYPE fault_throttle_probability gauge
fault_throttle_probability{policy="pay"} 0.25
# HELP fault_throttle_requests_total Adaptive throttle decisions: admitted or throttled.
# TYPE fault_throttle_requests_total counter
fault_throttle_requests_total{policy="pay",result="throttled"} 1
# HELP fault_timeouts_total Time limits that fired, by limit (attempt or total).
# TYPE fault_timeouts_total counter
fault_timeouts_total{limit="attempt",policy="pay"} 1
`

// TestExposition scrapes the Recorder's handler over HTTP and compares the
// text with the expected exposition.
func TestExposition(t *testing.T) {
	r := mustNew(t, faultprom.WithBuckets(0.01, 0.1))
	record(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(wantExposition)); err != nil {
		t.Fatal(err)
	}
}

// TestLint runs promlint on everything the Recorder exposes.
func TestLint(t *testing.T) {
	r := mustNew(t)
	record(r)
	b := &fakeBulkhead{name: "pay", running: 2, queued: 1}
	if err := r.WatchBulkhead(b); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(r.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

type fakeBulkhead struct {
	name            string
	running, queued int
}

func (f *fakeBulkhead) Name() string { return f.name }
func (f *fakeBulkhead) Running() int { return f.running }
func (f *fakeBulkhead) Queued() int  { return f.queued }

func TestWatchBulkhead(t *testing.T) {
	r := mustNew(t)
	b := &fakeBulkhead{name: "db", running: 3, queued: 2}
	if err := r.WatchBulkhead(b); err != nil {
		t.Fatal(err)
	}
	if err := r.WatchBulkhead(&fakeBulkhead{name: "db"}); !errors.Is(err, faultprom.ErrInvalidOption) {
		t.Fatalf("second bulkhead named db: %v, want ErrInvalidOption", err)
	}
	if err := r.WatchBulkhead(nil); !errors.Is(err, faultprom.ErrInvalidOption) {
		t.Fatalf("nil bulkhead: %v, want ErrInvalidOption", err)
	}
	want := `
# HELP fault_bulkhead_queued Calls waiting for a bulkhead slot.
# TYPE fault_bulkhead_queued gauge
fault_bulkhead_queued{policy="db"} 2
# HELP fault_bulkhead_running Calls holding a bulkhead slot.
# TYPE fault_bulkhead_running gauge
fault_bulkhead_running{policy="db"} 3
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricBulkheadRunning, faultprom.MetricBulkheadQueued); err != nil {
		t.Fatal(err)
	}
	b.running = 0 // read at every scrape
	if got := testutil.ToFloat64(gaugeOf(t, r, faultprom.MetricBulkheadRunning)); got != 0 {
		t.Fatalf("running after change = %v, want 0", got)
	}
}

// gaugeOf returns a collector that yields only the named family of r's
// registry, for testutil.ToFloat64.
func gaugeOf(t *testing.T, r *faultprom.Recorder, name string) prom.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prom.Metric) {
		mfs, err := r.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					ch <- prom.MustNewConstMetric(prom.NewDesc(name, "x", nil, nil), prom.GaugeValue, m.GetGauge().GetValue())
				}
			}
		}
	})
}

type collectorFunc func(chan<- prom.Metric)

func (collectorFunc) Describe(chan<- *prom.Desc)      {}
func (f collectorFunc) Collect(ch chan<- prom.Metric) { f(ch) }

// TestRuleNeverTheGlobalRegistry: New without WithRegisterer leaves the
// global registry alone.
func TestRuleNeverTheGlobalRegistry(t *testing.T) {
	r := mustNew(t)
	record(r)
	mfs, err := prom.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "fault_") {
			t.Fatalf("%s is on the global registry", mf.GetName())
		}
	}
}

func TestWithRegisterer(t *testing.T) {
	reg := prom.NewRegistry()
	r := mustNew(t, faultprom.WithRegisterer(reg), faultprom.WithConstLabels(prom.Labels{"service": "shop"}))
	r.RecordRetryAttempt(ctx, "pay", 2)
	want := `
# HELP fault_retries_total Retries: attempts after the first.
# TYPE fault_retries_total counter
fault_retries_total{policy="pay",service="shop"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), faultprom.MetricRetries); err != nil {
		t.Fatal(err)
	}
	if _, err := faultprom.New(faultprom.WithRegisterer(reg), faultprom.WithConstLabels(prom.Labels{"service": "shop"})); err == nil {
		t.Fatal("a second Recorder with the same labels on one registry was accepted")
	}
	r.Unregister()
	if _, err := faultprom.New(faultprom.WithRegisterer(reg), faultprom.WithConstLabels(prom.Labels{"service": "shop"})); err != nil {
		t.Fatalf("after Unregister: %v", err)
	}
}

func TestRegistererNotGatherer(t *testing.T) {
	reg := prom.NewRegistry()
	r := mustNew(t, faultprom.WithRegisterer(prom.WrapRegistererWithPrefix("app_", reg)))
	if r.Gatherer() != nil {
		t.Fatal("Gatherer of a wrapping Registerer should be nil")
	}
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  faultprom.Option
		want string
	}{
		{faultprom.WithMaxPolicies(0), "WithMaxPolicies(0)"},
		{faultprom.WithRegisterer(nil), "WithRegisterer(nil)"},
		{faultprom.WithBuckets(), "WithBuckets()"},
		{faultprom.WithBuckets(1, 1), "strictly increasing"},
		{faultprom.WithBuckets(fnan()), "strictly increasing"},
		{faultprom.WithConstLabels(prom.Labels{"policy": "x"}), `"policy"`},
	} {
		_, err := faultprom.New(tc.opt)
		if !errors.Is(err, faultprom.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want ErrInvalidOption naming %s", err, tc.want)
		}
	}
	if _, err := faultprom.New(nil); err != nil {
		t.Fatalf("nil option: %v", err)
	}
}

func fnan() float64 { z := 0.0; return z / z }

// TestPolicyCap: names beyond WithMaxPolicies share the _overflow series,
// known names keep theirs, and a policy named _overflow is counted there.
func TestPolicyCap(t *testing.T) {
	r := mustNew(t, faultprom.WithMaxPolicies(2))
	for i := range 50 {
		r.RecordRetryAttempt(ctx, fmt.Sprintf("user-%d", i), 2)
	}
	r.RecordRetryAttempt(ctx, "user-0", 2)
	r.RecordRetryAttempt(ctx, faultprom.OverflowPolicy, 2)
	want := `
# HELP fault_retries_total Retries: attempts after the first.
# TYPE fault_retries_total counter
fault_retries_total{policy="_overflow"} 49
fault_retries_total{policy="user-0"} 2
fault_retries_total{policy="user-1"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricRetries); err != nil {
		t.Fatal(err)
	}
}

// TestCircuitStateGauge: one state is 1, the others 0; unknown states are
// ignored; an execution's CircuitState does not move the gauge.
func TestCircuitStateGauge(t *testing.T) {
	r := mustNew(t)
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	r.RecordCircuitState(ctx, "pay", fault.StateHalfOpen)
	r.RecordCircuitState(ctx, "pay", "sideways")
	r.RecordExecution(ctx, exec("pay", 0, nil).WithCircuitState(fault.StateClosed))
	want := `
# HELP fault_circuit_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE fault_circuit_state gauge
fault_circuit_state{policy="pay",state="closed"} 0
fault_circuit_state{policy="pay",state="half-open"} 1
fault_circuit_state{policy="pay",state="open"} 0
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricCircuitState); err != nil {
		t.Fatal(err)
	}
}

// TestBadValues: negative durations count as 0, NaN and out-of-range
// probabilities are clamped, unknown codes are "other"; nothing panics.
func TestBadValues(t *testing.T) {
	r := mustNew(t, faultprom.WithBuckets(1))
	r.RecordExecution(ctx, exec("p", -time.Second, nil))
	m := exec("p", 0, errors.New("x"))
	m.ErrorCode = "SOMETHING_NEW"
	r.RecordExecution(ctx, m)
	r.RecordThrottle(ctx, "p", false, fnan())
	r.RecordThrottle(ctx, "q", false, 7)
	r.RecordTimeout(ctx, "p", "weird", 0)
	r.RecordBudgetRefusal(ctx, "p", "weird")
	want := `
# HELP fault_executions_total Executions through a resilience policy, by outcome and reason.
# TYPE fault_executions_total counter
fault_executions_total{outcome="failure",policy="p",reason="other"} 1
fault_executions_total{outcome="success",policy="p",reason=""} 1
# HELP fault_throttle_probability Adaptive throttle rejection probability at its last decision.
# TYPE fault_throttle_probability gauge
fault_throttle_probability{policy="p"} 0
fault_throttle_probability{policy="q"} 1
# HELP fault_timeouts_total Time limits that fired, by limit (attempt or total).
# TYPE fault_timeouts_total counter
fault_timeouts_total{limit="attempt",policy="p"} 1
# HELP fault_budget_refusals_total Retries and hedges a retry budget refused, by kind.
# TYPE fault_budget_refusals_total counter
fault_budget_refusals_total{kind="retry",policy="p"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricExecutions,
		faultprom.MetricThrottleProb, faultprom.MetricTimeouts, faultprom.MetricBudgetRefusals); err != nil {
		t.Fatal(err)
	}
}

func TestRecordExecutionAllocs(t *testing.T) {
	r := mustNew(t)
	m := exec("pay", time.Millisecond, nil)
	r.RecordExecution(ctx, m)
	if n := testing.AllocsPerRun(1000, func() { r.RecordExecution(ctx, m) }); n != 0 {
		t.Fatalf("RecordExecution allocates %v times per call", n)
	}
	r.RecordRateLimit(ctx, "pay", false)
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	if n := testing.AllocsPerRun(1000, func() {
		r.RecordRateLimit(ctx, "pay", false)
		r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	}); n != 0 {
		t.Fatalf("event methods allocate %v times per call", n)
	}
	events := func() {
		r.RecordRetryAttempt(ctx, "pay", 2)
		r.RecordBulkheadQueue(ctx, "pay", true)
		r.RecordTimeout(ctx, "pay", fault.TimeoutTotal, time.Second)
		r.RecordBudgetRefusal(ctx, "pay", fault.PatternHedge)
		r.RecordThrottle(ctx, "pay", true, 0.5)
	}
	events() // resolves their children
	if n := testing.AllocsPerRun(1000, events); n != 0 {
		t.Fatalf("retry, bulkhead, timeout, budget and throttle events allocate %v times per round", n)
	}
}

// TestConcurrentCountsExact: goroutines recording at once, new policies
// appearing meanwhile, lose no count.
func TestConcurrentCountsExact(t *testing.T) {
	r := mustNew(t, faultprom.WithMaxPolicies(4))
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				r.RecordExecution(ctx, exec(fmt.Sprintf("p%d", (w+i)%6), time.Millisecond, nil))
			}
		})
	}
	wg.Wait()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total, series := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() == faultprom.MetricExecutions {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
				series++
			}
		}
	}
	if total != workers*per {
		t.Fatalf("counted %v executions, want %d", total, workers*per)
	}
	if series > 5 {
		t.Fatalf("%d series for a cap of 4 policies (+ overflow)", series)
	}
}

// TestRuleInvalidUTF8PolicyName: a policy name that is not UTF-8 becomes a
// valid label value instead of a panic in client_golang.
func TestRuleInvalidUTF8PolicyName(t *testing.T) {
	r := mustNew(t)
	r.RecordRetryAttempt(ctx, "a\xffb", 2)
	r.RecordRetryAttempt(ctx, "a\xfeb", 2) // same label value: shares the series
	want := `
# HELP fault_retries_total Retries: attempts after the first.
# TYPE fault_retries_total counter
fault_retries_total{policy="a�b"} 2
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricRetries); err != nil {
		t.Fatal(err)
	}
}
