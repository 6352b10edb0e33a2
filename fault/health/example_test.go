package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

type breaker struct{ state string }

func (b breaker) CircuitState() string { return b.state }

func ExampleRegistry_Readiness() {
	h := health.New()
	_ = h.Register(health.Check{
		Name:     "postgres",
		Checker:  health.CheckFunc(func(ctx context.Context) error { return nil }), // e.g. db.PingContext
		Critical: true,
		Timeout:  500 * time.Millisecond,
		Interval: 5 * time.Second,
	})
	_ = h.Register(health.Check{
		Name:    "recommendations",
		Checker: health.CircuitBreaker(breaker{fault.StateOpen}), // a *circuitbreaker.Breaker
	})
	rep := h.Readiness(context.Background())
	fmt.Println("status:", rep.Status)
	for _, c := range rep.Checks {
		fmt.Printf("%s: %s (observed %v) %q\n", c.Key, c.Status, c.Observed, c.Output())
	}
	// Output:
	// status: warn
	// postgres: pass (observed <nil>) ""
	// recommendations:state: fail (observed open) "health: circuit breaker is open"
}

func ExampleRegistry_ReadinessHandler() {
	h := health.New(health.WithServiceID("orders"))
	_ = h.Register(health.Check{
		Name:     "postgres",
		Critical: true,
		Checker:  health.CheckFunc(func(context.Context) error { return errors.New("connection refused") }),
	})
	for _, probe := range []struct {
		path string
		h    http.Handler
	}{{"/livez", h.LivenessHandler()}, {"/readyz", h.ReadinessHandler()}} {
		rec := httptest.NewRecorder()
		probe.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, probe.path, nil))
		fmt.Println(probe.path, rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// /livez 200 application/health+json
	// /readyz 503 application/health+json
}

func ExampleWarn() {
	h := health.New()
	_ = h.Register(health.Check{
		Name:        "replica",
		Measurement: "lag",
		Critical:    true,
		Checker: health.ObserveFunc(func(context.Context) (health.Observation, error) {
			lag := 45 * time.Second
			obs := health.Observation{Value: lag.Seconds(), Unit: "s"}
			if lag > 30*time.Second {
				return obs, health.Warn(fmt.Errorf("replica %v behind", lag))
			}
			return obs, nil
		}),
	})
	rep := h.Report(context.Background())
	fmt.Println(rep.Status, rep.Checks[0].Key, rep.Checks[0].Observed, rep.Checks[0].Unit, rep.Checks[0].Output())
	// Output: warn replica:lag 45 s replica 45s behind
}

// A service with health probes and a graceful shutdown: when shutdown
// starts, readiness answers 503 at once while liveness stays 200, so
// Kubernetes stops routing traffic without restarting the pod. (The complete
// main, with the Kubernetes configuration, is in fault/shutdown's README.)
func Example_probesDuringShutdown() {
	h := health.New()
	mux := http.NewServeMux()
	mux.Handle("GET /livez", h.LivenessHandler())
	mux.Handle("GET /readyz", h.ReadinessHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	probe := func(path string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s %d %s\n", path, res.StatusCode, body)
	}
	m, err := shutdown.New(
		shutdown.WithReadiness(h),
		// Look at the probes while the sequence runs, right after step 1.
		shutdown.WithReadiness(shutdown.ReadinessFunc(func(bool) { probe("/readyz"); probe("/livez") })),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	probe("/readyz")
	res, err := m.Shutdown(context.Background())
	fmt.Println(res.Reason, err)
	// Output:
	// /readyz 200 {"status":"pass"}
	// /readyz 503 {"status":"fail","output":"not ready: the readiness gate is closed"}
	// /livez 200 {"status":"pass"}
	// Shutdown called <nil>
}
