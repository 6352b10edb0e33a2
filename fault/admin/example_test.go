package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/executor"
)

func Example() {
	events, _ := admin.NewEvents() // the executor reports transitions and rejections here
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = events // or metrics.NewFanOut(events, prometheusRecorder, ...)
	cfg.LoggerEnabled = false
	exec, _ := executor.New[string](cfg)
	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "payment-service",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1}})

	h, err := admin.New(admin.WithRegistry(exec.Registry()), admin.WithEvents(events),
		admin.WithAuthorizer(func(r *http.Request) (string, error) {
			user, pass, ok := r.BasicAuth()
			if !ok || user != "ops" || pass != "secret" { // use a real check
				return "", admin.ErrForbidden
			}
			return user, nil
		}))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/fault/", http.StripPrefix("/debug/fault", h))

	exec.Execute(context.Background(), "payment-service", func() error { return fmt.Errorf("down") })

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/fault/api/v1/policies/payment-service", nil))
	body := w.Body.String()
	fmt.Println(w.Code, strings.Contains(body, `"status":"open"`))

	w = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/debug/fault/api/v1/policies/payment-service/breaker/reset", nil)
	r.SetBasicAuth("ops", "secret")
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"state":"closed"`))
	// Output:
	// 200 true
	// 200 true
}
