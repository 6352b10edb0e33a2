package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

func ExampleNew() {
	rec, err := faultprom.New() // a registry of its own, never the global one
	if err != nil {
		panic(err)
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = rec // the executor reports here
	cfg.LoggerEnabled = false
	exec, err := executor.New[string](cfg)
	if err != nil {
		panic(err)
	}
	if err := exec.RegisterPolicy(fault.PolicyConfig{Name: "payment-service"}); err != nil {
		panic(err)
	}
	_, _ = exec.Do(context.Background(), "payment-service", func(context.Context) (string, error) { return "paid", nil })

	// Serve rec.Handler() on /metrics; here we scrape it once.
	w := httptest.NewRecorder()
	rec.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(line, "fault_executions_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// fault_executions_total{outcome="success",policy="payment-service",reason=""} 1
}
