package faultgrpc_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

func healthClient(t *testing.T, hs *faultgrpc.HealthServer) healthpb.HealthClient {
	t.Helper()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	return healthpb.NewHealthClient(startServer(t, srv))
}

func TestHealthCheckFollowsReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := health.New()
		var failing atomic.Bool
		if err := reg.Register(health.Check{Name: "db", Critical: true, Checker: health.CheckFunc(func(context.Context) error {
			if failing.Load() {
				return errors.New("down")
			}
			return nil
		})}); err != nil {
			t.Fatal(err)
		}
		hs, err := faultgrpc.NewHealthServer(reg, faultgrpc.WithHealthServices("grpc.testing.TestService"))
		if err != nil {
			t.Fatal(err)
		}
		c := healthClient(t, hs)
		check := func(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
			r, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
			return r.GetStatus(), err
		}
		for _, name := range []string{"", "grpc.testing.TestService"} {
			if st, err := check(name); err != nil || st != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("%q: %v %v, want SERVING", name, st, err)
			}
		}
		if _, err := check("other"); status.Code(err) != codes.NotFound {
			t.Fatalf("unknown service: %v, want NOT_FOUND", err)
		}
		failing.Store(true)
		if st, _ := check(""); st != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("failing critical check: %v, want NOT_SERVING", st)
		}
		failing.Store(false)
		hs.SetReady(false)
		if st, _ := check(""); st != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("gate closed: %v, want NOT_SERVING", st)
		}
		l, err := c.List(context.Background(), &healthpb.HealthListRequest{})
		if err != nil || len(l.GetStatuses()) != 2 {
			t.Fatalf("List: %v %v", l, err)
		}
		for _, name := range []string{"", "grpc.testing.TestService"} {
			if st := l.GetStatuses()[name].GetStatus(); st != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("List[%q] = %v with the gate closed, want NOT_SERVING", name, st)
			}
		}
	})
}

// TestHealthWatchFlipsOnShutdown: a Watch stream sees NOT_SERVING as soon
// as shutdown starts (the HealthServer is the shutdown's readiness), not at
// the next WithWatchInterval; a Watch of an unknown service gets
// SERVICE_UNKNOWN. (TestHealthWatchPolls covers a failing check.)
func TestHealthWatchFlipsOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := health.New()
		hs, err := faultgrpc.NewHealthServer(reg, faultgrpc.WithWatchInterval(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c := healthClient(t, hs)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("first: %v %v", r, err)
		}
		m, err := shutdown.New(shutdown.WithReadiness(hs), shutdown.WithTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		go func() { _, _ = m.Shutdown(context.Background()) }()
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("after shutdown: %v %v", r, err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("NOT_SERVING after %v, want at once", d)
		}
		synctest.Wait()

		// Unknown services are SERVICE_UNKNOWN.
		w2, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w2.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
			t.Fatalf("unknown: %v %v", r, err)
		}
	})
}

func TestHealthWatchPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := health.New()
		failing := make(chan struct{})
		if err := reg.Register(health.Check{Name: "db", Critical: true, Checker: health.CheckFunc(func(context.Context) error {
			select {
			case <-failing:
				return errors.New("down")
			default:
				return nil
			}
		})}); err != nil {
			t.Fatal(err)
		}
		hs, err := faultgrpc.NewHealthServer(reg, faultgrpc.WithWatchInterval(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c := healthClient(t, hs)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		close(failing)
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("%v %v", r, err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("change seen after %v, want the 3s interval", d)
		}
	})
}

func TestHealthNilRegistry(t *testing.T) {
	_, err := faultgrpc.NewHealthServer(nil)
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || ip.Field != "Registry" {
		t.Fatalf("err = %v", err)
	}
}

// TestHealthCloseEndsWatchers: Close ends every Watch stream (after
// NOT_SERVING), so GracefulStop is not held up by watchers.
func TestHealthCloseEndsWatchers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, err := faultgrpc.NewHealthServer(health.New())
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, hs)
		c := healthpb.NewHealthClient(startServer(t, srv))
		w, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("%v %v", r, err)
		}
		hs.Close()
		hs.Close()
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("%v %v", r, err)
		}
		if _, err := w.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("after Close: %v, want UNAVAILABLE", err)
		}
		srv.GracefulStop() // returns: no stream left open
		if r, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("Check after Close: %v %v", r, err)
		}
	})
}
