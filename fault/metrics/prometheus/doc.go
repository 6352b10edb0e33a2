// Package prometheus is a fault.MetricsRecorder that counts resilience
// events into Prometheus collectors (github.com/prometheus/client_golang).
// It is a nested module so that client_golang reaches only the programs that
// import it.
//
// New creates the collectors and registers them with a registry of the
// Recorder's own (served by Recorder.Handler), or with the
// prometheus.Registerer given with WithRegisterer. It never registers on the
// global registry unless that is the Registerer it is given.
//
//	rec, err := prometheus.New()
//	if err != nil { ... }
//	cfg := fault.DefaultExecutorConfig()
//	cfg.MetricsRecorder = rec
//	http.Handle("/metrics", rec.Handler())
//
// The metrics, all with a policy label:
//
//	fault_executions_total{outcome,reason}        counter: success, failure, rejected or fallback, and why
//	fault_execution_duration_seconds{outcome}     histogram
//	fault_retries_total                           counter
//	fault_timeouts_total{limit}                   counter: attempt or total
//	fault_circuit_state{state}                    gauge: 1 for the current state, 0 for the others
//	fault_circuit_transitions_total{state}        counter, by the state entered
//	fault_ratelimit_requests_total{result}        counter: acquired or limited
//	fault_bulkhead_admissions_total{result}       counter: immediate or queued
//	fault_bulkhead_running, fault_bulkhead_queued gauges of watched bulkheads (WatchBulkhead)
//	fault_budget_refusals_total{kind}             counter: retry or hedge
//	fault_throttle_requests_total{result}         counter: admitted or throttled
//	fault_throttle_probability                    gauge
//	fault_hedges_total                            counter: hedged attempts started
//
// Every label but policy takes a value from a fixed set. Policy names are
// capped (WithMaxPolicies, default 256): later names share the series of
// OverflowPolicy, so the number of series is bounded whatever names callers
// pass. A series appears once something was recorded in it.
//
// Recording resolves each series' child once and keeps it: afterwards a
// RecordExecution is an atomic map read, a counter increment and a histogram
// observation, with no allocation and no lock.
package prometheus
