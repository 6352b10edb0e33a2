package otel_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authcorp/libs/go/src/fault"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

// The recorder goes into ExecutorConfig.MetricsRecorder; here it is called
// directly, as the executor would, and a manual reader shows what an
// exporter would receive.
func ExampleNewRecorder() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	rec, err := faultotel.NewRecorder(mp)
	if err != nil {
		panic(err)
	}
	defer rec.Close()
	_ = fault.ExecutorConfig{MetricsEnabled: true, MetricsRecorder: rec}

	ctx := context.Background()
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", 120*time.Millisecond, true))
	rec.RecordCircuitState(ctx, "payment-service", fault.StateOpen)
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", 0, false).
		WithError(fault.NewCircuitOpenError("payment-service", "", time.Time{}, 30*time.Second, 1)))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				fmt.Printf("%s %s = %d\n", m.Name, attrs(dp.Attributes), dp.Value)
			}
		case metricdata.Gauge[int64]:
			for _, dp := range d.DataPoints {
				fmt.Printf("%s %s = %d\n", m.Name, attrs(dp.Attributes), dp.Value)
			}
		}
	}
	// Unordered output:
	// fault.execution.count fault.outcome=success,fault.policy=payment-service = 1
	// fault.execution.count error.type=circuit_open,fault.outcome=rejected,fault.policy=payment-service = 1
	// fault.rejections fault.pattern=circuit_breaker,fault.policy=payment-service,fault.reason=circuit_open = 1
	// fault.circuit.transitions fault.circuit.state=open,fault.pattern=circuit_breaker,fault.policy=payment-service = 1
	// fault.circuit.state fault.pattern=circuit_breaker,fault.policy=payment-service = 2
}

// The tracer goes into ExecutorConfig.Tracer; the executor starts a span per
// execution, reports each attempt, copies the trace ID into the metrics and
// ends the span with them.
func ExampleNewTracer() {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())

	tr, err := faultotel.NewTracer(tp)
	if err != nil {
		panic(err)
	}
	_ = fault.ExecutorConfig{TracingEnabled: true, Tracer: tr}

	_, span := tr.Start(context.Background(), "payment-service")
	span.Attempt(1, fault.NewTimeoutError("payment-service", "", time.Second, "attempt"))
	span.Attempt(2, nil)
	m := fault.NewExecutionMetrics("payment-service", 1100*time.Millisecond, true).
		WithRetryAttempts(1).WithTraceID(span.TraceID())
	span.End(m)

	s := sr.Ended()[0]
	fmt.Println(s.Name(), len(s.Events()), "attempts", s.Status().Code)
	fmt.Println(attrs(attributeSet(s.Attributes())))
	fmt.Println(m.TraceID == s.SpanContext().TraceID().String())
	// Output:
	// fault.execute payment-service 2 attempts Unset
	// fault.outcome=success,fault.policy=payment-service,fault.retry.attempts=1
	// true
}
