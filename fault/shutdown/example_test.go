package shutdown_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

// A complete main: an HTTP server with liveness and readiness probes and a
// graceful shutdown. In production main calls m.Wait, which returns after
// SIGTERM; here Shutdown is called programmatically while a request is in
// flight, and that request still completes.
func Example() {
	// Health: probes for Kubernetes, checks for the dependencies.
	h := health.New(health.WithServiceID("orders"))
	_ = h.Register(health.Check{
		Name:     "postgres",
		Critical: true,
		Timeout:  500 * time.Millisecond,
		Interval: 5 * time.Second,
		Checker:  health.Ping(func(ctx context.Context) error { return nil }), // db.PingContext
	})

	finish := make(chan struct{})
	// Shutdown: not ready → delay → stop accepting → drain → hooks.
	m, err := shutdown.New(
		shutdown.WithService("orders"),
		shutdown.WithReadiness(h),
		shutdown.WithReadiness(shutdown.ReadinessFunc(func(bool) {
			fmt.Println("shutdown: not ready")
			close(finish) // the slow request may now complete, during the drain
		})),
		shutdown.WithPropagationDelay(0), // 5*time.Second on Kubernetes: see the README
		shutdown.WithDrainTimeout(15*time.Second),
		shutdown.WithTimeout(25*time.Second),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	tr := m.Tracker()

	inFlight := make(chan struct{})

	mux := http.NewServeMux()
	mux.Handle("GET /livez", h.LivenessHandler())
	mux.Handle("GET /readyz", h.ReadinessHandler())
	mux.Handle("GET /orders", tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-finish // slow work
		fmt.Fprint(w, "order 42")
	})))
	srv := &http.Server{Handler: mux, BaseContext: tr.BaseContext, ReadHeaderTimeout: 5 * time.Second}
	_ = m.AddServer(srv)
	_ = m.AddHook(shutdown.Hook{Name: "postgres", Run: func(ctx context.Context) error {
		fmt.Println("hook: closing the database pool")
		return nil
	}})

	ln, err := net.Listen("tcp", "127.0.0.1:0") // ":8080" in production
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	// A request is in flight when shutdown starts...
	answer := make(chan string, 1)
	go func() {
		res, err := http.Get(url + "/orders")
		if err != nil {
			answer <- err.Error()
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		answer <- fmt.Sprintf("%d %s", res.StatusCode, body)
	}()
	<-inFlight

	// ...when shutdown starts; in production: res, err := m.Wait(context.Background())
	res, err := m.Shutdown(context.Background())
	fmt.Println("in-flight request:", <-answer)
	fmt.Println("server:", <-served)
	fmt.Println("readiness:", h.Readiness(context.Background()).Status)
	fmt.Println("liveness:", h.Liveness(context.Background()).Status)
	fmt.Println("abandoned:", res.Abandoned, "error:", err)
	// Output:
	// shutdown: not ready
	// hook: closing the database pool
	// in-flight request: 200 order 42
	// server: http: Server closed
	// readiness: fail
	// liveness: pass
	// abandoned: 0 error: <nil>
}
