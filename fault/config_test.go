package fault_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/authcorp/libs/go/src/fault"
)

// seedPolicy is the PolicyConfig of the root README's quick start.
func seedPolicy() fault.PolicyConfig {
	return fault.PolicyConfig{
		Name: "payment-service",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{
			FailureThreshold: 5,
			SuccessThreshold: 2,
			Timeout:          30 * time.Second,
			HalfOpenMaxCalls: 3,
		},
		Retry: &fault.RetryPolicyConfig{
			MaxAttempts:     3,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     10 * time.Second,
			Multiplier:      2.0,
		},
		Timeout: &fault.TimeoutPolicyConfig{
			Timeout: 5 * time.Second,
			Max:     30 * time.Second,
		},
		RateLimit: &fault.RateLimitPolicyConfig{
			Algorithm: "token_bucket",
			Rate:      1000,
			Window:    time.Minute,
			BurstSize: 100,
		},
		Bulkhead: &fault.BulkheadPolicyConfig{
			MaxConcurrent: 10,
			QueueSize:     100,
			QueueTimeout:  5 * time.Second,
		},
	}
}

func TestSeedPolicyIsValid(t *testing.T) {
	if err := seedPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (fault.PolicyConfig{Name: "bare"}).Validate(); err != nil {
		t.Fatalf("a policy with no sections is valid (pass-through): %v", err)
	}
}

// invalidFields returns the Field of every InvalidPolicyError in err.
func invalidFields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var ip *fault.InvalidPolicyError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if errors.As(err, &ip) {
			out = append(out, ip.Field)
		}
	}
	walk(err)
	return out
}

func TestValidateRejects(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name   string
		mutate func(p *fault.PolicyConfig)
		fields []string
	}{
		{"empty name", func(p *fault.PolicyConfig) { p.Name = "" }, []string{"Name"}},
		{"spaces around name", func(p *fault.PolicyConfig) { p.Name = " x " }, []string{"Name"}},
		{"control char in name", func(p *fault.PolicyConfig) { p.Name = "a\nb" }, []string{"Name"}},
		{"long name", func(p *fault.PolicyConfig) { p.Name = strings.Repeat("n", fault.MaxPolicyNameLen+1) }, []string{"Name"}},
		{"invalid utf8 name", func(p *fault.PolicyConfig) { p.Name = "\xff" }, []string{"Name"}},
		{"negative failure threshold", func(p *fault.PolicyConfig) { p.CircuitBreaker.FailureThreshold = -1 }, []string{"CircuitBreaker.FailureThreshold"}},
		{"huge failure threshold", func(p *fault.PolicyConfig) { p.CircuitBreaker.FailureThreshold = math.MaxInt }, []string{"CircuitBreaker.FailureThreshold"}},
		{"negative open timeout", func(p *fault.PolicyConfig) { p.CircuitBreaker.Timeout = -time.Second }, []string{"CircuitBreaker.Timeout"}},
		{"success above half-open calls", func(p *fault.PolicyConfig) { p.CircuitBreaker.SuccessThreshold = 4 }, []string{"CircuitBreaker.SuccessThreshold"}},
		{"success above default half-open", func(p *fault.PolicyConfig) {
			p.CircuitBreaker.HalfOpenMaxCalls = 0
			p.CircuitBreaker.SuccessThreshold = 2
		}, nil},
		{"NaN failure rate", func(p *fault.PolicyConfig) { p.CircuitBreaker.FailureRateThreshold = nan }, []string{"CircuitBreaker.FailureRateThreshold"}},
		{"failure rate above 1", func(p *fault.PolicyConfig) { p.CircuitBreaker.FailureRateThreshold = 50 }, []string{"CircuitBreaker.FailureRateThreshold"}},
		{"negative window", func(p *fault.PolicyConfig) { p.CircuitBreaker.Window = -1 }, []string{"CircuitBreaker.Window"}},
		{"negative attempts", func(p *fault.PolicyConfig) { p.Retry.MaxAttempts = -3 }, []string{"Retry.MaxAttempts"}},
		{"NaN multiplier", func(p *fault.PolicyConfig) { p.Retry.Multiplier = nan }, []string{"Retry.Multiplier"}},
		{"infinite multiplier", func(p *fault.PolicyConfig) { p.Retry.Multiplier = inf }, []string{"Retry.Multiplier"}},
		{"shrinking multiplier", func(p *fault.PolicyConfig) { p.Retry.Multiplier = 0.5 }, []string{"Retry.Multiplier"}},
		{"negative multiplier", func(p *fault.PolicyConfig) { p.Retry.Multiplier = -2 }, []string{"Retry.Multiplier"}},
		{"negative interval", func(p *fault.PolicyConfig) { p.Retry.InitialInterval = -1 }, []string{"Retry.InitialInterval"}},
		{"max below initial", func(p *fault.PolicyConfig) { p.Retry.MaxInterval = time.Millisecond }, []string{"Retry.MaxInterval"}},
		{"unknown jitter", func(p *fault.PolicyConfig) { p.Retry.Jitter = "random" }, []string{"Retry.Jitter"}},
		{"negative max elapsed", func(p *fault.PolicyConfig) { p.Retry.MaxElapsed = -1 }, []string{"Retry.MaxElapsed"}},
		{"attempt limit above max", func(p *fault.PolicyConfig) { p.Timeout.Timeout = time.Minute }, []string{"Timeout.Timeout"}},
		{"negative timeout", func(p *fault.PolicyConfig) { p.Timeout.Timeout = -1; p.Timeout.Max = -1 }, []string{"Timeout.Timeout", "Timeout.Max"}},
		{"unknown algorithm", func(p *fault.PolicyConfig) { p.RateLimit.Algorithm = "leaky_bucket" }, []string{"RateLimit.Algorithm"}},
		{"zero rate", func(p *fault.PolicyConfig) { p.RateLimit.Rate = 0 }, []string{"RateLimit.Rate"}},
		{"negative rate", func(p *fault.PolicyConfig) { p.RateLimit.Rate = -1 }, []string{"RateLimit.Rate"}},
		{"zero window", func(p *fault.PolicyConfig) { p.RateLimit.Window = 0 }, []string{"RateLimit.Window"}},
		{"negative burst", func(p *fault.PolicyConfig) { p.RateLimit.BurstSize = -1 }, []string{"RateLimit.BurstSize"}},
		{"sliding window burst above rate", func(p *fault.PolicyConfig) { p.RateLimit.Algorithm = "sliding_window"; p.RateLimit.BurstSize = 1001 }, []string{"RateLimit.BurstSize"}},
		{"negative max wait", func(p *fault.PolicyConfig) { p.RateLimit.MaxWait = -1 }, []string{"RateLimit.MaxWait"}},
		{"zero max concurrent", func(p *fault.PolicyConfig) { p.Bulkhead.MaxConcurrent = 0 }, []string{"Bulkhead.MaxConcurrent"}},
		{"negative queue", func(p *fault.PolicyConfig) { p.Bulkhead.QueueSize = -1 }, []string{"Bulkhead.QueueSize"}},
		{"negative queue timeout", func(p *fault.PolicyConfig) { p.Bulkhead.QueueTimeout = -1 }, []string{"Bulkhead.QueueTimeout"}},
		{"everything at once", func(p *fault.PolicyConfig) {
			p.Name = ""
			p.Retry.Multiplier = nan
			p.Bulkhead.MaxConcurrent = -1
		}, []string{"Name", "Retry.Multiplier", "Bulkhead.MaxConcurrent"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := seedPolicy()
			c.mutate(&p)
			err := p.Validate()
			if diff := cmp.Diff(c.fields, invalidFields(err), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("fields (-want +got):\n%s\nerr: %v", diff, err)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Errorf("not INVALID_POLICY: %v", err)
			}
			var ip *fault.InvalidPolicyError
			errors.As(err, &ip)
			if msg := err.Error(); !strings.Contains(msg, ip.Field) || !strings.Contains(msg, ip.Rule) {
				t.Errorf("message %q does not name field and rule", msg)
			}
			if ip.Service != p.Name {
				t.Errorf("error names policy %q, want %q", ip.Service, p.Name)
			}
		})
	}
}

func TestInvalidPolicyMessage(t *testing.T) {
	p := seedPolicy()
	p.Retry.Multiplier = math.NaN()
	err := p.Validate()
	want := `INVALID_POLICY "payment-service": Retry.Multiplier = NaN: must be a finite number >= 1 (0 means 2)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestWithDefaults(t *testing.T) {
	r := fault.RetryPolicyConfig{}.WithDefaults()
	want := fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2, Jitter: fault.JitterFull}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreFields(fault.RetryPolicyConfig{}, "RetryIf")); diff != "" {
		t.Error(diff)
	}
	// defaults adapt to the other interval so the pair stays valid
	if r := (fault.RetryPolicyConfig{MaxInterval: 50 * time.Millisecond}).WithDefaults(); r.InitialInterval != 50*time.Millisecond {
		t.Errorf("initial = %v, want capped to MaxInterval", r.InitialInterval)
	}
	if r := (fault.RetryPolicyConfig{InitialInterval: time.Minute}).WithDefaults(); r.MaxInterval != time.Minute {
		t.Errorf("max = %v, want raised to InitialInterval", r.MaxInterval)
	}
	cb := fault.CircuitBreakerPolicyConfig{SuccessThreshold: 3}.WithDefaults()
	if cb.FailureThreshold != 5 || cb.HalfOpenMaxCalls != 3 || cb.Timeout != time.Minute || cb.MinimumCalls != 10 || cb.Window != time.Minute {
		t.Errorf("breaker defaults: %+v", cb)
	}
	rl := fault.RateLimitPolicyConfig{Rate: 50, Window: time.Second}.WithDefaults()
	if rl.Algorithm != fault.AlgorithmTokenBucket || rl.BurstSize != 50 {
		t.Errorf("rate-limit defaults: %+v", rl)
	}
	if err := (fault.RetryPolicyConfig{}).Validate(); err != nil {
		t.Errorf("zero retry section must be valid (all defaults): %v", err)
	}
}

func TestExecutorConfig(t *testing.T) {
	c := fault.DefaultExecutorConfig()
	if c.DefaultTimeout != 30*time.Second || !c.MetricsEnabled || !c.TracingEnabled || !c.LoggerEnabled {
		t.Fatalf("%+v", c)
	}
	if c.Validate() != nil {
		t.Fatal("defaults invalid")
	}
	c.DefaultTimeout = -1
	if invalidFields(c.Validate())[0] != "DefaultTimeout" {
		t.Fatal("negative DefaultTimeout accepted")
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := seedPolicy()
	p.Retry.Jitter = fault.JitterEqual
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"initialInterval":"100ms"`) || !strings.Contains(string(data), `"max":"30s"`) {
		t.Fatalf("durations not human: %s", data)
	}
	got, err := fault.ParsePolicy(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got, cmpopts.IgnoreFields(fault.RetryPolicyConfig{}, "RetryIf")); diff != "" {
		t.Fatal(diff)
	}
}

func TestParsePolicyHumanJSON(t *testing.T) {
	got, err := fault.ParsePolicy([]byte(`{
		"name": "inventory",
		"retry": {"maxAttempts": 4, "initialInterval": "50ms", "jitter": "decorrelated"},
		"timeout": {"timeout": "2s"},
		"bulkhead": {"maxConcurrent": 8, "queueTimeout": 0},
		"circuitBreaker": null
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := fault.PolicyConfig{
		Name:     "inventory",
		Retry:    &fault.RetryPolicyConfig{MaxAttempts: 4, InitialInterval: 50 * time.Millisecond, Jitter: "decorrelated"},
		Timeout:  &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second},
		Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 8},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(fault.RetryPolicyConfig{}, "RetryIf")); diff != "" {
		t.Fatal(diff)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{"name":"a","retry":{"maxAtempts":3}}`, `retry.maxAtempts: unknown field (did you mean "maxAttempts"?)`},
		{`{"name":"a","Retry":{}}`, `Retry: unknown field (did you mean "retry"?)`},
		{`{"name":"a","timeout":{"timeout":5}}`, `timeout.timeout: want a duration string such as "100ms" or "5s", got 5`},
		{`{"name":"a","timeout":{"timeout":"5 seconds"}}`, `timeout.timeout: want a duration such as "100ms" or "5s", got "5 seconds"`},
		{`{"name":"a","bulkhead":{"maxConcurrent":"ten"}}`, `bulkhead.maxConcurrent: want int, got JSON string`},
		{`{"name":"a","bulkhead":[]}`, `bulkhead: want a JSON object`},
		{`[]`, `want a JSON object`},
		{`{"name":"a","bulkhead":{"maxConcurrent":0}}`, `Bulkhead.MaxConcurrent = 0: must be >= 1`},
		{`{"name":"a","timeout":{"timeout":"9999999999h"}}`, `timeout.timeout: want a duration`},
	}
	for _, c := range cases {
		_, err := fault.ParsePolicy([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePolicy(%s)\n got  %v\n want …%s…", c.json, err, c.want)
		}
	}
}

func TestParsePolicies(t *testing.T) {
	ps, err := fault.ParsePolicies([]byte(`[{"name":"a"},{"name":"b","retry":{}}]`))
	if err != nil || len(ps) != 2 || ps[1].Retry == nil {
		t.Fatalf("%v %v", ps, err)
	}
	_, err = fault.ParsePolicies([]byte(`[{"name":"a"},{"name":"a"},{"name":""}]`))
	if err == nil || !strings.Contains(err.Error(), "policies[1]") || !strings.Contains(err.Error(), "must be unique") || !strings.Contains(err.Error(), "policies[2]") {
		t.Fatalf("duplicates/empty not reported: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("p", 5, 2, int64(time.Second), 3, 0.5, 3, int64(100e6), int64(10e9), 2.0, "full", int64(5e9), int64(30e9), "token_bucket", 1000, int64(60e9), 100, 10, 100, int64(5e9))
	f.Fuzz(func(t *testing.T, name string, ft, st int, cbt int64, hom int, fr float64, ma int, ii, mi int64, mult float64, jitter string,
		to, tmax int64, alg string, rate int, win int64, burst, mc, qs int, qt int64) {
		p := fault.PolicyConfig{
			Name:           name,
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: ft, SuccessThreshold: st, Timeout: time.Duration(cbt), HalfOpenMaxCalls: hom, FailureRateThreshold: fr},
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: ma, InitialInterval: time.Duration(ii), MaxInterval: time.Duration(mi), Multiplier: mult, Jitter: jitter},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Duration(to), Max: time.Duration(tmax)},
			RateLimit:      &fault.RateLimitPolicyConfig{Algorithm: alg, Rate: rate, Window: time.Duration(win), BurstSize: burst},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: mc, QueueSize: qs, QueueTimeout: time.Duration(qt)},
		}
		err := p.Validate()
		if err == nil {
			// a valid policy's defaults are valid too, and within the documented bounds
			r := p.Retry.WithDefaults()
			if r.MaxAttempts < 1 || r.Multiplier < 1 || r.MaxInterval < r.InitialInterval || r.InitialInterval <= 0 {
				t.Fatalf("valid policy with bad retry defaults: %+v", r)
			}
			cb := p.CircuitBreaker.WithDefaults()
			if cb.SuccessThreshold > cb.HalfOpenMaxCalls || cb.FailureThreshold < 1 || cb.Timeout <= 0 {
				t.Fatalf("valid policy with bad breaker defaults: %+v", cb)
			}
			if rl := p.RateLimit.WithDefaults(); rl.Rate < 1 || rl.Window <= 0 || rl.BurstSize < 1 {
				t.Fatalf("valid policy with bad rate-limit defaults: %+v", rl)
			}
			return
		}
		for _, field := range invalidFields(err) {
			if field == "" {
				t.Fatalf("error without a field: %v", err)
			}
		}
		_ = err.Error()
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"name":"a","retry":{"maxAttempts":3,"initialInterval":"100ms"}}`))
	f.Add([]byte(`{"name":"a","timeout":{"timeout":"5s","max":"1s"}}`))
	f.Add([]byte(`{"name":"a","bulkhead":{"maxConcurrent":1e99}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := fault.ParsePolicy(data)
		if err != nil {
			return
		}
		if p.Validate() != nil {
			t.Fatal("ParsePolicy returned an invalid policy")
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("valid policy does not marshal: %v", err)
		}
	})
}
