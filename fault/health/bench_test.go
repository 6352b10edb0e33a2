package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/health"
)

const benchChecks = 3

func benchChecker(context.Context) error { return nil }

func cachedRegistry(b *testing.B) *health.Registry {
	h := health.New()
	for i := range benchChecks {
		if err := h.Register(health.Check{Name: fmt.Sprint("dep", i), Critical: true, Interval: time.Hour,
			Checker: health.CheckFunc(benchChecker)}); err != nil {
			b.Fatal(err)
		}
	}
	h.Readiness(context.Background()) // fill the cache
	return h
}

// Baseline: calling the three checkers directly, no registry.
func BenchmarkBaselineDirectChecks(b *testing.B) {
	ctx := context.Background()
	var c health.Checker = health.CheckFunc(benchChecker)
	b.ReportAllocs()
	for b.Loop() {
		for range benchChecks {
			if c.Check(ctx) != nil {
				b.Fatal("fail")
			}
		}
	}
}

// A readiness probe of three checks, every result served from the cache.
func BenchmarkReadinessCached(b *testing.B) {
	h := cachedRegistry(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if h.Readiness(ctx).Status != health.StatusPass {
			b.Fatal("not pass")
		}
	}
}

func BenchmarkReadinessCachedParallel(b *testing.B) {
	h := cachedRegistry(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if h.Readiness(ctx).Status != health.StatusPass {
				b.Fatal("not pass")
			}
		}
	})
}

// A readiness probe of three checks that run every time (Interval 0).
func BenchmarkReadinessUncached(b *testing.B) {
	h := health.New()
	for i := range benchChecks {
		if err := h.Register(health.Check{Name: fmt.Sprint("dep", i), Checker: health.CheckFunc(benchChecker)}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Readiness(ctx)
	}
}

// The whole HTTP answer (JSON) of a cached readiness probe.
func BenchmarkReadinessHandlerCached(b *testing.B) {
	h := cachedRegistry(b).ReadinessHandler()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// The readiness gate closed: the cheapest answer (shutdown in progress).
func BenchmarkReadinessGateClosed(b *testing.B) {
	h := cachedRegistry(b)
	h.SetReady(false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Readiness(ctx)
	}
}
