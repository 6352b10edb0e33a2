package fault

import (
	"strconv"
	"time"
)

// Defaults of the overload-control and hedging sections.
const (
	DefaultBudgetRatio            = 0.1              // Budget.Ratio
	DefaultBudgetMinPerSecond     = 10.0             // Budget.MinPerSecond
	DefaultBudgetWindow           = 10 * time.Second // Budget.Window
	DefaultThrottleK              = 2.0              // Throttle.K
	DefaultThrottleWindow         = 2 * time.Minute  // Throttle.Window
	DefaultThrottleMaxProbability = 0.9              // Throttle.MaxRejectionProbability
	DefaultThrottleMinRequests    = 20               // Throttle.MinRequests
	DefaultMaxHedges              = 1                // Hedge.MaxHedges
	DefaultHedgePercentileSamples = 100              // Hedge.MinSamples
	MaxHedgesLimit                = 10               // the largest Hedge.MaxHedges accepted
	DefaultHedgeWindow            = 1000             // Hedge.Window
	MaxHedgeWindow                = 100000           // the largest Hedge.Window accepted
	maxBudgetRatio                = 1000.0
	maxBudgetMinPerSecond         = 1e9
	maxThrottleK                  = 1000.0
	minOverloadWindow             = 100 * time.Millisecond
	maxOverloadWindow             = 24 * time.Hour
)

// BudgetPolicyConfig configures a retry budget shared by every call of the
// policy: over the trailing Window, retries and hedges together may number at
// most Ratio × first attempts + MinPerSecond × Window (in seconds). A retry the
// budget refuses ends the call at once.
type BudgetPolicyConfig struct {
	Ratio        float64       `json:"ratio,omitempty"`        // extra attempts per first attempt; 0: 0.1
	MinPerSecond float64       `json:"minPerSecond,omitempty"` // floor for low traffic, per second; 0: 10
	Window       time.Duration `json:"window,omitempty"`       // trailing window; 0: 10s
}

// ThrottlePolicyConfig configures client-side adaptive throttling: each
// attempt is rejected locally with probability
// max(0, (requests − K·accepts) / (requests + 1)) over the trailing Window,
// capped at MaxRejectionProbability, once the window holds MinRequests
// requests.
type ThrottlePolicyConfig struct {
	K                       float64       `json:"k,omitempty"`                       // accepts multiplier, >= 1; 0: 2
	Window                  time.Duration `json:"window,omitempty"`                  // trailing window; 0: 2m
	MaxRejectionProbability float64       `json:"maxRejectionProbability,omitempty"` // cap, in (0, 1]; 0: 0.9
	MinRequests             int           `json:"minRequests,omitempty"`             // requests in the window before it may reject; 0: 20
}

// HedgePolicyConfig configures hedged attempts: when an attempt has not
// answered after the hedge delay, another starts, up to MaxHedges extra
// attempts; the first success wins. The delay is Delay, or, with Percentile
// set, that percentile of the latencies of the last Window attempts once
// MinSamples have been seen (Delay until then).
type HedgePolicyConfig struct {
	Delay      time.Duration `json:"delay,omitempty"`      // fixed delay, or the delay until enough samples; > 0 unless Percentile is set
	Percentile float64       `json:"percentile,omitempty"` // in (0, 1), e.g. 0.95; 0: fixed Delay
	MinSamples int           `json:"minSamples,omitempty"` // samples before Percentile is used; 0: 100
	MaxHedges  int           `json:"maxHedges,omitempty"`  // extra attempts per call, 1..10; 0: 1
	Window     int           `json:"window,omitempty"`     // latency samples kept for Percentile, >= MinSamples, <= 100000; 0: 1000
}

func (v *validator) window(field string, d time.Duration) {
	if d != 0 && (d < minOverloadWindow || d > maxOverloadWindow) {
		v.add(field, d, "must be between "+minOverloadWindow.String()+" and "+maxOverloadWindow.String()+" (0 means the default)")
	}
}

// Validate reports every problem of the section (fields named "Budget.X"),
// joined with errors.Join.
func (c BudgetPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Budget.")
	return v.err()
}

func (c BudgetPolicyConfig) validate(v *validator, prefix string) {
	v.between(prefix+"Ratio", c.Ratio, 0, maxBudgetRatio, "must be a finite number between 0 and 1000 (0 means 0.1)")
	v.between(prefix+"MinPerSecond", c.MinPerSecond, 0, maxBudgetMinPerSecond, "must be a finite number between 0 and 1e9 (0 means 10)")
	v.window(prefix+"Window", c.Window)
}

// WithDefaults returns c with every zero field set to its default.
func (c BudgetPolicyConfig) WithDefaults() BudgetPolicyConfig {
	if c.Ratio == 0 {
		c.Ratio = DefaultBudgetRatio
	}
	if c.MinPerSecond == 0 {
		c.MinPerSecond = DefaultBudgetMinPerSecond
	}
	if c.Window == 0 {
		c.Window = DefaultBudgetWindow
	}
	return c
}

// Validate reports every problem of the section (fields named
// "Throttle.X"), joined with errors.Join.
func (c ThrottlePolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Throttle.")
	return v.err()
}

func (c ThrottlePolicyConfig) validate(v *validator, prefix string) {
	if !finite(c.K) || (c.K != 0 && c.K < 1) || c.K > maxThrottleK {
		v.add(prefix+"K", c.K, "must be a finite number between 1 and 1000 (0 means 2)")
	}
	v.window(prefix+"Window", c.Window)
	v.between(prefix+"MaxRejectionProbability", c.MaxRejectionProbability, 0, 1, "must be between 0 and 1 (0 means 0.9)")
	v.count(prefix+"MinRequests", c.MinRequests)
}

// WithDefaults returns c with every zero field set to its default.
func (c ThrottlePolicyConfig) WithDefaults() ThrottlePolicyConfig {
	if c.K == 0 {
		c.K = DefaultThrottleK
	}
	if c.Window == 0 {
		c.Window = DefaultThrottleWindow
	}
	if c.MaxRejectionProbability == 0 {
		c.MaxRejectionProbability = DefaultThrottleMaxProbability
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultThrottleMinRequests
	}
	return c
}

func (c HedgePolicyConfig) validate(v *validator, prefix string) {
	v.nonNegative(prefix+"Delay", c.Delay)
	if !finite(c.Percentile) || c.Percentile < 0 || c.Percentile >= 1 {
		v.add(prefix+"Percentile", c.Percentile, "must be in [0, 1) (0 means a fixed Delay)")
	}
	if c.Delay == 0 && c.Percentile == 0 {
		v.add(prefix+"Delay", c.Delay, "must be > 0 unless Percentile is set: a hedge with no delay doubles every call")
	}
	v.count(prefix+"MinSamples", c.MinSamples)
	if c.MaxHedges < 0 || c.MaxHedges > MaxHedgesLimit {
		v.add(prefix+"MaxHedges", c.MaxHedges, "must be between 0 and "+strconv.Itoa(MaxHedgesLimit)+" (0 means 1)")
	}
	if c.Window < 0 || c.Window > MaxHedgeWindow {
		v.add(prefix+"Window", c.Window, "must be between 0 and "+strconv.Itoa(MaxHedgeWindow)+" (0 means 1000)")
	} else if d := c.WithDefaults(); c.MinSamples >= 0 && d.MinSamples > d.Window {
		v.add(prefix+"MinSamples", c.MinSamples, "must not exceed Window ("+strconv.Itoa(d.Window)+"): the window could never hold that many samples")
	}
}

// Validate reports every problem of the section (fields named "Hedge.X"),
// joined with errors.Join.
func (c HedgePolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Hedge.")
	return v.err()
}

// WithDefaults returns c with every zero field set to its default.
func (c HedgePolicyConfig) WithDefaults() HedgePolicyConfig {
	if c.MinSamples == 0 {
		c.MinSamples = DefaultHedgePercentileSamples
	}
	if c.MaxHedges == 0 {
		c.MaxHedges = DefaultMaxHedges
	}
	if c.Window == 0 {
		c.Window = DefaultHedgeWindow
	}
	return c
}
