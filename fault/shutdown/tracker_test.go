package shutdown_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

func TestTrackerConformance(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		tr := shutdown.NewTracker("conformance")
		return faulttest.Instance{Policy: shutdown.Policy[int](tr), Guard: tr, Held: tr.InFlight}
	})
}

func TestTrackDoneIdempotent(t *testing.T) {
	tr := shutdown.NewTracker("svc")
	d1, err1 := tr.Track()
	d2, err2 := tr.Track()
	if err1 != nil || err2 != nil || tr.InFlight() != 2 {
		t.Fatalf("InFlight %d (%v, %v), want 2", tr.InFlight(), err1, err2)
	}
	d1()
	d1()
	d1()
	if tr.InFlight() != 1 {
		t.Fatalf("InFlight %d after calling one done three times, want 1", tr.InFlight())
	}
	_, d3, _ := tr.TrackContext(context.Background())
	d3()
	d3()
	if tr.InFlight() != 1 {
		t.Fatalf("InFlight %d, want 1", tr.InFlight())
	}
	d2()
	if a := tr.Drain(context.Background()); a != 0 || tr.InFlight() != 0 {
		t.Fatalf("Drain = %d, InFlight %d", a, tr.InFlight())
	}
	done, err := tr.Track()
	done() // a refused Track's done is safe to call
	if !errors.Is(err, fault.ErrShuttingDown) || tr.InFlight() != 0 {
		t.Fatalf("after Drain: %v, InFlight %d", err, tr.InFlight())
	}
	if tr.Drain(nil) != 0 { //nolint:staticcheck // a nil context is the bad input under test: Drain must accept it
		t.Fatal("second Drain")
	}
}

// The allocation-free paths stay allocation-free.
func TestRunAndViewDoNotAllocate(t *testing.T) {
	tr := shutdown.NewTracker("svc")
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	typed := func(context.Context) (int, error) { return 1, nil }
	v := shutdown.Policy[int](tr)
	var p fault.Policy[int] = v
	if n := testing.AllocsPerRun(1000, func() { _ = tr.Run(ctx, op) }); n != 0 {
		t.Errorf("Run allocates %v per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, typed) }); n != 0 {
		t.Errorf("View.Execute allocates %v per call", n)
	}
}

func TestNilTrackerAndOperation(t *testing.T) {
	var tr *shutdown.Tracker
	if _, err := tr.Track(); !errors.Is(err, shutdown.ErrNilTracker) {
		t.Error(err)
	}
	if _, _, err := tr.TrackContext(nil); !errors.Is(err, shutdown.ErrNilTracker) { //nolint:staticcheck // nil ctx on purpose
		t.Error(err)
	}
	if err := tr.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, shutdown.ErrNilTracker) {
		t.Error(err)
	}
	if tr.InFlight() != 0 || tr.Drain(context.Background()) != 0 {
		t.Error("nil tracker")
	}
	if _, err := shutdown.Policy[int](tr).Execute(context.Background(), func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, shutdown.ErrNilTracker) {
		t.Error(err)
	}
	if err := shutdown.Policy[int](tr).Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, shutdown.ErrNilTracker) {
		t.Error(err)
	}
	live := shutdown.NewTracker("svc")
	if err := live.Run(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
	if _, err := shutdown.Policy[int](live).Execute(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
	if shutdown.Policy[int](live).Tracker() != live {
		t.Error("View.Tracker")
	}
}

// Drain's promise under contention: when it returns 0, every admitted unit
// of work has finished, and nothing is admitted after it started.
func TestStressTrackDuringDrain(t *testing.T) {
	for range 10 {
		tr := shutdown.NewTracker("svc")
		var admitted, finished, lateAdmits atomic.Int64
		var draining atomic.Bool
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					wasDraining := draining.Load()
					done, err := tr.Track()
					if err != nil {
						return
					}
					if wasDraining && tr.Closed() {
						// Admitted although Drain had already closed the tracker
						// before this Track began: must never happen.
						lateAdmits.Add(1)
					}
					admitted.Add(1)
					finished.Add(1)
					done()
				}
			})
		}
		for admitted.Load() < 500 {
			runtime.Gosched()
		}
		if n := tr.Drain(context.Background()); n != 0 {
			t.Fatalf("Drain abandoned %d without a deadline", n)
		}
		draining.Store(true)
		if admitted.Load() != finished.Load() {
			t.Fatalf("Drain returned with %d admitted, %d finished", admitted.Load(), finished.Load())
		}
		wg.Wait()
		// Only now: while the workers still call Track, a refused call
		// counts itself for an instant before backing out (see InFlight).
		if n := tr.InFlight(); n != 0 {
			t.Fatalf("InFlight %d after every worker stopped", n)
		}
		if lateAdmits.Load() != 0 {
			t.Fatalf("%d admitted after draining started", lateAdmits.Load())
		}
	}
}

// The middleware tracks requests, and their context ends at the drain
// deadline.
func TestMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := shutdown.NewTracker("svc")
		started := make(chan struct{})
		var ctxErr error
		h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done() // a slow handler
			ctxErr = r.Context().Err()
			w.WriteHeader(http.StatusGatewayTimeout)
		}))
		rec := httptest.NewRecorder()
		go h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		<-started
		if tr.InFlight() != 1 {
			t.Fatalf("InFlight %d, want 1", tr.InFlight())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if n := tr.Drain(ctx); n != 1 {
			t.Fatalf("Drain = %d, want 1 abandoned", n)
		}
		synctest.Wait()
		if !errors.Is(ctxErr, context.Canceled) || rec.Code != http.StatusGatewayTimeout || tr.InFlight() != 0 {
			t.Errorf("handler ctx %v, code %d, InFlight %d", ctxErr, rec.Code, tr.InFlight())
		}
		if tr.Context().Err() == nil {
			t.Error("base context not cancelled at the deadline")
		}
		if tr.BaseContext(nil) != tr.Context() {
			t.Error("BaseContext differs from Context")
		}
	})
}
