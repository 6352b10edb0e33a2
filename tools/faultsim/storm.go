package faultsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// StormScenario is the name that selects the retry-storm experiment
// (faultsim -scenario retry-storm).
const StormScenario = "retry-storm"

// The retry-storm strategies, in the order they run.
const (
	StormNone           = "none"                  // one attempt per request
	StormNaive          = "naive"                 // up to 3 attempts, at once
	StormRetry          = "retry"                 // fault: retry with backoff and jitter, breaker
	StormBudgetThrottle = "retry+budget+throttle" // the same, plus a retry budget and adaptive throttling
)

// StormStrategies lists the retry-storm strategies in the order they run.
var StormStrategies = []string{StormNone, StormNaive, StormRetry, StormBudgetThrottle}

// StormConfig configures the retry-storm experiment: Clients independent
// clients (each a fault executor with its own breaker, budget and throttle,
// as separate services have) send Rate requests per second in all to one
// dependency that accepts Capacity attempts per second and refuses the rest
// at once with an overload answer (a 503). During the overload phase its
// capacity drops to Capacity/Drop.
type StormConfig struct {
	Clients  int           // independent clients; default 20
	Rate     float64       // requests per second, all clients together; default 1000
	Capacity float64       // attempts per second the healthy dependency accepts; default 1200
	Drop     float64       // capacity divisor during the overload; default 3
	Healthy  time.Duration // the phase before the overload; default 1s
	Overload time.Duration // default 3s
	After    time.Duration // the phase after capacity returns; default 2s
	Deadline time.Duration // each request's deadline; default 1s
	Seed     uint64
	// Strategies to run, a subset of StormStrategies; nil means all.
	Strategies []string
}

func (c StormConfig) withDefaults() StormConfig {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Clients == 0 {
		c.Clients = 20
	}
	def(&c.Rate, 1000)
	def(&c.Capacity, 1200)
	def(&c.Drop, 3)
	defD(&c.Healthy, time.Second)
	defD(&c.Overload, 3*time.Second)
	defD(&c.After, 2*time.Second)
	defD(&c.Deadline, time.Second)
	if c.Strategies == nil {
		c.Strategies = StormStrategies
	}
	return c
}

// Validate reports the first problem of c (after defaults).
func (c StormConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Clients < 1 || c.Clients > 1000:
		return fmt.Errorf("retry-storm: clients %d must be between 1 and 1000", c.Clients)
	case !(c.Rate > 0 && c.Rate <= 20000):
		return fmt.Errorf("retry-storm: rate %v must be in (0, 20000]", c.Rate)
	case !(c.Capacity > 0 && c.Capacity <= 100000):
		return fmt.Errorf("retry-storm: capacity %v must be in (0, 100000]", c.Capacity)
	case !(c.Drop >= 1 && c.Drop <= 1000):
		return fmt.Errorf("retry-storm: drop %v must be in [1, 1000]", c.Drop)
	case c.Healthy < 0 || c.Overload <= 0 || c.After <= 0 || c.Healthy+c.Overload+c.After > 5*time.Minute:
		return fmt.Errorf("retry-storm: phases %v/%v/%v: overload and after must be > 0, the timeline at most 5m", c.Healthy, c.Overload, c.After)
	case c.Deadline <= 0 || c.Deadline > time.Minute:
		return fmt.Errorf("retry-storm: deadline %v must be in (0, 1m]", c.Deadline)
	}
	for _, s := range c.Strategies {
		if !slices.Contains(StormStrategies, s) {
			return fmt.Errorf("retry-storm: unknown strategy %q (want some of %v)", s, StormStrategies)
		}
	}
	return nil
}

// stormBucket is the time resolution of the series.
const stormBucket = 100 * time.Millisecond

// StormPolicy returns the policy each client of a fault strategy registers;
// withOverload adds the budget and the throttle. Durations are compressed
// like the timeline (an incident of minutes played in seconds): the
// throttle's window is 500ms instead of 2m, the budget's 1s instead of 10s.
func StormPolicy(withOverload bool) fault.PolicyConfig {
	p := fault.PolicyConfig{
		Name:           "dependency",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Multiplier: 2, Jitter: fault.JitterFull},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 50, SuccessThreshold: 1, HalfOpenMaxCalls: 1, Timeout: 250 * time.Millisecond},
		Timeout:        &fault.TimeoutPolicyConfig{},
	}
	if withOverload {
		p.Budget = &fault.BudgetPolicyConfig{Ratio: 0.1, MinPerSecond: 1, Window: time.Second}
		p.Throttle = &fault.ThrottlePolicyConfig{K: 2, Window: 500 * time.Millisecond, MaxRejectionProbability: 0.9, MinRequests: 20}
	}
	return p
}

// overloadError is the dependency's refusal: a 503 that says it is
// overloaded (as faulthttp's StatusError does for 503 answers).
type overloadError struct{}

func (overloadError) Error() string  { return "503 Service Unavailable: over capacity" }
func (overloadError) Overload() bool { return true }

var errOverloaded error = overloadError{}

// refusalCost is the work a refusal costs the dependency, as a share of an
// accepted attempt's.
const refusalCost = 0.04

// dependency accepts attempts at its capacity (a token bucket with 20ms of
// burst) and refuses the rest at once; refusing is cheap but not free: each
// refusal costs refusalCost of an accepted attempt's work (parsing,
// authenticating, answering), so a flood of attempts it refuses still eats
// into what it can accept. It counts what it receives per bucket.
type dependency struct {
	mu       sync.Mutex
	start    time.Time
	tokens   float64
	last     time.Duration
	capacity func(at time.Duration) float64
	received []atomic.Int64 // attempts received, per series bucket
	accepted []atomic.Int64
}

func (d *dependency) call() error {
	at := time.Since(d.start)
	b := min(int(at/stormBucket), len(d.received)-1)
	d.received[b].Add(1)
	c := d.capacity(at)
	d.mu.Lock()
	if at > d.last {
		d.tokens = min(d.tokens+c*(at-d.last).Seconds(), c*0.02)
		d.last = at
	}
	ok := d.tokens >= 1
	if ok {
		d.tokens--
	} else {
		d.tokens = max(d.tokens-refusalCost, -c*0.02)
	}
	d.mu.Unlock()
	if !ok {
		return errOverloaded
	}
	d.accepted[b].Add(1)
	return nil
}

// StormResult is the outcome of the retry-storm experiment.
type StormResult struct {
	Config     StormConfig     `json:"config"`
	Strategies []StormStrategy `json:"strategies"`
	Checks     []StormCheck    `json:"checks"`
	Passed     bool            `json:"passed"`
	BucketMs   int64           `json:"bucket_ms"`
	WallTime   time.Duration   `json:"wall_time_ns"`
}

// StormStrategy is one strategy's measurements.
type StormStrategy struct {
	Name string `json:"name"`
	// Per phase (healthy, overload, after): requests started, succeeded, and
	// the attempts the dependency received and accepted during the phase.
	Phases [3]StormPhase `json:"phases"`
	// OverloadAmplification: attempts received during the overload per
	// request started during it.
	OverloadAmplification float64 `json:"overload_amplification"`
	// OverloadGoodput: attempts accepted during the overload, per second,
	// as a share of the dependency's overload capacity.
	OverloadGoodput float64 `json:"overload_goodput"`
	// Recovery: from the end of the overload until, of the requests started
	// within the next 250ms, 90% succeed; -1 if never.
	Recovery time.Duration `json:"recovery_ns"`
	// Series, one point per 100ms: attempts received / requests started,
	// accepted attempts per second, and the clients' mean throttle
	// probability.
	Amplification []float64 `json:"amplification"`
	Goodput       []float64 `json:"goodput"`
	Probability   []float64 `json:"probability,omitempty"`
	// From the clients' fault/metrics recorder.
	BudgetRefusals    uint64 `json:"budget_refusals"`
	ThrottledAttempts uint64 `json:"throttled_attempts"`
	CircuitOpens      uint64 `json:"circuit_opens"`
}

// StormPhase is one phase of one strategy.
type StormPhase struct {
	Name      string `json:"name"`
	Requests  int64  `json:"requests"`
	Successes int64  `json:"successes"`
	Received  int64  `json:"received"`
	Accepted  int64  `json:"accepted"`
}

// StormCheck is one checked expectation.
type StormCheck struct {
	Expectation string `json:"expectation"`
	Got         string `json:"got"`
	Pass        bool   `json:"pass"`
}

// RunStorm runs the retry-storm experiment: each strategy in turn plays the
// timeline against a fresh dependency, in real time.
func RunStorm(ctx context.Context, cfg StormConfig) (*StormResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	began := time.Now()
	res := &StormResult{Config: cfg, BucketMs: stormBucket.Milliseconds()}
	for _, name := range StormStrategies {
		if !slices.Contains(cfg.Strategies, name) {
			continue
		}
		s, err := runStormStrategy(ctx, cfg, name)
		if err != nil {
			return nil, err
		}
		res.Strategies = append(res.Strategies, *s)
	}
	res.WallTime = time.Since(began)
	res.check()
	return res, nil
}

// stormRequest is one client request's outcome.
type stormRequest struct {
	at time.Duration
	ok bool
}

func runStormStrategy(ctx context.Context, cfg StormConfig, name string) (*StormStrategy, error) {
	timeline := cfg.Healthy + cfg.Overload + cfg.After
	nb := int((timeline+stormBucket-1)/stormBucket) + 1
	ovStart, ovEnd := cfg.Healthy, cfg.Healthy+cfg.Overload
	dep := &dependency{
		received: make([]atomic.Int64, nb),
		accepted: make([]atomic.Int64, nb),
		capacity: func(at time.Duration) float64 {
			if at >= ovStart && at < ovEnd {
				return cfg.Capacity / cfg.Drop
			}
			return cfg.Capacity
		},
	}
	rec, err := metrics.New()
	if err != nil {
		return nil, err
	}
	var clients []*executor.Executor[struct{}]
	if name == StormRetry || name == StormBudgetThrottle {
		ec := fault.DefaultExecutorConfig()
		ec.LoggerEnabled = false
		ec.MetricsRecorder = rec
		for range cfg.Clients {
			e, err := executor.New[struct{}](ec)
			if err != nil {
				return nil, err
			}
			if err := e.RegisterPolicy(StormPolicy(name == StormBudgetThrottle)); err != nil {
				return nil, err
			}
			clients = append(clients, e)
		}
	}
	op := func(context.Context) (struct{}, error) { return struct{}{}, dep.call() }
	send := func(ctx context.Context, client int) bool {
		switch name {
		case StormNone:
			return dep.call() == nil
		case StormNaive:
			for range 3 {
				if ctx.Err() != nil {
					return false
				}
				if dep.call() == nil {
					return true
				}
			}
			return false
		default:
			_, err := clients[client].Do(ctx, "dependency", op)
			return err == nil
		}
	}

	// Arrivals: Poisson at Rate, drawn from Seed, the same for every
	// strategy; each request goes to a random client.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5707))
	arrivals := poissonArrivals(nil, rng, cfg.Rate, 0, timeline)
	reqs := make([]stormRequest, len(arrivals))
	prob := make([]float64, nb)
	var wg sync.WaitGroup
	dep.start = time.Now()
	// Sample the clients' throttle probability once per bucket.
	stopSampling := make(chan struct{})
	if name == StormBudgetThrottle {
		wg.Go(func() {
			tick := time.NewTicker(stormBucket)
			defer tick.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-tick.C:
					at := time.Since(dep.start)
					b := min(int(at/stormBucket), nb-1)
					sum := 0.0
					for _, e := range clients {
						if ps, ok := e.Registry().Patterns("dependency"); ok {
							sum += ps.Throttle.Probability()
						}
					}
					prob[b] = sum / float64(len(clients))
				}
			}
		})
	}
	for i, at := range arrivals {
		if d := time.Until(dep.start.Add(at)); d > 0 {
			select {
			case <-ctx.Done():
				close(stopSampling)
				wg.Wait()
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		client := rng.IntN(cfg.Clients)
		reqs[i].at = at
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
			defer cancel()
			reqs[i].ok = send(rctx, client)
		})
	}
	// Let the last requests finish (their retries count), then stop.
	time.Sleep(min(cfg.Deadline, time.Second))
	close(stopSampling)
	wg.Wait()
	return summarizeStorm(cfg, name, reqs, dep, prob, rec, nb), nil
}

func summarizeStorm(cfg StormConfig, name string, reqs []stormRequest, dep *dependency, prob []float64, rec *metrics.Recorder, nb int) *StormStrategy {
	ovStart, ovEnd := cfg.Healthy, cfg.Healthy+cfg.Overload
	timeline := ovEnd + cfg.After
	s := &StormStrategy{Name: name, Recovery: -1}
	s.Phases[0].Name, s.Phases[1].Name, s.Phases[2].Name = "healthy", "overload", "after"
	phaseOf := func(at time.Duration) int {
		switch {
		case at < ovStart:
			return 0
		case at < ovEnd:
			return 1
		}
		return 2
	}
	started := make([]int64, nb)
	for _, r := range reqs {
		p := &s.Phases[phaseOf(r.at)]
		p.Requests++
		if r.ok {
			p.Successes++
		}
		started[min(int(r.at/stormBucket), nb-1)]++
	}
	for b := range nb {
		at := time.Duration(b) * stormBucket
		if at >= timeline {
			break
		}
		p := &s.Phases[phaseOf(at)]
		p.Received += dep.received[b].Load()
		p.Accepted += dep.accepted[b].Load()
		amp := 0.0
		if started[b] > 0 {
			amp = float64(dep.received[b].Load()) / float64(started[b])
		}
		s.Amplification = append(s.Amplification, amp)
		s.Goodput = append(s.Goodput, float64(dep.accepted[b].Load())/stormBucket.Seconds())
		if name == StormBudgetThrottle {
			s.Probability = append(s.Probability, prob[b])
		}
	}
	ov := s.Phases[1]
	if ov.Requests > 0 {
		s.OverloadAmplification = float64(ov.Received) / float64(ov.Requests)
	}
	s.OverloadGoodput = float64(ov.Accepted) / cfg.Overload.Seconds() / (cfg.Capacity / cfg.Drop)
	// Recovery: the first 250ms window after the overload in which 90% of
	// the requests started succeed.
	const window = 250 * time.Millisecond
	for t := ovEnd; t+window <= timeline; t += 10 * time.Millisecond {
		var n, ok int
		for _, r := range reqs {
			if r.at >= t && r.at < t+window {
				n++
				if r.ok {
					ok++
				}
			}
		}
		if n > 0 && float64(ok) >= 0.9*float64(n) {
			s.Recovery = t - ovEnd
			break
		}
	}
	if ps, ok := rec.Policy("dependency"); ok {
		s.BudgetRefusals = ps.BudgetRefusedRetries
		s.ThrottledAttempts = ps.ThrottledAttempts
		s.CircuitOpens = ps.CircuitOpens
	}
	return s
}

// Strategy returns the named strategy's measurements.
func (r *StormResult) Strategy(name string) (StormStrategy, bool) {
	for _, s := range r.Strategies {
		if s.Name == name {
			return s, true
		}
	}
	return StormStrategy{}, false
}

// check evaluates the experiment's expectations on the strategies that ran.
func (r *StormResult) check() {
	r.Checks = nil
	add := func(exp string, pass bool, got string) {
		r.Checks = append(r.Checks, StormCheck{Expectation: exp, Got: got, Pass: pass})
	}
	if s, ok := r.Strategy(StormBudgetThrottle); ok {
		add(StormBudgetThrottle+".overload.amplification <= 1.2", s.OverloadAmplification <= 1.2, fmt.Sprintf("%.2f", s.OverloadAmplification))
		add(StormBudgetThrottle+".overload.goodput >= 90% of capacity", s.OverloadGoodput >= 0.9, percent(s.OverloadGoodput))
		add(StormBudgetThrottle+".recovery <= 1s", s.Recovery >= 0 && s.Recovery <= time.Second, recoveryText(s.Recovery))
	}
	if s, ok := r.Strategy(StormRetry); ok {
		add(StormRetry+".overload.amplification >= 2", s.OverloadAmplification >= 2, fmt.Sprintf("%.2f", s.OverloadAmplification))
	}
	r.Passed = true
	for _, c := range r.Checks {
		r.Passed = r.Passed && c.Pass
	}
}

// Check returns an error naming the expectations that failed, nil when all
// held.
func (r *StormResult) Check() error {
	var failed []error
	for _, c := range r.Checks {
		if !c.Pass {
			failed = append(failed, fmt.Errorf("%s (got %s)", c.Expectation, c.Got))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("retry-storm: %d expectation(s) failed: %w", len(failed), errors.Join(failed...))
}
