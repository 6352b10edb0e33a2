package prometheus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

// TestExecutorTripsBreaker wires the Recorder into an executor and checks
// that failed calls open the breaker in fault_circuit_state.
func TestExecutorTripsBreaker(t *testing.T) {
	rec := mustNew(t)
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = rec
	cfg.LoggerEnabled = false
	ex, err := executor.New[int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "pay",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, SuccessThreshold: 1, HalfOpenMaxCalls: 1, Timeout: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for range 3 {
		ex.Do(context.Background(), "pay", func(context.Context) (int, error) { return 0, boom })
	}
	want := `
# HELP fault_circuit_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE fault_circuit_state gauge
fault_circuit_state{policy="pay",state="closed"} 0
fault_circuit_state{policy="pay",state="half-open"} 0
fault_circuit_state{policy="pay",state="open"} 1
# HELP fault_executions_total Executions through a resilience policy, by outcome and reason.
# TYPE fault_executions_total counter
fault_executions_total{outcome="failure",policy="pay",reason="error"} 2
fault_executions_total{outcome="rejected",policy="pay",reason="circuit_open"} 1
`
	if err := testutil.GatherAndCompare(rec.Gatherer(), strings.NewReader(want), faultprom.MetricCircuitState, faultprom.MetricExecutions); err != nil {
		t.Fatal(err)
	}
}
