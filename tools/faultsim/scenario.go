package faultsim

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// The strategies a scenario is run with, in the order they are run and shown.
const (
	// StrategyNone sends each request once: no protection at all.
	StrategyNone = "none"
	// StrategyNaive retries a failed request at once, up to NaiveAttempts
	// attempts in all: the hand-rolled loop fault replaces.
	StrategyNaive = "naive"
	// StrategyFault sends each request through the scenario's policy: the
	// fault/executor executor behind a fault/faulthttp Transport.
	StrategyFault = "fault"
)

// Strategies lists every strategy, in run order.
var Strategies = []string{StrategyNone, StrategyNaive, StrategyFault}

// Limits and defaults of scenarios, in one place. The limits keep a
// scenario's request count, and so the simulator's memory and sockets,
// bounded.
const (
	DefaultMaxInFlight       = 512                    // Scenario.MaxInFlight
	DefaultNaiveAttempts     = 3                      // Scenario.NaiveAttempts
	DefaultRecoveryThreshold = 0.9                    // Scenario.RecoveryThreshold
	DefaultRecoveryWindow    = 250 * time.Millisecond // Scenario.RecoveryWindow
	MaxRate                  = 5000                   // requests per second, any phase
	MaxTimeline              = 10 * time.Minute       // all phases together
	MaxRequests              = 200_000                // expected requests per strategy (rate × duration, summed)
	MaxInFlightLimit         = 4096                   // Scenario.MaxInFlight
	MaxCapacity              = 10_000                 // Server.Capacity, Phase.Capacity
	MaxQueue                 = 100_000                // Server.Queue
	MaxLatency               = time.Minute            // Latency.P50, Latency.P99
	MaxDeadline              = time.Minute            // Scenario.Deadline
	MaxNaiveAttempts         = 10                     // Scenario.NaiveAttempts
	MinBucket                = 10 * time.Millisecond  // Scenario.Bucket
)

//go:embed scenarios/default.json
var defaultScenario []byte

// DefaultScenarioJSON returns the embedded default scenario, as a file a
// user can copy and edit (faultsim -print-default).
func DefaultScenarioJSON() []byte { return append([]byte(nil), defaultScenario...) }

// DefaultScenario returns the embedded default scenario, parsed.
func DefaultScenario() (*Scenario, error) { return ParseScenario(defaultScenario) }

// Scenario is what faultsim runs: a dependency whose behaviour follows a
// timeline of phases, the load sent to it, the fault policy protecting the
// calls, and what the run is expected to show. Scenarios are JSON, decoded
// with the rules of fault's policy JSON: durations are strings such
// as "250ms", unknown fields are errors. The policy is the same JSON as
// fault.ParsePolicy reads.
type Scenario struct {
	// Name identifies the scenario in reports.
	Name string `json:"name"`
	// Description says what the scenario shows; printed above the results.
	Description string `json:"description,omitempty"`
	// Rate is the mean number of client requests per second (Poisson
	// arrivals); a phase may override it.
	Rate float64 `json:"rate"`
	// Deadline bounds each client request, retries included: a request
	// still running then has failed.
	Deadline time.Duration `json:"deadline"`
	// MaxInFlight caps the client requests running at once, per strategy;
	// an arrival beyond it is dropped and counted. 0: DefaultMaxInFlight.
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// NaiveAttempts is how many immediate attempts the naive strategy makes,
	// each limited to the policy's attempt timeout (policy.timeout.timeout)
	// when it has one. 0: DefaultNaiveAttempts.
	NaiveAttempts int `json:"naiveAttempts,omitempty"`
	// RecoveryThreshold and RecoveryWindow define when a strategy has
	// recovered after an outage: from the first moment after which, of the
	// requests started within RecoveryWindow, at least RecoveryThreshold
	// succeed. 0: DefaultRecoveryThreshold, DefaultRecoveryWindow.
	RecoveryThreshold float64       `json:"recoveryThreshold,omitempty"`
	RecoveryWindow    time.Duration `json:"recoveryWindow,omitempty"`
	// Bucket is the time resolution of the report's charts. 0: chosen from
	// the timeline's length (about 60 points).
	Bucket time.Duration `json:"bucket,omitempty"`
	// Server describes the simulated dependency.
	Server Server `json:"server"`
	// Phases are the dependency's timeline, in order.
	Phases []Phase `json:"phases"`
	// Policy is the fault policy of the fault strategy.
	Policy fault.PolicyConfig `json:"policy"`
	// Expectations are checked after the run; see the package documentation
	// for their grammar. faultsim exits non-zero when one fails.
	Expectations []string `json:"expectations,omitempty"`

	expects []expectation // parsed by Validate
	source  []byte        // the JSON it was parsed from
}

// Server describes the simulated dependency's fixed resources.
type Server struct {
	// Capacity is how many requests the server works on at once; a phase
	// may override it (part of the fleet gone).
	Capacity int `json:"capacity"`
	// Queue is how many requests may wait for a worker; beyond it the server
	// answers 503 at once (it sheds load). Waiting requests are served in
	// arrival order, even when their client has given up.
	Queue int `json:"queue,omitempty"`
}

// Phase is one stretch of the dependency's timeline.
type Phase struct {
	// Name identifies the phase in reports and expectations: letters,
	// digits, '-' and '_'.
	Name string `json:"name"`
	// Duration is how long the phase lasts.
	Duration time.Duration `json:"duration"`
	// Rate overrides the scenario's request rate during the phase (a traffic
	// spike). 0: the scenario's Rate.
	Rate float64 `json:"rate,omitempty"`
	// Latency is how long the server works on one request (its service
	// time, before any wait for a worker).
	Latency Latency `json:"latency"`
	// ErrorRate is the share of served requests answered 500, in [0, 1].
	ErrorRate float64 `json:"errorRate,omitempty"`
	// Capacity overrides Server.Capacity during the phase. 0: Server.Capacity.
	Capacity int `json:"capacity,omitempty"`
	// Outage makes every request fail at once with 503 (Latency, ErrorRate
	// and Capacity are ignored).
	Outage bool `json:"outage,omitempty"`
}

// Latency is a log-normal service-time distribution given by its median and
// its 99th percentile.
type Latency struct {
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99,omitempty"` // 0: P50 (no tail)
}

// ParseScenario decodes a scenario from JSON and validates it. Every problem
// is reported, each naming the JSON field and the rule it breaks.
func ParseScenario(data []byte) (*Scenario, error) {
	var s Scenario
	if err := decodeJSON(data, &s); err != nil {
		return nil, scenarioError(err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.source = append([]byte(nil), data...)
	return &s, nil
}

// LoadScenario reads and parses a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// scenarioError words decodeJSON's errors ("phases[1].duration: ...")
// as scenario errors ("scenario: phases[1].duration: ...").
func scenarioError(err error) error {
	errs := unjoin(err)
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, errors.New("scenario: "+e.Error()))
	}
	return errors.Join(out...)
}

// problems collects validation errors, each naming a JSON field.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("scenario: %s: "+format, append([]any{field}, args...)...))
}

func (p *problems) duration(field string, d, lo, hi time.Duration) {
	switch {
	case d < lo:
		if lo == 1 {
			p.add(field, "%s must be > 0", d)
		} else {
			p.add(field, "%s must be at least %s", d, lo)
		}
	case d > hi:
		p.add(field, "%s must be at most %s", d, hi)
	}
}

func validFloat(f, lo, hi float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0) && f >= lo && f <= hi
}

// Validate reports every problem of the scenario, joined; each names the JSON
// field ("phases[2].latency.p99"), the value and the rule. It also parses the
// expectations. A nil scenario is an error.
func (s *Scenario) Validate() error {
	if s == nil {
		return errors.New("scenario: nil scenario")
	}
	var p problems
	if strings.TrimSpace(s.Name) == "" {
		p.add("name", "must not be empty")
	}
	if !validFloat(s.Rate, 0, MaxRate) || s.Rate == 0 {
		p.add("rate", "%v must be a number of requests per second in (0, %d]", s.Rate, MaxRate)
	}
	p.duration("deadline", s.Deadline, 1, MaxDeadline)
	if s.MaxInFlight < 0 || s.MaxInFlight > MaxInFlightLimit {
		p.add("maxInFlight", "%d must be between 1 and %d (0 means %d)", s.MaxInFlight, MaxInFlightLimit, DefaultMaxInFlight)
	}
	if s.NaiveAttempts < 0 || s.NaiveAttempts > MaxNaiveAttempts {
		p.add("naiveAttempts", "%d must be between 1 and %d (0 means %d)", s.NaiveAttempts, MaxNaiveAttempts, DefaultNaiveAttempts)
	}
	if s.RecoveryThreshold != 0 && !validFloat(s.RecoveryThreshold, 0, 1) {
		p.add("recoveryThreshold", "%v must be a fraction in (0, 1] (0 means %v)", s.RecoveryThreshold, DefaultRecoveryThreshold)
	}
	if s.RecoveryWindow != 0 {
		p.duration("recoveryWindow", s.RecoveryWindow, MinBucket, MaxTimeline)
	}
	if s.Bucket != 0 {
		p.duration("bucket", s.Bucket, MinBucket, MaxTimeline)
	}
	if s.Server.Capacity < 1 || s.Server.Capacity > MaxCapacity {
		p.add("server.capacity", "%d must be between 1 and %d: the server needs a worker", s.Server.Capacity, MaxCapacity)
	}
	if s.Server.Queue < 0 || s.Server.Queue > MaxQueue {
		p.add("server.queue", "%d must be between 0 and %d", s.Server.Queue, MaxQueue)
	}
	s.validatePhases(&p)
	if err := s.Policy.Validate(); err != nil {
		for _, e := range unjoin(err) {
			p = append(p, fmt.Errorf("scenario: policy: %w", e))
		}
	}
	s.expects = nil
	for i, text := range s.Expectations {
		e, err := parseExpectation(text, s)
		if err != nil {
			p.add(fmt.Sprintf("expectations[%d]", i), "%q: %v", text, err)
			continue
		}
		s.expects = append(s.expects, e)
	}
	return errors.Join(p...)
}

func (s *Scenario) validatePhases(p *problems) {
	if len(s.Phases) == 0 {
		p.add("phases", "must list at least one phase")
		return
	}
	var total time.Duration
	var requests float64
	seen := make(map[string]int, len(s.Phases))
	for i, ph := range s.Phases {
		f := fmt.Sprintf("phases[%d]", i)
		switch {
		case !validName(ph.Name):
			p.add(f+".name", "%q must be a non-empty name of letters, digits, '-' and '_' (expectations refer to it)", ph.Name)
		case ph.Name == overall:
			p.add(f+".name", "%q is reserved for the whole run", ph.Name)
		default:
			if j, dup := seen[ph.Name]; dup {
				p.add(f+".name", "%q must be unique (also phases[%d])", ph.Name, j)
			}
			seen[ph.Name] = i
		}
		p.duration(f+".duration", ph.Duration, 1, MaxTimeline)
		if ph.Duration > 0 {
			total += ph.Duration
		}
		if ph.Rate != 0 && !validFloat(ph.Rate, 0, MaxRate) {
			p.add(f+".rate", "%v must be a number of requests per second in (0, %d] (0 means the scenario's rate)", ph.Rate, MaxRate)
		}
		if ph.Capacity < 0 || ph.Capacity > MaxCapacity {
			p.add(f+".capacity", "%d must be between 1 and %d (0 means server.capacity)", ph.Capacity, MaxCapacity)
		}
		rate := s.Rate
		if ph.Rate > 0 {
			rate = ph.Rate
		}
		if validFloat(rate, 0, MaxRate) && ph.Duration > 0 {
			requests += rate * ph.Duration.Seconds()
		}
		if ph.Outage {
			continue
		}
		if !validFloat(ph.ErrorRate, 0, 1) {
			p.add(f+".errorRate", "%v must be a fraction in [0, 1]", ph.ErrorRate)
		}
		p.duration(f+".latency.p50", ph.Latency.P50, 1, MaxLatency)
		if ph.Latency.P99 != 0 {
			p.duration(f+".latency.p99", ph.Latency.P99, 1, MaxLatency)
			if ph.Latency.P99 > 0 && ph.Latency.P99 < ph.Latency.P50 {
				p.add(f+".latency.p99", "%s must not be below p50 (%s)", ph.Latency.P99, ph.Latency.P50)
			}
		}
	}
	if total > MaxTimeline {
		p.add("phases", "last %s in all, more than %s", total, MaxTimeline)
	}
	if requests > MaxRequests {
		p.add("phases", "would send about %.0f requests per strategy, more than %d: lower the rates or shorten the phases", requests, MaxRequests)
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// unjoin returns the errors joined in err (err itself when it is not a join).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Timeline returns the sum of the phases' durations.
func (s *Scenario) Timeline() time.Duration {
	var t time.Duration
	for _, ph := range s.Phases {
		t += ph.Duration
	}
	return t
}

func (s *Scenario) maxInFlight() int {
	if s.MaxInFlight == 0 {
		return DefaultMaxInFlight
	}
	return s.MaxInFlight
}

func (s *Scenario) naiveAttempts() int {
	if s.NaiveAttempts == 0 {
		return DefaultNaiveAttempts
	}
	return s.NaiveAttempts
}

// naiveAttemptTimeout is the naive loop's per-attempt limit: the policy's
// attempt timeout, so that the two differ only in what fault adds.
func (s *Scenario) naiveAttemptTimeout() time.Duration {
	if s.Policy.Timeout != nil {
		return s.Policy.Timeout.Timeout
	}
	return 0
}

func (s *Scenario) recoveryThreshold() float64 {
	if s.RecoveryThreshold == 0 {
		return DefaultRecoveryThreshold
	}
	return s.RecoveryThreshold
}

func (s *Scenario) recoveryWindow() time.Duration {
	if s.RecoveryWindow == 0 {
		return DefaultRecoveryWindow
	}
	return s.RecoveryWindow
}

func (s *Scenario) phaseRate(i int) float64 {
	if r := s.Phases[i].Rate; r > 0 {
		return r
	}
	return s.Rate
}

func (s *Scenario) phaseCapacity(i int) int {
	if c := s.Phases[i].Capacity; c > 0 {
		return c
	}
	return s.Server.Capacity
}

// bucket returns the chart resolution: Bucket, or a round step giving about
// 60 points over the timeline.
func (s *Scenario) bucket() time.Duration {
	if s.Bucket > 0 {
		return s.Bucket
	}
	total := s.Timeline()
	for _, b := range []time.Duration{
		50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	} {
		if total/b <= 64 {
			return b
		}
	}
	return 10 * time.Second
}

// numBuckets is the number of chart buckets covering the timeline.
func numBuckets(s *Scenario) int {
	b := s.bucket()
	return max(1, int((s.Timeline()+b-1)/b))
}

// phaseAt returns the index of the phase at offset t from the start (the
// last phase for t past the end).
func (s *Scenario) phaseAt(t time.Duration) int {
	var end time.Duration
	for i, ph := range s.Phases {
		end += ph.Duration
		if t < end {
			return i
		}
	}
	return len(s.Phases) - 1
}

// phaseStart returns the offset at which phase i starts.
func (s *Scenario) phaseStart(i int) time.Duration {
	var t time.Duration
	for _, ph := range s.Phases[:i] {
		t += ph.Duration
	}
	return t
}
