package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

func newManager(t *testing.T, opts ...shutdown.Option) *shutdown.Manager {
	t.Helper()
	m, err := shutdown.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// events records what happened when, in fake time.
type events struct {
	mu    sync.Mutex
	start time.Time
	list  []string
}

func newEvents() *events { return &events{start: time.Now()} }

func (e *events) add(what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf("%v %s", time.Since(e.start), what))
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

type fakeServer struct {
	ev     *events
	name   string
	block  bool // Shutdown waits for ctx (connections that never go idle)
	closed atomic.Bool
	gotCtx context.Context
	ctxErr error
}

func (s *fakeServer) Shutdown(ctx context.Context) error {
	s.gotCtx, s.ctxErr = ctx, ctx.Err()
	s.ev.add(s.name + " shutdown")
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *fakeServer) Close() error {
	s.closed.Store(true)
	s.ev.add(s.name + " closed")
	return nil
}

func hook(ev *events, name string, d time.Duration, err error) shutdown.Hook {
	return shutdown.Hook{Name: name, Run: func(ctx context.Context) error {
		ev.add("hook " + name)
		time.Sleep(d)
		return err
	}}
}

// The phases run in order: not ready, propagation delay, stop accepting with
// a fresh deadline, drain, hooks in reverse order.
func TestSequenceOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		h := health.New()
		m := newManager(t,
			shutdown.WithReadiness(h, shutdown.ReadinessFunc(func(ready bool) { ev.add(fmt.Sprint("ready=", ready)) })),
			shutdown.WithPropagationDelay(5*time.Second),
			shutdown.WithDrainTimeout(10*time.Second),
			shutdown.WithTimeout(30*time.Second))
		srv := &fakeServer{ev: ev, name: "http"}
		if err := m.AddServer(srv); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"db", "cache", "telemetry"} {
			if err := m.AddHook(hook(ev, name, time.Second, nil)); err != nil {
				t.Fatal(err)
			}
		}
		done, err := m.Tracker().Track()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(7 * time.Second)
			ev.add("work done")
			done()
		}()
		go func() {
			synctest.Wait()
			if h.Readiness(context.Background()).Status != health.StatusFail || h.Liveness(context.Background()).Status != health.StatusPass {
				t.Error("during shutdown readiness must fail and liveness pass")
			}
		}()
		res, err := m.Shutdown(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"0s ready=false",
			"5s http shutdown",
			"7s work done",
			"7s hook telemetry",
			"8s hook cache",
			"9s hook db",
		}
		if got := ev.get(); !slices.Equal(got, want) {
			t.Errorf("events:\n%q\nwant\n%q", got, want)
		}
		if srv.ctxErr != nil {
			t.Errorf("server got a done context: %v", srv.ctxErr)
		}
		if dl, ok := srv.gotCtx.Deadline(); !ok || dl.Sub(ev.start) != 15*time.Second {
			t.Errorf("server deadline %v (%v), want start+15s (delay + drain timeout)", dl.Sub(ev.start), ok)
		}
		wantRes := shutdown.Result{Reason: "Shutdown called", Started: ev.start, Delay: 5 * time.Second,
			Drain: 2 * time.Second, Hooks: 3 * time.Second, Duration: 10 * time.Second}
		if res != wantRes {
			t.Errorf("result %+v\nwant   %+v", res, wantRes)
		}
	})
}

// Five in-flight operations of two seconds drain in exactly two seconds.
func TestDrainWaitsForInFlightWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t)
		tr := m.Tracker()
		var finished atomic.Int32
		for range 5 {
			ctx, done, err := tr.TrackContext(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer done()
				select {
				case <-time.After(2 * time.Second):
					finished.Add(1)
				case <-ctx.Done():
				}
			}()
		}
		if n := tr.InFlight(); n != 5 {
			t.Fatalf("InFlight = %d, want 5", n)
		}
		start := time.Now()
		res, err := m.Shutdown(context.Background())
		if err != nil || res.Abandoned != 0 || finished.Load() != 5 {
			t.Fatalf("result %+v, err %v, %d finished; want all 5 drained", res, err, finished.Load())
		}
		if d := time.Since(start); d != 2*time.Second || res.Drain != 2*time.Second {
			t.Errorf("drained in %v (Drain %v), want exactly 2s", d, res.Drain)
		}
	})
}

// A stuck operation is abandoned at the drain deadline: its context is
// cancelled, the result counts it, and the hooks still run.
func TestStuckWorkAbandonedAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		m := newManager(t, shutdown.WithDrainTimeout(3*time.Second))
		tr := m.Tracker()
		release := make(chan struct{})
		_, err := tr.Track() // ignores every context: truly stuck
		if err != nil {
			t.Fatal(err)
		}
		go func() { <-release }()
		ctx, done, _ := tr.TrackContext(context.Background())
		go func() {
			defer done()
			<-ctx.Done()
			ev.add("honouring work cancelled")
			<-release // and still doesn't finish before the hooks
		}()
		srv := &fakeServer{ev: ev, name: "http", block: true}
		_ = m.AddServer(srv)
		_ = m.AddHook(hook(ev, "db", 0, nil))
		res, err := m.Shutdown(context.Background())
		close(release)
		if res.Abandoned != 2 || !errors.Is(err, shutdown.ErrDrainTimeout) || !errors.Is(err, shutdown.ErrServerTimeout) {
			t.Fatalf("abandoned %d, err %v; want 2 abandoned with ErrDrainTimeout and ErrServerTimeout", res.Abandoned, err)
		}
		if res.Drain != 3*time.Second || !srv.closed.Load() || tr.Context().Err() == nil {
			t.Errorf("drain %v, server closed %v, base ctx %v", res.Drain, srv.closed.Load(), tr.Context().Err())
		}
		synctest.Wait()
		// At 3s the server is closed before the hooks run; the abandoned work
		// sees its cancellation at the same instant, but nobody waits for it.
		got := ev.get()
		sorted := slices.Sorted(slices.Values(got))
		want := []string{"0s http shutdown", "3s honouring work cancelled", "3s hook db", "3s http closed"}
		if !slices.Equal(sorted, want) || slices.Index(got, "3s http closed") > slices.Index(got, "3s hook db") {
			t.Errorf("events %q, want %q with the server closed before the hook", got, want)
		}
		if res.DeadlineExceeded {
			t.Error("the overall deadline did not pass")
		}
	})
}

// stubbornServer's Shutdown ignores its context (a gRPC GracefulStop behind
// a Shutdown(ctx) adapter) and returns only once Close (Stop) is called.
type stubbornServer struct {
	ev   *events
	once sync.Once
	stop chan struct{}
}

func (s *stubbornServer) Shutdown(context.Context) error {
	s.ev.add("stubborn shutdown")
	<-s.stop
	s.ev.add("stubborn stopped")
	return nil
}

func (s *stubbornServer) Close() error {
	s.ev.add("stubborn closed")
	s.once.Do(func() { close(s.stop) })
	return nil
}

// Bug class "shutdown that hangs" (golang/go #53729): a server whose Shutdown
// ignores the drain deadline is Closed at that deadline, and the hooks still
// run. It used to be waited for until the overall deadline, never Closed, and
// every hook was skipped.
func TestServerIgnoringDrainDeadlineIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		m := newManager(t, shutdown.WithDrainTimeout(3*time.Second), shutdown.WithTimeout(25*time.Second))
		srv := &stubbornServer{ev: ev, stop: make(chan struct{})}
		defer srv.Close()
		_ = m.AddServer(srv)
		_ = m.AddHook(hook(ev, "db", 0, nil))
		res, err := m.Shutdown(context.Background())
		want := []string{"0s stubborn shutdown", "3s stubborn closed", "3s stubborn stopped", "3s hook db"}
		if got := ev.get(); !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		if !errors.Is(err, shutdown.ErrServerTimeout) || errors.Is(err, shutdown.ErrDeadline) || errors.Is(err, shutdown.ErrHookTimeout) {
			t.Errorf("err %v, want ErrServerTimeout only", err)
		}
		if res.Drain != 3*time.Second || res.Duration != 3*time.Second || res.DeadlineExceeded {
			t.Errorf("result %+v, want a 3s drain and nothing more", res)
		}
	})
}

// New work is served during the propagation delay and refused once
// draining starts, with an error matching SHUTTING_DOWN and UNAVAILABLE.
func TestRefusesNewWorkOnceDraining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, shutdown.WithPropagationDelay(2*time.Second), shutdown.WithService("orders"))
		tr := m.Tracker()
		go func() { _, _ = m.Shutdown(context.Background()) }()
		time.Sleep(time.Second)
		done, err := tr.Track()
		if err != nil {
			t.Fatalf("Track during the propagation delay: %v (the service still serves)", err)
		}
		time.Sleep(2 * time.Second) // draining now, waiting for that work
		if !tr.Closed() {
			t.Fatal("not draining after the delay")
		}
		for name, try := range map[string]func() error{
			"Track": func() error { _, err := tr.Track(); return err },
			"TrackContext": func() error {
				_, _, err := tr.TrackContext(fault.WithCorrelationID(context.Background(), "req-1"))
				return err
			},
			"Run":  func() error { return tr.Run(context.Background(), func(context.Context) error { return nil }) },
			"View": func() error { _, err := shutdown.Policy[int](tr).Execute(context.Background(), nil); return err },
		} {
			err := try()
			if name == "View" {
				_, err = shutdown.Policy[int](tr).Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
			}
			var re *fault.ResilienceError
			if !errors.Is(err, fault.ErrShuttingDown) || !errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) ||
				!errors.As(err, &re) || re.Service != "orders" || apperrors.HTTPStatusOf(err) != 503 {
				t.Errorf("%s after draining started: %v, want SHUTTING_DOWN (503) for orders", name, err)
			}
			if name == "TrackContext" && re != nil && re.CorrelationID != "req-1" {
				t.Errorf("correlation ID %q, want req-1", re.CorrelationID)
			}
		}
		rec := httptest.NewRecorder()
		tr.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran while draining") })).
			ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != 503 || rec.Header().Get("Connection") != "close" {
			t.Errorf("middleware while draining: %d Connection=%q, want 503 close", rec.Code, rec.Header().Get("Connection"))
		}
		done()
		synctest.Wait()
		select {
		case <-m.Done():
		default:
			t.Error("the sequence did not finish after the last work")
		}
	})
}

// Bug class "shutdown that hangs": handed the already-cancelled signal
// context, shutdown still drains with its own fresh deadline.
func TestCancelledContextStillDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		m := newManager(t, shutdown.WithDrainTimeout(10*time.Second))
		srv := &fakeServer{ev: ev, name: "http"}
		_ = m.AddServer(srv)
		done, _ := m.Tracker().Track()
		time.AfterFunc(time.Second, done)
		var hookCtxErr error
		_ = m.AddHook(shutdown.Hook{Name: "h", Run: func(ctx context.Context) error { hookCtxErr = ctx.Err(); return nil }})
		signalCtx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := m.Shutdown(signalCtx)
		if err != nil || res.Abandoned != 0 || res.Drain != time.Second {
			t.Fatalf("result %+v err %v: want a full 1s drain", res, err)
		}
		if srv.ctxErr != nil || hookCtxErr != nil {
			t.Errorf("server ctx err %v, hook ctx err %v: want fresh contexts", srv.ctxErr, hookCtxErr)
		}
	})
}

// Shutdown twice, or from many goroutines, runs the sequence once and
// returns the same result to everyone.
func TestShutdownIdempotentAndConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		m := newManager(t, shutdown.WithSignals()) // signal channels can't live in a bubble
		errHook := errors.New("db close failed")
		_ = m.AddHook(shutdown.Hook{Name: "db", Run: func(context.Context) error {
			runs.Add(1)
			time.Sleep(time.Second)
			return errHook
		}})
		type out struct {
			res shutdown.Result
			err error
		}
		outs := make([]out, 10)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Go(func() {
				r, err := m.Shutdown(context.Background())
				outs[i] = out{r, err}
			})
		}
		var waited out
		wg.Go(func() { // Wait returns the same too; it ends with the sequence
			r, err := m.Wait(context.Background())
			waited = out{r, err}
		})
		wg.Wait()
		r, err := m.Shutdown(context.Background())
		all := make([]out, 0, len(outs)+2)
		all = append(all, outs...)
		all = append(all, out{r, err}, waited)
		for _, o := range all {
			if o.res != all[0].res || o.err != all[0].err {
				t.Errorf("got %+v %v, want %+v %v", o.res, o.err, all[0].res, all[0].err)
			}
		}
		var he *shutdown.HookError
		if runs.Load() != 1 || !errors.Is(outs[0].err, errHook) || !errors.As(outs[0].err, &he) || he.Hook != "db" {
			t.Errorf("hook ran %d times, err %v", runs.Load(), outs[0].err)
		}
		if err := m.AddHook(hook(nil, "late", 0, nil)); !errors.Is(err, fault.ErrShuttingDown) {
			t.Errorf("AddHook after shutdown: %v", err)
		}
		if err := m.AddServer(&fakeServer{}); !errors.Is(err, fault.ErrShuttingDown) {
			t.Errorf("AddServer after shutdown: %v", err)
		}
	})
}

// Each hook has its own timeout; a hanging, failing or panicking hook is
// reported and the next one still runs; errors are joined.
func TestHookFailuresJoined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		release := make(chan struct{})
		m := newManager(t, shutdown.WithHookTimeout(2*time.Second))
		errFlush := errors.New("flush failed")
		_ = m.AddHook(hook(ev, "last", 0, nil))
		_ = m.AddHook(shutdown.Hook{Name: "panics", Run: func(context.Context) error { ev.add("hook panics"); panic("boom") }})
		_ = m.AddHook(hook(ev, "fails", 0, errFlush))
		_ = m.AddHook(shutdown.Hook{Name: "hangs", Timeout: time.Second, Run: func(context.Context) error {
			ev.add("hook hangs")
			<-release // ignores ctx
			return nil
		}})
		_ = m.AddHook(shutdown.Hook{Name: "slow", Run: func(ctx context.Context) error {
			ev.add("hook slow")
			<-ctx.Done()
			return ctx.Err()
		}})
		res, err := m.Shutdown(context.Background())
		close(release)
		want := []string{"0s hook slow", "2s hook hangs", "3s hook fails", "3s hook panics", "3s hook last"}
		if got := ev.get(); !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		var pe *shutdown.PanicError
		if !errors.Is(err, errFlush) || !errors.Is(err, shutdown.ErrHookTimeout) || !errors.As(err, &pe) || pe.Value != "boom" ||
			!errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("joined error: %v", err)
		}
		var hookErrs []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var he *shutdown.HookError
			if errors.As(e, &he) {
				hookErrs = append(hookErrs, he.Hook)
			}
		}
		if !slices.Equal(hookErrs, []string{"slow", "hangs", "fails", "panics"}) {
			t.Errorf("hook errors for %v", hookErrs)
		}
		if res.Hooks != 3*time.Second {
			t.Errorf("hooks took %v, want 3s", res.Hooks)
		}
	})
}

// The overall deadline bounds everything: a hook still running at it is cut,
// and hooks left are skipped and reported.
func TestOverallDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		m := newManager(t, shutdown.WithTimeout(10*time.Second), shutdown.WithDrainTimeout(5*time.Second),
			shutdown.WithPropagationDelay(4*time.Second), shutdown.WithHookTimeout(time.Minute))
		release := make(chan struct{})
		_, _ = m.Tracker().Track()
		go func() { <-release }()
		_ = m.AddHook(hook(ev, "skipped", 0, nil))
		_ = m.AddHook(shutdown.Hook{Name: "slow", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
		start := time.Now()
		res, err := m.Shutdown(context.Background())
		close(release)
		if d := time.Since(start); d != 10*time.Second || res.Duration != d {
			t.Errorf("took %v (result %v), want the 10s deadline", d, res.Duration)
		}
		if !res.DeadlineExceeded || res.Abandoned != 1 || !errors.Is(err, shutdown.ErrDeadline) || !errors.Is(err, shutdown.ErrHookTimeout) {
			t.Errorf("result %+v err %v", res, err)
		}
		if len(ev.get()) != 0 {
			t.Errorf("a hook ran after the deadline: %v", ev.get())
		}
	})
}

// Bug: a drain timeout longer than the overall timeout was accepted; the
// drain then ran into the overall deadline and every cleanup hook was
// skipped. New rejects the combination, naming both fields; a defaulted drain
// leaves the hooks time under a short Timeout.
func TestRegressionDrainLongerThanTimeoutRejected(t *testing.T) {
	for _, opts := range [][]shutdown.Option{
		{shutdown.WithTimeout(10 * time.Second), shutdown.WithDrainTimeout(time.Minute)},
		{shutdown.WithTimeout(10 * time.Second), shutdown.WithDrainTimeout(10 * time.Second)},
		{shutdown.WithTimeout(10 * time.Second), shutdown.WithDrainTimeout(7 * time.Second), shutdown.WithPropagationDelay(3 * time.Second)},
		{shutdown.WithDrainTimeout(shutdown.DefaultTimeout)},
	} {
		m, err := shutdown.New(opts...)
		var ip *fault.InvalidPolicyError
		if m != nil || !errors.As(err, &ip) || ip.Field != "DrainTimeout" || !strings.Contains(ip.Rule, "Timeout (") {
			t.Errorf("New = %v, %v; want an InvalidPolicyError for DrainTimeout naming Timeout", m, err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		ev := newEvents()
		m := newManager(t, shutdown.WithTimeout(10*time.Second))
		_, _ = m.Tracker().Track() // never finishes: the drain runs to its end
		_ = m.AddHook(hook(ev, "cleanup", time.Second, nil))
		res, _ := m.Shutdown(context.Background())
		if got := ev.get(); len(got) != 1 || res.DeadlineExceeded {
			t.Errorf("hooks run %v, deadline exceeded %v: want the hook to run within the deadline", got, res.DeadlineExceeded)
		}
	})
}

// Wait starts the sequence when its context ends.
func TestWaitContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, shutdown.WithSignals())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		res, err := m.Wait(ctx)
		if err != nil || res.Reason != "context done: context deadline exceeded" || time.Since(res.Started) != 0 {
			t.Errorf("got %+v %v", res, err)
		}
	})
}

func TestNewValidation(t *testing.T) {
	cases := []struct {
		name  string
		opt   shutdown.Option
		field string
	}{
		{"negative timeout", shutdown.WithTimeout(-1), "Timeout"},
		{"negative delay", shutdown.WithPropagationDelay(-time.Second), "PropagationDelay"},
		{"delay beyond timeout", shutdown.WithPropagationDelay(shutdown.DefaultTimeout), "PropagationDelay"},
		{"negative drain", shutdown.WithDrainTimeout(-1), "DrainTimeout"},
		{"negative hook timeout", shutdown.WithHookTimeout(-1), "HookTimeout"},
		{"nil readiness", shutdown.WithReadiness(nil), "WithReadiness"},
		{"nil exit", shutdown.WithExitFunc(nil), "WithExitFunc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := shutdown.New(tc.opt)
			var ip *fault.InvalidPolicyError
			if m != nil || !errors.As(err, &ip) || ip.Field != tc.field || ip.Rule == "" {
				t.Errorf("New = %v, %v; want an InvalidPolicyError for %s", m, err, tc.field)
			}
		})
	}
	if _, err := shutdown.New(nil, shutdown.WithTimeout(0), shutdown.WithDrainTimeout(0), shutdown.WithHookTimeout(0)); err != nil {
		t.Errorf("zero means default, got %v", err)
	}
	m := newManager(t)
	for _, h := range []shutdown.Hook{{Run: func(context.Context) error { return nil }}, {Name: "x"}, {Name: "x", Run: func(context.Context) error { return nil }, Timeout: -1}} {
		var ip *fault.InvalidPolicyError
		if err := m.AddHook(h); !errors.As(err, &ip) {
			t.Errorf("AddHook(%+v) = %v", h, err)
		}
	}
	if err := m.AddServer(nil); err == nil {
		t.Error("AddServer(nil) accepted")
	}
}

// Panics in a readiness target or a server are reported, not fatal.
func TestPanickingReadinessAndServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, shutdown.WithReadiness(shutdown.ReadinessFunc(func(bool) { panic("gate") })))
		_ = m.AddServer(panicServer{})
		_, err := m.Shutdown(context.Background())
		var pe *shutdown.PanicError
		if !errors.As(err, &pe) || pe.Value != "gate" {
			t.Errorf("err %v", err)
		}
		if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 2 {
			t.Errorf("%d errors, want 2: %v", n, err)
		}
	})
}

type panicServer struct{}

func (panicServer) Shutdown(context.Context) error { panic("server") }

// Callbacks that call back into the manager must not deadlock (a mutex
// deadlock is invisible to synctest, so a real-time watchdog guards this).
func TestReentrantCallbacks(t *testing.T) {
	finished := make(chan error, 1)
	go func() {
		var m *shutdown.Manager
		m = newManager(t, shutdown.WithReadiness(shutdown.ReadinessFunc(func(bool) {
			_ = m.AddHook(hook(newEvents(), "late", 0, nil))
			if done, err := m.Tracker().Track(); err == nil { // still admitted in phase 1
				done()
			}
		})))
		_ = m.AddHook(shutdown.Hook{Name: "reenter", Run: func(ctx context.Context) error {
			if err := m.AddServer(&fakeServer{}); !errors.Is(err, fault.ErrShuttingDown) {
				return fmt.Errorf("AddServer during the sequence: %v", err)
			}
			select {
			case <-m.Done():
				return errors.New("done before the hooks finished")
			default:
			}
			return nil
		}})
		_, err := m.Shutdown(context.Background())
		finished <- err
	}()
	select {
	case err := <-finished:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: Shutdown did not return")
	}
}

type nilServer struct{}

func (*nilServer) Shutdown(context.Context) error { return nil }

type nilReadiness struct{}

func (*nilReadiness) SetReady(bool) {}

// A typed nil is rejected like an untyped nil.
func TestRuleTypedNilRejected(t *testing.T) {
	m := newManager(t)
	var s *nilServer
	if err := m.AddServer(s); fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Errorf("AddServer(typed nil) = %v, want INVALID_POLICY", err)
	}
	var r *nilReadiness
	if _, err := shutdown.New(shutdown.WithReadiness(r)); fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Errorf("WithReadiness(typed nil) = %v, want INVALID_POLICY", err)
	}
}
