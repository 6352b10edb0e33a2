package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
)

func mustRegister(t testing.TB, h *health.Registry, c health.Check) {
	t.Helper()
	if err := h.Register(c); err != nil {
		t.Fatalf("Register(%q): %v", c.Name, err)
	}
}

func byName(rep health.Report, name string) health.CheckResult {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return health.CheckResult{}
}

// Ten checks of one second each answer in one second, not ten.
func TestChecksRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New()
		for i := range 10 {
			mustRegister(t, h, health.Check{
				Name:     fmt.Sprintf("dep%d", i),
				Critical: true,
				Timeout:  5 * time.Second,
				Checker: health.CheckFunc(func(ctx context.Context) error {
					time.Sleep(time.Second)
					return nil
				}),
			})
		}
		start := time.Now()
		rep := h.Readiness(context.Background())
		if d := time.Since(start); d != time.Second {
			t.Errorf("probe took %v, want 1s", d)
		}
		if rep.Status != health.StatusPass || len(rep.Checks) != 10 {
			t.Fatalf("status %s with %d checks, want pass with 10", rep.Status, len(rep.Checks))
		}
		for _, c := range rep.Checks {
			if c.Duration != time.Second || c.Status != health.StatusPass || c.Err != nil {
				t.Errorf("%s: %s in %v (%v), want pass in 1s", c.Name, c.Status, c.Duration, c.Err)
			}
		}
	})
}

// A check that ignores its context answers fail at its timeout; the probe
// returns on time; later probes don't start a second goroutine while it
// hangs; once it returns, the next probe runs it again.
func TestHungCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		h := health.New()
		mustRegister(t, h, health.Check{
			Name: "stuck", Critical: true, Timeout: 2 * time.Second,
			Checker: health.CheckFunc(func(context.Context) error {
				calls.Add(1)
				<-release // ignores ctx
				return nil
			}),
		})
		mustRegister(t, h, health.Check{Name: "fine", Checker: health.CheckFunc(func(context.Context) error { return nil })})

		start := time.Now()
		rep := h.Readiness(context.Background())
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("probe took %v, want the 2s timeout", d)
		}
		stuck := byName(rep, "stuck")
		if rep.Status != health.StatusFail || stuck.Status != health.StatusFail || !errors.Is(stuck.Err, health.ErrTimeout) {
			t.Fatalf("report %s, stuck %s (%v); want fail, fail with ErrTimeout", rep.Status, stuck.Status, stuck.Err)
		}
		if byName(rep, "fine").Status != health.StatusPass {
			t.Errorf("the other check did not pass")
		}

		time.Sleep(time.Second)
		start = time.Now()
		rep = h.Readiness(context.Background())
		stuck = byName(rep, "stuck")
		if d := time.Since(start); d != 0 {
			t.Errorf("probe of a hung check took %v, want an immediate answer", d)
		}
		if stuck.Status != health.StatusFail || !strings.Contains(stuck.Output(), "still running 3s") {
			t.Errorf("hung check: %s %q, want fail saying it is still running 3s", stuck.Status, stuck.Output())
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("check started %d times while hung, want 1", n)
		}

		close(release)
		synctest.Wait() // the hung goroutine returns and ends
		rep = h.Readiness(context.Background())
		if rep.Status != health.StatusPass || calls.Load() != 2 {
			t.Errorf("after release: %s with %d calls, want pass with 2", rep.Status, calls.Load())
		}
	})
}

// A check that honours its context returns at the timeout with a timeout error.
func TestTimeoutHonouringCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New()
		mustRegister(t, h, health.Check{
			Name: "slow", Timeout: 300 * time.Millisecond,
			Checker: health.CheckFunc(func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}),
		})
		rep := h.Report(context.Background())
		c := rep.Checks[0]
		if c.Status != health.StatusFail || !errors.Is(c.Err, health.ErrTimeout) || c.Duration != 300*time.Millisecond {
			t.Errorf("got %s %v in %v, want fail ErrTimeout in 300ms", c.Status, c.Err, c.Duration)
		}
		if rep.Status != health.StatusWarn {
			t.Errorf("non-critical failure gave %s, want warn", rep.Status)
		}
	})
}

func TestPanickingCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New()
		mustRegister(t, h, health.Check{Name: "boom", Critical: true,
			Checker: health.CheckFunc(func(context.Context) error { panic("kaboom") })})
		mustRegister(t, h, health.Check{Name: "ok", Checker: health.CheckFunc(func(context.Context) error { return nil })})
		rep := h.Readiness(context.Background())
		c := byName(rep, "boom")
		var pe *health.PanicError
		if c.Status != health.StatusFail || !errors.As(c.Err, &pe) || pe.Value != "kaboom" || !strings.Contains(c.Output(), "kaboom") {
			t.Fatalf("panicking check: %s %v, want fail with *PanicError(kaboom)", c.Status, c.Err)
		}
		if len(pe.Stack) == 0 {
			t.Error("PanicError has no stack")
		}
		if rep.Status != health.StatusFail || byName(rep, "ok").Status != health.StatusPass {
			t.Errorf("report %s, ok %s; want fail, pass", rep.Status, byName(rep, "ok").Status)
		}
		// Still usable afterwards.
		if rep := h.Readiness(context.Background()); byName(rep, "boom").Status != health.StatusFail {
			t.Error("second probe of the panicking check did not fail")
		}
	})
}

func TestAggregation(t *testing.T) {
	errDown := errors.New("down")
	type chk struct {
		err      error
		critical bool
	}
	cases := []struct {
		name   string
		checks []chk
		want   health.Status
	}{
		{"no checks", nil, health.StatusPass},
		{"all pass", []chk{{nil, true}, {nil, false}}, health.StatusPass},
		{"critical fail", []chk{{errDown, true}, {nil, false}}, health.StatusFail},
		{"non-critical fail", []chk{{nil, true}, {errDown, false}}, health.StatusWarn},
		{"warn", []chk{{health.Warn(errDown), false}}, health.StatusWarn},
		{"critical warn only warns", []chk{{health.Warn(errDown), true}}, health.StatusWarn},
		{"fail beats warn", []chk{{health.Warn(errDown), false}, {errDown, true}}, health.StatusFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := health.New()
			for i, c := range tc.checks {
				mustRegister(t, h, health.Check{Name: fmt.Sprint("c", i), Critical: c.critical,
					Checker: health.CheckFunc(func(context.Context) error { return c.err })})
			}
			for _, probe := range []func(context.Context) health.Report{h.Readiness, h.Report} {
				if got := probe(context.Background()).Status; got != tc.want {
					t.Errorf("status %s, want %s", got, tc.want)
				}
			}
			// The check's own status is its truth: a non-critical failure is "fail".
			for i, c := range tc.checks {
				got := byName(h.Report(context.Background()), fmt.Sprint("c", i)).Status
				want := health.StatusPass
				if c.err != nil {
					want = health.StatusFail
					if health.IsWarn(c.err) {
						want = health.StatusWarn
					}
				}
				if got != want {
					t.Errorf("check c%d status %s, want %s", i, got, want)
				}
			}
		})
	}
}

// Within Interval a result (pass or fail) is reused; after it the check runs
// again.
func TestCacheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var fail atomic.Bool
		h := health.New()
		mustRegister(t, h, health.Check{
			Name: "db", Critical: true, Interval: 10 * time.Second, Timeout: time.Second,
			Checker: health.CheckFunc(func(context.Context) error {
				calls.Add(1)
				time.Sleep(100 * time.Millisecond)
				if fail.Load() {
					return errors.New("db down")
				}
				return nil
			}),
		})
		ctx := context.Background()
		if r := h.Readiness(ctx); r.Status != health.StatusPass || r.Checks[0].Cached || calls.Load() != 1 {
			t.Fatalf("first probe: %s cached=%v calls=%d", r.Status, r.Checks[0].Cached, calls.Load())
		}
		fail.Store(true)
		for range 1000 { // a probe storm inside the interval
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			r := h.Readiness(ctx)
			if time.Since(start) != 0 || !r.Checks[0].Cached || r.Status != health.StatusPass {
				t.Fatalf("probe at %v: %s cached=%v", time.Since(start), r.Status, r.Checks[0].Cached)
			}
			if time.Since(r.Checks[0].Time) >= 9900*time.Millisecond {
				break
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("check ran %d times within its interval, want 1", calls.Load())
		}
		time.Sleep(time.Second) // now past the interval
		r := h.Readiness(ctx)
		if r.Status != health.StatusFail || r.Checks[0].Cached || calls.Load() != 2 {
			t.Fatalf("after the interval: %s cached=%v calls=%d, want a fresh fail", r.Status, r.Checks[0].Cached, calls.Load())
		}
		// A failure is cached too, protecting the failing dependency.
		fail.Store(false)
		time.Sleep(5 * time.Second)
		if r := h.Readiness(ctx); r.Status != health.StatusFail || !r.Checks[0].Cached || calls.Load() != 2 {
			t.Fatalf("failure not cached: %s cached=%v calls=%d", r.Status, r.Checks[0].Cached, calls.Load())
		}
	})
}

// Probes that arrive while a check runs share the run.
func TestConcurrentProbesShareOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		h := health.New()
		mustRegister(t, h, health.Check{Name: "db", Timeout: 5 * time.Second, Checker: health.CheckFunc(func(context.Context) error {
			calls.Add(1)
			time.Sleep(time.Second)
			return nil
		})})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				start := time.Now()
				if r := h.Readiness(context.Background()); r.Status != health.StatusPass || time.Since(start) != time.Second {
					t.Errorf("probe: %s after %v", r.Status, time.Since(start))
				}
			})
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("20 concurrent probes ran the check %d times, want 1", n)
		}
	})
}

// A probe whose context ends stops waiting; the check runs on to its own end.
func TestProbeContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finished atomic.Bool
		h := health.New()
		mustRegister(t, h, health.Check{Name: "slow", Critical: true, Timeout: 5 * time.Second,
			Checker: health.CheckFunc(func(ctx context.Context) error {
				time.Sleep(2 * time.Second)
				finished.Store(ctx.Err() == nil) // not cancelled by the probe going away
				return nil
			})})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := h.Readiness(ctx)
		if time.Since(start) != 500*time.Millisecond || r.Status != health.StatusFail || !errors.Is(r.Checks[0].Err, context.DeadlineExceeded) {
			t.Errorf("got %s %v after %v, want fail at 500ms", r.Status, r.Checks[0].Err, time.Since(start))
		}
		time.Sleep(2 * time.Second)
		if !finished.Load() {
			t.Error("the check's context was cancelled with the probe's")
		}
		if r := h.Readiness(context.Background()); r.Status != health.StatusPass {
			t.Errorf("next probe: %s, want pass", r.Status)
		}
	})
}

func TestReadinessGate(t *testing.T) {
	var calls atomic.Int32
	h := health.New()
	mustRegister(t, h, health.Check{Name: "db", Critical: true, Checker: health.CheckFunc(func(context.Context) error {
		calls.Add(1)
		return nil
	})})
	ctx := context.Background()
	if !h.IsReady() || h.Readiness(ctx).Status != health.StatusPass {
		t.Fatal("a new registry is not ready")
	}
	calls.Store(0)
	h.SetReady(false)
	r := h.Readiness(ctx)
	if r.Status != health.StatusFail || r.Output != health.NotReadyOutput || len(r.Checks) != 0 || calls.Load() != 0 {
		t.Errorf("closed gate: %s %q with %d checks, %d calls; want fail, no checks run", r.Status, r.Output, len(r.Checks), calls.Load())
	}
	if r := h.Liveness(ctx); r.Status != health.StatusPass {
		t.Errorf("liveness with the gate closed: %s, want pass", r.Status)
	}
	if r := h.Report(ctx); r.Status != health.StatusFail || len(r.Checks) != 1 || r.Output != health.NotReadyOutput {
		t.Errorf("report with the gate closed: %s %q with %d checks", r.Status, r.Output, len(r.Checks))
	}
	h.SetReady(true)
	if h.Readiness(ctx).Status != health.StatusPass {
		t.Error("reopened gate not ready")
	}
}

func TestLivenessIgnoresDependencies(t *testing.T) {
	h := health.New()
	mustRegister(t, h, health.Check{Name: "db", Critical: true, Checker: health.CheckFunc(func(context.Context) error { return errors.New("down") })})
	ctx := context.Background()
	if r := h.Liveness(ctx); r.Status != health.StatusPass || len(r.Checks) != 0 {
		t.Errorf("liveness with a failing dependency: %s with %d checks, want pass with none", r.Status, len(r.Checks))
	}
	var deadlocked atomic.Bool
	mustRegister(t, h, health.Check{Name: "worker", Critical: true, Liveness: true, Checker: health.CheckFunc(func(context.Context) error {
		if deadlocked.Load() {
			return errors.New("worker stuck")
		}
		return nil
	})})
	if r := h.Liveness(ctx); r.Status != health.StatusPass || len(r.Checks) != 1 {
		t.Errorf("liveness: %s with %d checks, want pass with the worker check", r.Status, len(r.Checks))
	}
	deadlocked.Store(true)
	if r := h.Liveness(ctx); r.Status != health.StatusFail {
		t.Errorf("liveness with the liveness check failing: %s, want fail", r.Status)
	}
	if r := h.Readiness(ctx); len(r.Checks) != 2 {
		t.Errorf("readiness ran %d checks, want both", len(r.Checks))
	}
}

func TestRegisterValidation(t *testing.T) {
	ok := health.CheckFunc(func(context.Context) error { return nil })
	cases := []struct {
		name  string
		check health.Check
		field string
	}{
		{"empty name", health.Check{Checker: ok}, "Check.Name"},
		{"colon in name", health.Check{Name: "a:b", Checker: ok}, "Check.Name"},
		{"colon in measurement", health.Check{Name: "a", Measurement: "x:y", Checker: ok}, "Check.Measurement"},
		{"nil checker", health.Check{Name: "a"}, "Check.Checker"},
		{"nil CheckFunc", health.Check{Name: "a", Checker: health.CheckFunc(nil)}, "Check.Checker"},
		{"nil ObserveFunc", health.Check{Name: "a", Checker: health.ObserveFunc(nil)}, "Check.Checker"},
		{"nil ping", health.Check{Name: "a", Checker: health.Ping(nil)}, "Check.Checker"},
		{"nil breaker", health.Check{Name: "a", Checker: health.CircuitBreaker(nil)}, "Check.Checker"},
		{"negative timeout", health.Check{Name: "a", Checker: ok, Timeout: -time.Second}, "Check.Timeout"},
		{"negative interval", health.Check{Name: "a", Checker: ok, Interval: -1}, "Check.Interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := health.New().Register(tc.check)
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field != tc.field || ip.Rule == "" {
				t.Fatalf("Register = %v, want an InvalidPolicyError for %s", err, tc.field)
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Errorf("error does not match INVALID_POLICY: %v", err)
			}
		})
	}
	h := health.New()
	mustRegister(t, h, health.Check{Name: "db", Checker: ok})
	mustRegister(t, h, health.Check{Name: "db", Measurement: "connections", Checker: ok})
	if err := h.Register(health.Check{Name: "db", Checker: ok}); err == nil || !strings.Contains(err.Error(), "unique") {
		t.Errorf("duplicate key: %v, want an error", err)
	}
	if err := h.Register(health.Check{Name: "db", Measurement: "responseTime", Checker: ok}); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(health.Check{Name: "db", Checker: health.Ping(ok)}); err == nil {
		t.Error("Ping's default measurement collides with db:responseTime but was accepted")
	}
}

type fakeBreaker struct{ state atomic.Value }

func (b *fakeBreaker) CircuitState() string { return b.state.Load().(string) }

func TestCircuitBreakerCheck(t *testing.T) {
	cases := []struct {
		state             string
		check             health.Status
		nonCritical, crit health.Status
	}{
		{fault.StateClosed, health.StatusPass, health.StatusPass, health.StatusPass},
		{fault.StateHalfOpen, health.StatusWarn, health.StatusWarn, health.StatusWarn},
		{fault.StateOpen, health.StatusFail, health.StatusWarn, health.StatusFail},
		{"bogus", health.StatusFail, health.StatusWarn, health.StatusFail},
	}
	for _, tc := range cases {
		t.Run(tc.state, func(t *testing.T) {
			b := &fakeBreaker{}
			b.state.Store(tc.state)
			for _, critical := range []bool{false, true} {
				h := health.New()
				mustRegister(t, h, health.Check{Name: "payments", Critical: critical, Checker: health.CircuitBreaker(b)})
				r := h.Readiness(context.Background())
				c := r.Checks[0]
				want := tc.nonCritical
				if critical {
					want = tc.crit
				}
				if r.Status != want || c.Status != tc.check || c.Observed != tc.state || c.Key != "payments:state" {
					t.Errorf("critical=%v: report %s check %s observed %v key %s; want %s %s %s payments:state",
						critical, r.Status, c.Status, c.Observed, c.Key, want, tc.check, tc.state)
				}
				if (c.Status == health.StatusFail) != errors.Is(c.Err, health.ErrCircuitOpen) {
					t.Errorf("err %v", c.Err)
				}
			}
		})
	}
}

func TestPingObservesResponseTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New()
		mustRegister(t, h, health.Check{Name: "postgres", Checker: health.Ping(func(context.Context) error {
			time.Sleep(250 * time.Millisecond)
			return nil
		})})
		c := h.Report(context.Background()).Checks[0]
		if c.Key != "postgres:responseTime" || c.Observed != 250.0 || c.Unit != "ms" {
			t.Errorf("got %s = %v %s, want postgres:responseTime = 250 ms", c.Key, c.Observed, c.Unit)
		}
		if err := health.Ping(func(context.Context) error { return nil }).Check(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestWarn(t *testing.T) {
	base := errors.New("slow replica")
	w := health.Warn(base)
	if !errors.Is(w, base) || w.Error() != base.Error() || !health.IsWarn(fmt.Errorf("wrapped: %w", w)) {
		t.Errorf("Warn(%v) = %v", base, w)
	}
	if health.Warn(nil) != nil || health.IsWarn(base) || health.IsWarn(nil) {
		t.Error("Warn(nil) or IsWarn wrong")
	}
}

// Many probes and registrations at once; every report is consistent.
func TestStressConcurrentProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := health.New()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				c := health.Check{Name: fmt.Sprint("c", i), Critical: i%2 == 0, Interval: time.Duration(i) * 100 * time.Millisecond,
					Timeout: 300 * time.Millisecond,
					Checker: health.CheckFunc(func(ctx context.Context) error {
						time.Sleep(time.Duration(i*50) * time.Millisecond)
						if i%3 == 0 {
							return errors.New("flaky")
						}
						if i == 7 {
							panic("seven")
						}
						return nil
					})}
				if err := h.Register(c); err != nil {
					t.Error(err)
				}
			})
		}
		for range 16 {
			wg.Go(func() {
				for range 50 {
					r := h.Report(context.Background())
					worst := health.StatusPass
					for _, c := range r.Checks {
						if (c.Err == nil) != (c.Status == health.StatusPass) {
							t.Errorf("%s: status %s with err %v", c.Name, c.Status, c.Err)
						}
						if c.Status == health.StatusFail && c.Critical {
							worst = health.StatusFail
						} else if c.Status != health.StatusPass && worst == health.StatusPass {
							worst = health.StatusWarn
						}
					}
					if r.Status != worst {
						t.Errorf("report %s, checks say %s", r.Status, worst)
					}
					time.Sleep(37 * time.Millisecond)
				}
			})
		}
		wg.Wait()
	})
}

// A check that probes its own registry (and registers a check) must not
// deadlock: it joins its own run, which times out. Real-time watchdog,
// because a mutex deadlock is invisible to synctest.
func TestReentrantCheck(t *testing.T) {
	finished := make(chan health.Report, 1)
	go func() {
		h := health.New()
		_ = h.Register(health.Check{Name: "self", Timeout: 50 * time.Millisecond, Checker: health.CheckFunc(func(ctx context.Context) error {
			_ = h.Register(health.Check{Name: "added", Checker: health.CheckFunc(func(context.Context) error { return nil })})
			h.Readiness(ctx) // joins its own run: answers at the timeout
			return nil
		})})
		finished <- h.Readiness(context.Background())
	}()
	select {
	case rep := <-finished:
		if rep.Status != health.StatusWarn || !errors.Is(rep.Checks[0].Err, health.ErrTimeout) {
			t.Errorf("got %s %v, want the self-probing check to time out (warn)", rep.Status, rep.Checks[0].Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the probe did not return")
	}
}
