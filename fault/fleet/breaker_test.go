package fleet_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

var errDown = errors.New("dependency down")

func okOp(context.Context) (int, error)   { return 1, nil }
func failOp(context.Context) (int, error) { return 0, errDown }

// newBreaker builds a fleet breaker on c for instance id; closed at the
// end of the test.
func newBreaker(t *testing.T, c redis.UniversalClient, id string, quorum int) *fleet.Breaker {
	t.Helper()
	b, err := fleet.NewBreaker(circuitbreaker.Config{Name: "dep", FailureThreshold: 2, Timeout: 10 * time.Second},
		fleet.BreakerConfig{Name: "dep", Client: c, Instance: id, Quorum: quorum, SyncInterval: time.Second, StoreTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

func tripLocal(b *fleet.Breaker) {
	for range 2 {
		_, _ = fleet.BreakerPolicy[int](b).Execute(context.Background(), failOp)
	}
}

// settle lets every instance sync at least once (each within 1s ±20%).
func settle() {
	time.Sleep(1300 * time.Millisecond)
	synctest.Wait()
}

// TestRuleQuorum: Quorum−1 reporters never open the fleet; Quorum do, and
// every other instance's local breaker opens within one sync interval.
func TestRuleQuorum(t *testing.T) {
	m := miniredis.RunT(t)
	synctest.Test(t, func(t *testing.T) {
		var bs []*fleet.Breaker
		for _, id := range []string{"a", "b", "c", "d"} {
			c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			bs = append(bs, newBreaker(t, c, id, 3))
		}
		settle()
		tripLocal(bs[0])
		tripLocal(bs[1])
		settle()
		settle()
		if s := bs[3].State(); s != circuitbreaker.StateClosed {
			t.Fatalf("2 of quorum 3 reported open; instance d is %v", s)
		}
		tripLocal(bs[2])
		settle()
		if s := bs[3].State(); s != circuitbreaker.StateOpen {
			t.Fatalf("quorum met; instance d is %v, want open within one sync interval", s)
		}
		if st := bs[3].Stats(); st.FleetOpens != 1 || st.Remaining <= 0 || st.SyncErrors != 0 {
			t.Fatalf("d's stats: %+v", st)
		}
		// d's local breaker is open for the fleet's remaining time (≈ 10s),
		// then half-open: it tries for itself.
		if ra := bs[3].Local().Metrics().ResetAfter; ra <= 8*time.Second || ra > 10*time.Second {
			t.Fatalf("d's ResetAfter %v, want the fleet's remaining ≈10s", ra)
		}
		for _, b := range bs {
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRuleOneBadInstanceOpensOnlyItself: with the default quorum of 2 a
// single instance's trouble stays local.
func TestRuleOneBadInstanceOpensOnlyItself(t *testing.T) {
	m := miniredis.RunT(t)
	synctest.Test(t, func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
		defer func() { _ = c.Close() }()
		a, b := newBreaker(t, c, "a", 0), newBreaker(t, c, "b", 0)
		tripLocal(a)
		for range 5 {
			settle()
		}
		if a.State() == circuitbreaker.StateClosed || b.State() != circuitbreaker.StateClosed {
			t.Fatalf("a %v, b %v: want a open, b closed", a.State(), b.State())
		}
		_ = a.Close(context.Background())
		_ = b.Close(context.Background())
	})
}

// TestRuleZeroStoreCommandsPerExecute counts the client's commands: only
// syncs use Redis, never a call.
func TestRuleZeroStoreCommandsPerExecute(t *testing.T) {
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	var rt roundTrips
	c.AddHook(&rt)
	b, err := fleet.NewBreaker(circuitbreaker.Config{Name: "dep"}, fleet.BreakerConfig{Name: "dep", Client: c, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for b.Stats().Syncs == 0 {
		time.Sleep(time.Millisecond) // the first sync runs at once, in the background
	}
	before := rt.n.Load()
	for range 1000 {
		if _, err := fleet.BreakerPolicy[int](b).Execute(context.Background(), okOp); err != nil {
			t.Fatal(err)
		}
	}
	if d := rt.n.Load() - before; d != 0 {
		t.Fatalf("1000 calls sent %d commands to Redis, want 0", d)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); !errors.Is(err, fleet.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// syncCall runs the sync script as instance id would, with a quorum
// window of 10s and an open time of 30s.
func syncCall(t *testing.T, c *redis.Client, id, report string, gen int64, quorum int) []int64 {
	t.Helper()
	return syncCallW(t, c, id, report, gen, quorum, 10*time.Second, 30*time.Second)
}

func syncCallW(t *testing.T, c *redis.Client, id, report string, gen int64, quorum int, window, openFor time.Duration) []int64 {
	t.Helper()
	keys := []string{"fault:cb:{dep}", "fault:cb:{dep}:reporters"}
	res, err := redis.NewScript(fleet.SyncScript()).Run(context.Background(), c, keys, id, report, gen, quorum,
		window.Microseconds(), openFor.Microseconds()).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRuleStaleGenerationCannotClose: a "closed" report for a generation
// that is not the current one leaves the record open; the current one
// closes it. A starting instance ("none") never closes it.
func TestRuleStaleGenerationCannotClose(t *testing.T) {
	m, c := newMini(t)
	r := syncCall(t, c, "a", "open", 0, 1)
	gen, remaining := r[0], r[1]
	if gen == 0 || remaining != (30*time.Second).Microseconds() {
		t.Fatalf("after a quorum-1 open report: %v", r)
	}
	if r := syncCall(t, c, "starting", "none", 0, 1); r[1] != remaining || r[0] != gen {
		t.Fatalf("a starting instance changed the record: %v", r)
	}
	if r := syncCall(t, c, "b", "closed", gen-1, 1); r[3] != 0 || r[1] == 0 {
		t.Fatalf("stale generation closed the record: %v", r)
	}
	if r := syncCall(t, c, "b", "closed", 0, 1); r[3] != 0 || r[1] == 0 {
		t.Fatalf("generation 0 closed the record: %v", r)
	}
	m.SetTime(t0.Add(5 * time.Second))
	if r := syncCall(t, c, "b", "none", 0, 1); r[1] != (25 * time.Second).Microseconds() {
		t.Fatalf("remaining after 5s of Redis time: %v", r)
	}
	if r := syncCall(t, c, "a", "closed", gen, 1); r[3] != 1 || r[1] != 0 {
		t.Fatalf("current generation did not close the record: %v", r)
	}
}

// TestRuleRecordExpires: the record and the reporters expire with their
// TTLs (remaining open time plus the quorum window).
func TestRuleRecordExpires(t *testing.T) {
	m, c := newMini(t)
	syncCall(t, c, "a", "open", 0, 1)
	if !m.Exists("fault:cb:{dep}") || m.Exists("fault:cb:{dep}:reporters") {
		t.Fatal("record not written, or the reports that opened it not consumed")
	}
	syncCall(t, c, "b", "open", 0, 5) // the record is open: the report is not kept
	if m.Exists("fault:cb:{dep}:reporters") {
		t.Fatal("an open report was kept while the record is open")
	}
	if ttl := m.TTL("fault:cb:{dep}"); ttl != 40*time.Second {
		t.Fatalf("record TTL %v, want 30s open + 10s window", ttl)
	}
	m.FastForward(40 * time.Second)
	if len(m.Keys()) != 0 {
		t.Fatalf("keys left: %v", m.Keys())
	}
	// Reports below the quorum expire with the window.
	m.SetTime(t0.Add(time.Hour))
	syncCall(t, c, "b", "open", 0, 5)
	if ttl := m.TTL("fault:cb:{dep}:reporters"); ttl != 10*time.Second {
		t.Fatalf("reporters TTL %v, want the 10s window", ttl)
	}
	m.FastForward(10 * time.Second)
	if len(m.Keys()) != 0 {
		t.Fatalf("keys left: %v", m.Keys())
	}
}

// TestRuleRestartDoesNotResetOpenRecord: a new instance joining while the
// fleet is open reads the record, opens its local breaker and writes no
// "closed".
func TestRuleRestartDoesNotResetOpenRecord(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetTime(t0)
	synctest.Test(t, func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
		defer func() { _ = c.Close() }()
		a := newBreaker(t, c, "a", 1)
		tripLocal(a)
		settle()
		gen, _ := c.HGet(context.Background(), "fault:cb:{dep}", "gen").Int64()
		if gen == 0 {
			t.Fatal("fleet did not open")
		}
		restarted := newBreaker(t, c, "restarted", 1)
		settle()
		if restarted.State() != circuitbreaker.StateOpen {
			t.Fatalf("restarted instance is %v, want open from the fleet record", restarted.State())
		}
		until, _ := c.HGet(context.Background(), "fault:cb:{dep}", "until").Int64()
		if until <= t0.UnixMicro() {
			t.Fatal("the restarted instance closed the record")
		}
		_ = a.Close(context.Background())
		_ = restarted.Close(context.Background())
	})
}

// TestRuleRedisDownLocalBreakingGoesOn: with Redis gone, the local breaker
// trips and recovers as alone; syncs fail, are counted, and Check warns.
func TestRuleRedisDownLocalBreakingGoesOn(t *testing.T) {
	m := miniredis.RunT(t)
	synctest.Test(t, func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		defer func() { _ = c.Close() }()
		b := newBreaker(t, c, "a", 0)
		settle()
		if err := b.Check(context.Background()); err != nil {
			t.Fatalf("Check while Redis is up = %v", err)
		}
		m.Close()
		for round := range 3 {
			tripLocal(b)
			if b.State() != circuitbreaker.StateOpen {
				t.Fatalf("round %d: local breaker did not trip", round)
			}
			time.Sleep(10 * time.Second)
			if _, err := fleet.BreakerPolicy[int](b).Execute(context.Background(), okOp); err != nil {
				t.Fatalf("round %d: trial after Timeout: %v", round, err)
			}
			if b.State() != circuitbreaker.StateClosed {
				t.Fatalf("round %d: local breaker did not recover", round)
			}
		}
		synctest.Wait()
		if st := b.Stats(); st.SyncErrors == 0 {
			t.Fatalf("no sync errors counted: %+v", st)
		}
		if err := b.Check(context.Background()); err == nil {
			t.Fatal("Check = nil while Redis is down")
		}
		_ = b.Close(context.Background())
		_ = c.Close()
		// go-redis retries a failed dial in the background with backoff:
		// let those goroutines finish inside the bubble.
		time.Sleep(time.Minute)
	})
}

func TestBreakerConfigValidate(t *testing.T) {
	_, c := newMini(t)
	for _, cfg := range []fleet.BreakerConfig{
		{Client: c},
		{Name: "x"},
		{Name: "x", Client: c, Quorum: -1},
		{Name: "x", Client: c, SyncInterval: time.Microsecond},
		{Name: "x", Client: c, OpenFor: -1},
	} {
		if _, err := fleet.NewBreaker(circuitbreaker.Config{Name: "x"}, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := fleet.NewBreaker(circuitbreaker.Config{}, fleet.BreakerConfig{Name: "x", Client: c}); err == nil {
		t.Error("invalid local config accepted")
	}
}

// TestRuleFleetCannotHoldItselfOpen pins a bug found in the fleet-outage
// simulation: reports of a period already acted on (and reports that
// arrived while the record was open) re-opened the record the moment it
// expired, so instances held open by the fleet kept it open after the
// dependency healed. Opening consumes the reports; reports while open are
// dropped; only fresh reports after the period open it again.
func TestRuleFleetCannotHoldItselfOpen(t *testing.T) {
	m, c := newMini(t)
	// A quorum window (30s) longer than the open time (10s), as with the
	// defaults when QuorumWindow is set above Timeout.
	sc := func(id, report string) []int64 {
		return syncCallW(t, c, id, report, 0, 2, 30*time.Second, 10*time.Second)
	}
	sc("a", "open")
	if r := sc("b", "open"); r[1] == 0 {
		t.Fatalf("quorum of 2 did not open: %v", r)
	}
	m.SetTime(t0.Add(time.Second))
	sc("c", "open") // while open: dropped
	sc("d", "open")
	m.SetTime(t0.Add(10 * time.Second)) // the open period ends; every report is within the window
	if r := sc("e", "none"); r[1] != 0 {
		t.Fatalf("the record re-opened from the reports of the period already acted on: %v", r)
	}
	// Two fresh reports after the period open a new generation.
	sc("a", "open")
	if r := sc("b", "open"); r[1] == 0 || r[0] == 0 {
		t.Fatalf("fresh reports did not re-open: %v", r)
	}
}

// TestRuleFleetCloseLetsLocalBreakersGoHalfOpen pins a gap: a fleet close
// (a "closed" report for the current generation) ended the fleet record,
// but local breakers the fleet had opened stayed open for the whole fleet
// open time. Now the next sync ends that period: they go half-open (never
// closed: their own trials decide), while the instances that tripped by
// their own failures keep their own open time.
func TestRuleFleetCloseLetsLocalBreakersGoHalfOpen(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetTime(t0)
	synctest.Test(t, func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
		defer func() { _ = c.Close() }()
		var bs []*fleet.Breaker
		for _, id := range []string{"a", "b", "c", "d"} {
			bs = append(bs, newBreaker(t, c, id, 2))
		}
		settle()
		tripLocal(bs[0])
		tripLocal(bs[1])
		settle()
		for i, b := range bs {
			if b.State() != circuitbreaker.StateOpen {
				t.Fatalf("instance %d is %v after the quorum opened the fleet", i, b.State())
			}
		}
		gen, _ := c.HGet(context.Background(), "fault:cb:{dep}", "gen").Int64()
		if r := syncCall(t, c, "a", "closed", gen, 2); r[3] != 1 {
			t.Fatalf("the close report was not applied: %v", r)
		}
		settle()
		for i, b := range bs[2:] {
			if s := b.State(); s != circuitbreaker.StateHalfOpen {
				t.Fatalf("fleet-opened instance %d is %v one sync after the fleet closed, want half-open (never closed)", i+2, s)
			}
			if st := b.Stats(); st.FleetCloses != 1 {
				t.Fatalf("instance %d stats %+v, want FleetCloses 1", i+2, st)
			}
		}
		for i, b := range bs[:2] {
			if s := b.State(); s != circuitbreaker.StateOpen {
				t.Fatalf("self-tripped instance %d is %v, want open for its own Timeout", i, s)
			}
			if ra := b.Local().Metrics().ResetAfter; ra <= 0 || ra > 10*time.Second-2*time.Second {
				t.Fatalf("self-tripped instance %d ResetAfter %v, want what is left of its own 10s", i, ra)
			}
		}
		// The trial of a fleet-opened instance decides: success closes it.
		if _, err := fleet.BreakerPolicy[int](bs[2]).Execute(context.Background(), okOp); err != nil {
			t.Fatalf("trial: %v", err)
		}
		if s := bs[2].State(); s != circuitbreaker.StateClosed {
			t.Fatalf("state %v after a successful trial", s)
		}
		for _, b := range bs {
			_ = b.Close(context.Background())
		}
	})
}

// TestRuleBreakerExecuteAddsNoAllocation: Execute through the fleet
// wrapper allocates what the local breaker alone allocates, nothing more
// (BreakerView.Execute's promise; BenchmarkBreakerExecute measures both).
func TestRuleBreakerExecuteAddsNoAllocation(t *testing.T) {
	_, c := newMini(t)
	local, err := circuitbreaker.New(circuitbreaker.Config{Name: "dep"})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fleet.NewBreaker(circuitbreaker.Config{Name: "dep"}, fleet.BreakerConfig{Name: "dep", Client: c, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close(context.Background()) })
	for fb.Stats().Syncs == 0 {
		time.Sleep(time.Millisecond) // the first sync (at once, in the background) must not be counted
	}
	ctx := context.Background()
	alone := testing.AllocsPerRun(1000, func() { _, _ = circuitbreaker.Policy[int](local).Execute(ctx, okOp) })
	wrapped := testing.AllocsPerRun(1000, func() { _, _ = fleet.BreakerPolicy[int](fb).Execute(ctx, okOp) })
	if wrapped > alone {
		t.Fatalf("Execute through the fleet breaker: %v allocations, the local breaker alone %v", wrapped, alone)
	}
}
