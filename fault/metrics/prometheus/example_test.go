package prometheus_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

func ExampleNew() {
	rec, err := faultprom.New() // a registry of its own, never the global one
	if err != nil {
		panic(err)
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = rec // the executor reports here

	// What the executor does after each execution:
	rec.RecordExecution(context.Background(), fault.NewExecutionMetrics("payment-service", 20*time.Millisecond, true))

	// Serve rec.Handler() on /metrics; here we scrape it once.
	w := httptest.NewRecorder()
	rec.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(line, "fault_executions_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// fault_executions_total{outcome="success",policy="payment-service",reason=""} 1
}
