package admin

import (
	"math"
	"slices"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// SchemaVersion is the version of the JSON documents the Handler serves,
// described by schema/v1.json (served at api/v1/schema.json). Fields are
// only added within a version; a rename or removal makes a new version.
const SchemaVersion = "1"

// Overview is the document of GET api/v1/policies.
type Overview struct {
	SchemaVersion string    `json:"schemaVersion"`
	GeneratedAt   time.Time `json:"generatedAt"`
	Title         string    `json:"title"`
	Controls      Controls  `json:"controls"`
	Events        bool      `json:"events"` // an Events log is attached: counts and recent events are available
	Policies      []Policy  `json:"policies"`
}

// Controls says whether manual controls exist and whether the requester may
// use them.
type Controls struct {
	Enabled bool   `json:"enabled"`          // an authorizer is configured
	Allowed bool   `json:"allowed"`          // the authorizer accepted this request
	Reason  string `json:"reason,omitempty"` // why not, when not allowed
}

// PolicyDocument is the document of GET api/v1/policies/{name}.
type PolicyDocument struct {
	SchemaVersion string    `json:"schemaVersion"`
	GeneratedAt   time.Time `json:"generatedAt"`
	Controls      Controls  `json:"controls"`
	Policy        Policy    `json:"policy"`
}

// Policy is the live state of one policy.
type Policy struct {
	Name string `json:"name"`
	// Status sums the policy up: "open" (a breaker is open), "degraded"
	// (half-open, bulkhead full, limiter out of permits, throttling, recent
	// rejections) or "ok".
	Status         string         `json:"status"`
	StatusReasons  []string       `json:"statusReasons"`
	CircuitBreaker *BreakerState  `json:"circuitBreaker,omitempty"`
	Bulkhead       *BulkheadState `json:"bulkhead,omitempty"`
	RateLimiter    *LimiterState  `json:"rateLimiter,omitempty"`
	KeyedLimiter   *KeyedState    `json:"keyedLimiter,omitempty"`
	Retry          *RetryState    `json:"retry,omitempty"`
	Hedge          *HedgeState    `json:"hedge,omitempty"`
	Timeout        *TimeoutState  `json:"timeout,omitempty"`
	Budget         *BudgetState   `json:"budget,omitempty"`
	Throttle       *ThrottleState `json:"throttle,omitempty"`
	Executions     *Executions    `json:"executions,omitempty"`
	Actions        []string       `json:"actions"`      // controls this requester may use on this policy
	RecentEvents   []Event        `json:"recentEvents"` // newest last
}

// Statuses of a Policy.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusOpen     = "open"
)

// BreakerState is a circuit breaker's state and effective configuration.
type BreakerState struct {
	State                string     `json:"state"` // closed, half-open, open
	Forced               bool       `json:"forced"`
	Requests             uint32     `json:"requests"`
	Successes            uint32     `json:"successes"`
	Failures             uint32     `json:"failures"`
	ConsecutiveFailures  uint32     `json:"consecutiveFailures"`
	ConsecutiveSuccesses uint32     `json:"consecutiveSuccesses"`
	FailureRate          float64    `json:"failureRate"`
	OpenedAt             *time.Time `json:"openedAt,omitempty"`
	LastTransitionAt     *time.Time `json:"lastTransitionAt,omitempty"` // needs an Events log
	HalfOpenAt           *time.Time `json:"halfOpenAt,omitempty"`       // while open and not forced: when trial calls are admitted
	ResetAfterMs         int64      `json:"resetAfterMs"`
	FailureThreshold     int        `json:"failureThreshold,omitempty"`
	SuccessThreshold     int        `json:"successThreshold,omitempty"`
	HalfOpenMaxCalls     int        `json:"halfOpenMaxCalls,omitempty"`
	OpenTimeoutMs        int64      `json:"openTimeoutMs,omitempty"`
	FailureRateThreshold float64    `json:"failureRateThreshold,omitempty"`
}

// BulkheadState is a bulkhead's occupancy and configuration.
type BulkheadState struct {
	Running        int   `json:"running"`
	Queued         int   `json:"queued"`
	MaxConcurrent  int   `json:"maxConcurrent"`
	QueueSize      int   `json:"queueSize"`
	QueueTimeoutMs int64 `json:"queueTimeoutMs"`
	Full           bool  `json:"full"` // every slot and queue place taken
	Rejected       int64 `json:"rejected"`
}

// LimiterState is a rate limiter's permits and configuration.
type LimiterState struct {
	Algorithm       string     `json:"algorithm"`
	Rate            int        `json:"rate"`
	WindowMs        int64      `json:"windowMs"`
	Burst           int        `json:"burst"`
	MaxWaitMs       int64      `json:"maxWaitMs"`
	Available       float64    `json:"available"`
	Acquired        int64      `json:"acquired"` // decisions counted by the Events log
	Limited         int64      `json:"limited"`
	Rejected        int64      `json:"rejected"` // executions rejected RATE_LIMITED
	LastRejectionAt *time.Time `json:"lastRejectionAt,omitempty"`
}

// KeyedState is a per-key rate limiter's configuration and key count.
type KeyedState struct {
	Algorithm string `json:"algorithm"`
	Rate      int    `json:"rate"`
	WindowMs  int64  `json:"windowMs"`
	Burst     int    `json:"burst"`
	Keys      int    `json:"keys"`
	MaxKeys   int    `json:"maxKeys"`
}

// RetryState is a retry policy's configuration and retry count.
type RetryState struct {
	MaxAttempts       int     `json:"maxAttempts"`
	InitialIntervalMs int64   `json:"initialIntervalMs"`
	MaxIntervalMs     int64   `json:"maxIntervalMs"`
	Multiplier        float64 `json:"multiplier"`
	Jitter            string  `json:"jitter"`
	Retries           int64   `json:"retries"`
}

// HedgeState is a hedge policy's configuration and how many hedged attempts
// it started.
type HedgeState struct {
	DelayMs    int64   `json:"delayMs"`    // the delay in force: fixed, or from the latency percentile
	Percentile float64 `json:"percentile"` // 0: a fixed delay
	MaxHedges  int     `json:"maxHedges"`
	Hedges     int64   `json:"hedges"`
}

// TimeoutState is a policy's time limits and how often they fired.
type TimeoutState struct {
	AttemptMs int64 `json:"attemptMs"` // 0: none
	TotalMs   int64 `json:"totalMs"`   // 0: none
	Fired     int64 `json:"fired"`
}

// BudgetState is what is known of a retry budget.
type BudgetState struct {
	Refusals   int64 `json:"refusals"`
	Resettable bool  `json:"resettable"`
}

// ThrottleState is an adaptive throttle's last figures.
type ThrottleState struct {
	Decisions   int64   `json:"decisions"`   // decisions reported: one per attempt the throttle saw, admitted or not
	Throttled   int64   `json:"throttled"`   // executions that ended rejected THROTTLED
	Probability float64 `json:"probability"` // the last reported rejection probability, 0 to 1
}

// Executions are the counts of an Events log for a policy.
type Executions struct {
	Total      int64            `json:"total"`
	Successes  int64            `json:"successes"`
	Failures   int64            `json:"failures"`
	Rejections int64            `json:"rejections"`
	RejectedBy map[string]int64 `json:"rejectedBy"`
	// Fallbacks counts the executions a fallback served; each is also
	// counted above (never as a success: a fallback answered in its place).
	Fallbacks int64 `json:"fallbacks"`
}

// Control actions, as used in URLs (POST api/v1/policies/{name}/{action})
// and in Policy.Actions.
const (
	ActionBreakerOpen  = "breaker/open"
	ActionBreakerClose = "breaker/close"
	ActionBreakerReset = "breaker/reset"
	ActionLimiterReset = "limiter/reset"
	ActionBudgetReset  = "budget/reset"
)

// parts are the live objects of one policy, from a registry or given
// directly.
type parts struct {
	name     string
	breaker  *circuitbreaker.Breaker
	bulkhead *bulkhead.Bulkhead
	limiter  *ratelimit.Limiter
	keyed    *ratelimit.Keyed
	retry    *retry.Retry
	hedge    hedger // nil without a Hedge section
	attempt  *timeout.Timeout
	total    *timeout.Timeout
	budget   fault.Budget
	cfg      *fault.PolicyConfig // the registered configuration, for a registry policy
}

func (p *parts) empty() bool {
	return p.breaker == nil && p.bulkhead == nil && p.limiter == nil && p.keyed == nil && p.retry == nil &&
		p.hedge == nil && p.attempt == nil && p.total == nil && p.budget == nil
}

type resetter interface{ Reset() }

// hedger is what the page shows of a *hedge.Hedge.
type hedger interface {
	Delay() time.Duration
	MaxHedges() int
}

func (p *parts) actions() []string {
	var a []string
	if p.breaker != nil {
		a = append(a, ActionBreakerOpen, ActionBreakerClose, ActionBreakerReset)
	}
	if p.limiter != nil {
		a = append(a, ActionLimiterReset)
	}
	if _, ok := p.budget.(resetter); ok {
		a = append(a, ActionBudgetReset)
	}
	return a
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// view builds the Policy document of p.
func view(p *parts, ev *Events, recent int, allowed bool) Policy {
	now := time.Now()
	c := ev.lookup(p.name)
	out := Policy{Name: p.name, Status: StatusOK, StatusReasons: []string{}, Actions: []string{}, RecentEvents: ev.Recent(p.name, recent)}
	reasons := func(s, why string) {
		if s == StatusOpen || out.Status == StatusOK {
			out.Status = s
		}
		out.StatusReasons = append(out.StatusReasons, why)
	}
	if b := p.breaker; b != nil {
		m := b.Metrics()
		bs := &BreakerState{State: m.State.String(), Forced: m.Forced, Requests: m.Requests, Successes: m.Successes,
			Failures: m.Failures, ConsecutiveFailures: m.ConsecutiveFailures, ConsecutiveSuccesses: m.ConsecutiveSuccesses,
			FailureRate: finite(m.FailureRate), OpenedAt: timePtr(m.OpenedAt), ResetAfterMs: ms(m.ResetAfter)}
		if m.State == circuitbreaker.StateOpen && !m.Forced {
			bs.HalfOpenAt = timePtr(now.Add(m.ResetAfter))
		}
		if c != nil {
			c.stateMu.Lock()
			bs.LastTransitionAt = timePtr(c.stateSince)
			c.stateMu.Unlock()
		}
		if cfg := p.cfg; cfg != nil && cfg.CircuitBreaker != nil {
			w := circuitbreaker.FromPolicy(p.name, *cfg.CircuitBreaker).WithDefaults()
			bs.FailureThreshold, bs.SuccessThreshold, bs.HalfOpenMaxCalls = w.FailureThreshold, w.SuccessThreshold, w.HalfOpenMaxCalls
			bs.OpenTimeoutMs, bs.FailureRateThreshold = ms(w.Timeout), finite(w.FailureRateThreshold)
		}
		out.CircuitBreaker = bs
		switch m.State {
		case circuitbreaker.StateOpen:
			why := "circuit breaker open"
			if m.Forced {
				why = "circuit breaker forced open"
			}
			reasons(StatusOpen, why)
		case circuitbreaker.StateHalfOpen:
			reasons(StatusDegraded, "circuit breaker half-open")
		}
	}
	if b := p.bulkhead; b != nil {
		cfg := b.Config()
		bs := &BulkheadState{Running: b.Running(), Queued: b.Queued(), MaxConcurrent: cfg.MaxConcurrent,
			QueueSize: cfg.QueueSize, QueueTimeoutMs: ms(cfg.QueueTimeout)}
		bs.Full = bs.Running >= bs.MaxConcurrent && bs.Queued >= bs.QueueSize
		if c != nil {
			bs.Rejected = c.bulkheadFull.Load()
		}
		out.Bulkhead = bs
		if bs.Full {
			reasons(StatusDegraded, "bulkhead full")
		}
	}
	if l := p.limiter; l != nil {
		cfg := l.Config()
		ls := &LimiterState{Algorithm: cfg.Algorithm, Rate: cfg.Rate, WindowMs: ms(cfg.Window), Burst: cfg.BurstSize,
			MaxWaitMs: ms(cfg.MaxWait), Available: finite(l.Available())}
		if ls.Algorithm == "" {
			ls.Algorithm = fault.AlgorithmTokenBucket
		}
		if c != nil {
			ls.Acquired, ls.Limited, ls.Rejected = c.limiterAcquired.Load(), c.limiterLimited.Load(), c.rateLimited.Load()
			if at := c.lastRejection.Load(); at != 0 && ls.Rejected > 0 {
				ls.LastRejectionAt = timePtr(time.Unix(0, at))
			}
		}
		out.RateLimiter = ls
		if ls.Available < 1 {
			reasons(StatusDegraded, "rate limiter out of permits")
		}
	}
	if k := p.keyed; k != nil {
		cfg, kc := k.Config(), k.KeyedConfig()
		out.KeyedLimiter = &KeyedState{Algorithm: cfg.Algorithm, Rate: cfg.Rate, WindowMs: ms(cfg.Window), Burst: cfg.BurstSize,
			Keys: k.Len(), MaxKeys: kc.MaxKeys}
		if out.KeyedLimiter.Algorithm == "" {
			out.KeyedLimiter.Algorithm = fault.AlgorithmTokenBucket
		}
	}
	if r := p.retry; r != nil {
		cfg := r.Config()
		rs := &RetryState{MaxAttempts: cfg.MaxAttempts, InitialIntervalMs: ms(cfg.InitialInterval), MaxIntervalMs: ms(cfg.MaxInterval),
			Multiplier: finite(cfg.Multiplier), Jitter: cfg.Jitter}
		if c != nil {
			rs.Retries = c.retries.Load()
		}
		out.Retry = rs
	}
	if h := p.hedge; h != nil || (c != nil && c.hedges.Load() > 0) {
		hs := &HedgeState{}
		if h != nil {
			hs.DelayMs, hs.MaxHedges = ms(h.Delay()), h.MaxHedges()
		}
		if cfg := p.cfg; cfg != nil && cfg.Hedge != nil {
			hs.Percentile = finite(cfg.Hedge.Percentile)
		}
		if c != nil {
			hs.Hedges = c.hedges.Load()
		}
		out.Hedge = hs
	}
	if p.attempt != nil || p.total != nil {
		ts := &TimeoutState{AttemptMs: ms(p.attempt.Duration()), TotalMs: ms(p.total.Duration())}
		if c != nil {
			ts.Fired = c.timeouts.Load()
		}
		out.Timeout = ts
	}
	if p.budget != nil || (c != nil && c.budgetRefusals.Load() > 0) {
		_, ok := p.budget.(resetter)
		out.Budget = &BudgetState{Resettable: ok}
		if c != nil {
			out.Budget.Refusals = c.budgetRefusals.Load()
		}
	}
	if c != nil && c.throttleDecisions.Load() > 0 {
		out.Throttle = &ThrottleState{Decisions: c.throttleDecisions.Load(), Throttled: c.throttled.Load(),
			Probability: math.Float64frombits(c.throttleProb.Load())}
		if out.Throttle.Probability > 0 {
			reasons(StatusDegraded, "throttling")
		}
	}
	if c != nil {
		x := &Executions{Total: c.executions.Load(), Successes: c.successes.Load(), Failures: c.failures.Load(), RejectedBy: map[string]int64{},
			Fallbacks: c.fallbacks.Load()}
		for reason, n := range map[string]int64{"circuit_open": c.circuitOpen.Load(), "rate_limited": c.rateLimited.Load(),
			"bulkhead_full": c.bulkheadFull.Load(), "throttled": c.throttled.Load(), "other": c.otherRejections.Load()} {
			if n > 0 {
				x.RejectedBy[reason] = n
				x.Rejections += n
			}
		}
		out.Executions = x
		if at := c.lastRejection.Load(); at != 0 && now.Sub(time.Unix(0, at)) < recentRejection {
			reasons(StatusDegraded, "recent rejections")
		}
	}
	if allowed {
		out.Actions = append(out.Actions, p.actions()...)
	}
	slices.Sort(out.StatusReasons)
	out.StatusReasons = slices.Compact(out.StatusReasons)
	return out
}

// recentRejection is how long after a rejection a policy counts as degraded.
const recentRejection = 10 * time.Second
