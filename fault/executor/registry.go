package executor

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/hedge"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/throttle"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// Registry holds named policies: for each, the pattern objects built from its
// PolicyConfig (breaker, limiter, bulkhead, retry, time limits). The objects
// are untyped, so executors of different result types that share a Registry
// (see WithRegistry) share one breaker, one limiter and one bulkhead per
// policy name.
//
// Lookups are lock-free (an atomic pointer to an immutable snapshot);
// registration copies the snapshot under a mutex. Replacing a policy is
// atomic: calls already running finish on the objects they started with.
type Registry struct {
	mu       sync.Mutex // serialises writers
	policies atomic.Pointer[snapshot]
}

// smallRegistry is the size up to which a lookup scans a slice, comparing
// names, instead of hashing the name for a map: a few string comparisons
// (mostly rejected on length) cost less than one hash.
const smallRegistry = 8

// snapshot is an immutable view of the registry.
type snapshot struct {
	m     map[string]*policy
	small []*policy // the same policies when there are at most smallRegistry, else nil
}

func newSnapshot(m map[string]*policy) *snapshot {
	s := &snapshot{m: m}
	if len(m) <= smallRegistry {
		s.small = make([]*policy, 0, len(m))
		for _, p := range m {
			s.small = append(s.small, p)
		}
	}
	return s
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.policies.Store(newSnapshot(map[string]*policy{}))
	return r
}

func (r *Registry) lookup(name string) *policy {
	s := r.policies.Load()
	if s.small == nil {
		return s.m[name]
	}
	for _, p := range s.small {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (r *Registry) store(p *policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.policies.Load().m
	m := make(map[string]*policy, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[p.name] = p
	r.policies.Store(newSnapshot(m))
}

func (r *Registry) remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.policies.Load().m
	if _, ok := old[name]; !ok {
		return
	}
	m := make(map[string]*policy, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	r.policies.Store(newSnapshot(m))
}

// Names returns the registered policy names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	m := r.policies.Load().m
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Patterns returns the pattern objects of the named policy, for inspection
// and manual control (a breaker's State, ForceOpen; a bulkhead's Running).
// ok is false when no policy has that name.
func (r *Registry) Patterns(name string) (p Patterns, ok bool) {
	if r == nil {
		return Patterns{}, false
	}
	pol := r.lookup(name)
	if pol == nil {
		return Patterns{}, false
	}
	return pol.patterns, true
}

// Patterns are the objects a policy was built into. A nil field means the
// pattern is off for the policy.
type Patterns struct {
	Config         fault.PolicyConfig      // the registered configuration
	Retry          *retry.Retry            // Retry section
	Hedge          *hedge.Hedge            // Hedge section
	Throttle       *throttle.Throttle      // Throttle section, or the executor's WithThrottle
	Budget         fault.Budget            // shared by retry and hedge: Budget section, or the executor's WithBudget
	CircuitBreaker *circuitbreaker.Breaker // CircuitBreaker section
	RateLimiter    *ratelimit.Limiter      // RateLimit section
	Bulkhead       *bulkhead.Bulkhead      // Bulkhead section
	AttemptLimit   *timeout.Timeout        // Timeout.Timeout, or ExecutorConfig.DefaultTimeout without a Timeout section
	TotalLimit     *timeout.Timeout        // Timeout.Max
}

// ErrUnknownPolicy matches (errors.Is) the error returned for a policy name
// that is not registered. The error is also a *fault.InvalidPolicyError (code
// INVALID_POLICY).
var ErrUnknownPolicy = errors.New("executor: unknown policy")

type unknownPolicyError struct{ err *fault.InvalidPolicyError }

func (e *unknownPolicyError) Error() string   { return e.err.Error() }
func (e *unknownPolicyError) Unwrap() []error { return []error{ErrUnknownPolicy, e.err} }

func newUnknownPolicyError(name string) error {
	return &unknownPolicyError{fault.NewInvalidPolicyError(name, "policyName", name, "no policy is registered under this name")}
}
