package faultsim

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// FleetScenario selects the fleet experiment (faultsim -scenario fleet):
// several instances share one dependency whose quota is fleet-wide.
const FleetScenario = "fleet"

// The fleet experiment's strategies.
const (
	FleetLocalQuota = "local-quota" // each instance limits itself to the whole quota
	FleetLocalSplit = "local-split" // each instance limits itself to quota/instances
	FleetShared     = "fleet"       // one fleet.Limiter in Redis
)

// FleetConfig configures the fleet experiment.
type FleetConfig struct {
	// Redis is the address of a real Redis; "" starts an embedded
	// in-process one.
	Redis string
	// Instances is the number of client instances (default 5).
	Instances int
	// Quota is what the dependency accepts per second, fleet-wide (default
	// 200); Burst the burst allowed on top (default Quota/10).
	Quota, Burst int
	// Demand is the fleet's total offered load per second (default 1.5 ×
	// Quota), spread unevenly over the instances and shifting per phase.
	Demand int
	// Phase is the length of each of the three phases (default 2s).
	Phase time.Duration
	// Seed varies the arrival times.
	Seed uint64
}

func (c FleetConfig) withDefaults() FleetConfig {
	if c.Instances == 0 {
		c.Instances = 5
	}
	if c.Quota == 0 {
		c.Quota = 200
	}
	if c.Burst == 0 {
		c.Burst = max(c.Quota/10, 1)
	}
	if c.Demand == 0 {
		c.Demand = c.Quota * 3 / 2
	}
	if c.Phase == 0 {
		c.Phase = 2 * time.Second
	}
	return c
}

// Validate reports bad values.
func (c FleetConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Instances < 5 || c.Instances > 64 {
		errs = append(errs, fmt.Errorf("fleet: Instances: %d must be between 5 and 64", c.Instances))
	}
	if c.Quota < 10 || c.Quota > 5000 {
		errs = append(errs, fmt.Errorf("fleet: Quota: %d must be between 10 and 5000 per second", c.Quota))
	}
	if c.Demand <= c.Quota || c.Demand > 4*c.Quota {
		errs = append(errs, fmt.Errorf("fleet: Demand: %d must exceed Quota (%d) and be at most 4× it", c.Demand, c.Quota))
	}
	if c.Phase < time.Second || c.Phase > time.Minute {
		errs = append(errs, fmt.Errorf("fleet: Phase: %s must be between 1s and 1m", c.Phase))
	}
	return errors.Join(errs...)
}

// fleetWeights are each phase's shares of the demand, per instance: one
// hot instance, then the heat moves to another, then two share it.
func fleetWeights(phase, n int) []float64 {
	w := make([]float64, n)
	switch phase {
	case 0:
		w[0] = 0.5
		for i := 1; i < n; i++ {
			w[i] = 0.5 / float64(n-1)
		}
	case 1:
		w[n-1] = 0.6
		for i := 0; i < n-1; i++ {
			w[i] = 0.4 / float64(n-1)
		}
	default:
		w[1], w[2] = 0.35, 0.35
		for i := range w {
			if i != 1 && i != 2 {
				w[i] = 0.3 / float64(n-2)
			}
		}
	}
	return w
}

// FleetResult is the outcome of the fleet experiment.
type FleetResult struct {
	Instances  int                  `json:"instances"`
	Quota      int                  `json:"quota_per_s"`
	Burst      int                  `json:"burst"`
	Demand     int                  `json:"demand_per_s"`
	Redis      string               `json:"redis"`
	Strategies []FleetStrategyStats `json:"strategies"`
}

// FleetStrategyStats is one strategy's run: what the dependency received
// in each whole second, and how much of the quota it used.
type FleetStrategyStats struct {
	Name        string  `json:"name"`
	Received    []int   `json:"received_per_s"`
	Sent        int     `json:"sent"`
	Admitted    int     `json:"admitted"`
	MaxSecond   int     `json:"max_per_s"`
	Utilization float64 `json:"utilization"` // received / (quota × seconds)
	StoreErrors uint64  `json:"store_errors,omitempty"`
}

// RunFleet runs the three strategies, one after the other.
func RunFleet(ctx context.Context, cfg FleetConfig) (*FleetResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	addr, where, stop, err := fleetRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	defer stop()
	res := &FleetResult{Instances: cfg.Instances, Quota: cfg.Quota, Burst: cfg.Burst, Demand: cfg.Demand, Redis: where}
	for _, name := range []string{FleetLocalQuota, FleetLocalSplit, FleetShared} {
		st, err := runFleetStrategy(ctx, cfg, addr, name)
		if err != nil {
			return nil, err
		}
		res.Strategies = append(res.Strategies, st)
	}
	return res, nil
}

// fleetRedis returns the address of the Redis to use: the given one, or an
// embedded miniredis.
func fleetRedis(addr string) (string, string, func(), error) {
	if addr != "" {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			return "", "", nil, fmt.Errorf("-redis %s: %w", addr, err)
		}
		return addr, "redis at " + addr, func() {}, nil
	}
	m, err := miniredis.Run()
	if err != nil {
		return "", "", nil, fmt.Errorf("embedded redis: %w", err)
	}
	return m.Addr(), "embedded in-process redis (miniredis)", m.Close, nil
}

func runFleetStrategy(ctx context.Context, cfg FleetConfig, addr, name string) (FleetStrategyStats, error) {
	n := cfg.Instances
	total := 3 * cfg.Phase
	seconds := int(total / time.Second)
	received := make([]atomic.Int64, seconds+1)
	var sent, admitted atomic.Int64
	var start time.Time
	dep := func(context.Context) (struct{}, error) { // the dependency: counts what it receives
		if s := int(time.Since(start) / time.Second); s < len(received) {
			received[s].Add(1)
		}
		return struct{}{}, nil
	}

	policy := "dependency-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var execs []*executor.Executor[struct{}]
	var limiters []*fleet.Limiter
	var clients []*redis.Client
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for range n {
		pc := fault.PolicyConfig{Name: policy}
		var opts []executor.Option
		switch name {
		case FleetLocalQuota:
			pc.RateLimit = &fault.RateLimitPolicyConfig{Rate: cfg.Quota, Window: time.Second, BurstSize: cfg.Burst}
		case FleetLocalSplit:
			pc.RateLimit = &fault.RateLimitPolicyConfig{Rate: max(cfg.Quota/n, 1), Window: time.Second, BurstSize: max(cfg.Burst/n, 1)}
		default:
			c := redis.NewClient(&redis.Options{Addr: addr})
			clients = append(clients, c)
			l, err := fleet.NewLimiter(fleet.LimiterConfig{Name: policy, Client: c, Rate: cfg.Quota, Window: time.Second,
				BurstSize: cfg.Burst, Instances: n, StoreTimeout: 200 * time.Millisecond})
			if err != nil {
				return FleetStrategyStats{}, err
			}
			limiters = append(limiters, l)
			opts = append(opts, executor.WithRateLimiter(policy, l))
		}
		ex, err := executor.New[struct{}](fault.ExecutorConfig{}, opts...)
		if err != nil {
			return FleetStrategyStats{}, err
		}
		if err := ex.RegisterPolicy(pc); err != nil {
			return FleetStrategyStats{}, err
		}
		execs = append(execs, ex)
	}

	start = time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rnd := cfg.Seed*7919 + uint64(i)*104729 + 1
			next := time.Duration(0)
			for next < total {
				phase := int(next / cfg.Phase)
				rate := float64(cfg.Demand) * fleetWeights(phase, n)[i]
				gap := time.Duration(float64(time.Second) / rate)
				rnd = rnd*6364136223846793005 + 1442695040888963407
				jit := time.Duration(int64(rnd>>33)%int64(gap/2+1)) - gap/4 // ±25%
				next += gap + jit
				if d := time.Until(start.Add(next)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				sent.Add(1)
				wg.Go(func() {
					if _, err := execs[i].Do(ctx, policy, dep); err == nil {
						admitted.Add(1)
					}
				})
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return FleetStrategyStats{}, err
	}
	st := FleetStrategyStats{Name: name, Sent: int(sent.Load()), Admitted: int(admitted.Load())}
	sum := 0
	for s := range seconds {
		v := int(received[s].Load())
		st.Received = append(st.Received, v)
		st.MaxSecond = max(st.MaxSecond, v)
		sum += v
	}
	st.Utilization = float64(sum) / float64(cfg.Quota*seconds)
	for _, l := range limiters {
		st.StoreErrors += l.Stats().StoreErrors
	}
	return st, nil
}

// Stats returns the named strategy's stats.
func (r *FleetResult) Stats(name string) (FleetStrategyStats, bool) {
	for _, s := range r.Strategies {
		if s.Name == name {
			return s, true
		}
	}
	return FleetStrategyStats{}, false
}

// Check verifies what the experiment is meant to show: the fleet limiter
// keeps every second within quota + burst and uses at least 95% of the
// quota; the per-instance quota goes over it; the per-instance split
// under-uses it.
func (r *FleetResult) Check() error {
	var errs []error
	limit := r.Quota + r.Burst
	if s, ok := r.Stats(FleetShared); ok {
		if s.MaxSecond > limit {
			errs = append(errs, fmt.Errorf("fleet: the dependency received %d in one second, over quota+burst %d", s.MaxSecond, limit))
		}
		if s.Utilization < 0.95 {
			errs = append(errs, fmt.Errorf("fleet: used %.1f%% of the quota, want >= 95%%", 100*s.Utilization))
		}
	}
	if s, ok := r.Stats(FleetLocalQuota); ok && s.MaxSecond <= limit {
		errs = append(errs, fmt.Errorf("local-quota: expected to exceed quota+burst %d in some second, max was %d", limit, s.MaxSecond))
	}
	if s, ok := r.Stats(FleetLocalSplit); ok && s.Utilization >= 0.95 {
		errs = append(errs, fmt.Errorf("local-split: expected to under-use the quota, used %.1f%%", 100*s.Utilization))
	}
	return errors.Join(errs...)
}

// WriteFleetTable prints the experiment's table.
func WriteFleetTable(w io.Writer, r *FleetResult) {
	fmt.Fprintf(w, "fleet: %d instances share a dependency accepting %d/s (+%d burst); demand %d/s, uneven and shifting; %s\n\n",
		r.Instances, r.Quota, r.Burst, r.Demand, r.Redis)
	fmt.Fprintf(w, "%-12s %8s %9s %9s %12s  %s\n", "strategy", "sent", "admitted", "max/s", "quota used", "received per second")
	for _, s := range r.Strategies {
		per := make([]string, len(s.Received))
		for i, v := range s.Received {
			per[i] = strconv.Itoa(v)
		}
		fmt.Fprintf(w, "%-12s %8d %9d %9d %11.1f%%  %s\n", s.Name, s.Sent, s.Admitted, s.MaxSecond, 100*s.Utilization, strings.Join(per, " "))
	}
}

// WriteFleetJSON writes the result as indented JSON.
func WriteFleetJSON(w io.Writer, r *FleetResult) error {
	return writeJSON(w, r)
}

var fleetColors = map[string]string{FleetLocalQuota: "#e8590c", FleetLocalSplit: "#7f8793", FleetShared: "#1c7ed6"}

// WriteFleetHTML writes a self-contained page: the dependency's received
// rate per second against the quota, per strategy.
func WriteFleetHTML(w io.Writer, r *FleetResult) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>faultsim: fleet</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}td,th{padding:.2em .8em;text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Fleet-wide quota</h1><p>%d instances share a dependency that accepts %d requests/s (+%d burst). Demand: %d/s, uneven across instances and shifting each phase. Store: %s.</p>",
		r.Instances, r.Quota, r.Burst, r.Demand, html.EscapeString(r.Redis))
	const width, height, pad = 720.0, 280.0, 40.0
	maxY := float64(r.Quota + r.Burst)
	secs := 0
	for _, s := range r.Strategies {
		maxY = max(maxY, float64(s.MaxSecond))
		secs = max(secs, len(s.Received))
	}
	maxY *= 1.15
	x := func(i int) float64 { return pad + (width-2*pad)*(float64(i)+0.5)/float64(max(secs, 1)) }
	y := func(v float64) float64 { return height - pad - (height-2*pad)*v/maxY }
	fmt.Fprintf(&b, `<svg width="%.0f" height="%.0f" role="img" aria-label="received per second"><rect width="100%%" height="100%%" fill="#fff"/>`, width, height)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#2b8a3e" stroke-dasharray="6 4"/><text x="%.0f" y="%.1f" fill="#2b8a3e">quota %d/s</text>`,
		pad, width-pad, y(float64(r.Quota)), y(float64(r.Quota)), width-pad-80, y(float64(r.Quota))-4, r.Quota)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#2b8a3e" stroke-dasharray="2 4"/>`, pad, width-pad, y(float64(r.Quota+r.Burst)), y(float64(r.Quota+r.Burst)))
	for _, s := range r.Strategies {
		pts := make([]string, len(s.Received))
		for i, v := range s.Received {
			pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(float64(v)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2.5" stroke="%s" points="%s"/>`, fleetColors[s.Name], strings.Join(pts, " "))
	}
	for i := range secs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" font-size="11">%ds</text>`, x(i), height-pad+16, i+1)
	}
	b.WriteString(`</svg><table><tr><th>strategy</th><th>sent</th><th>admitted</th><th>max/s</th><th>quota used</th></tr>`)
	for _, s := range r.Strategies {
		fmt.Fprintf(&b, `<tr><td><span style="color:%s">■</span> %s</td><td>%d</td><td>%d</td><td>%d</td><td>%.1f%%</td></tr>`,
			fleetColors[s.Name], html.EscapeString(s.Name), s.Sent, s.Admitted, s.MaxSecond, 100*s.Utilization)
	}
	b.WriteString(`</table><p><b>local-quota</b>: each instance limits itself to the whole quota: the fleet sends several times the quota.
<b>local-split</b>: each instance gets quota/instances: the busy instance is throttled while the idle ones waste their share.
<b>fleet</b>: one fault/fleet limiter in Redis: the fleet gets the quota, wherever the demand is.</p>`)
	if err := r.Check(); err != nil {
		fmt.Fprintf(&b, "<p style=\"color:#c92a2a\">expectations failed: %s</p>", html.EscapeString(err.Error()))
	} else {
		b.WriteString(`<p style="color:#2b8a3e">expectations hold: the fleet limiter stays within quota + burst every second and uses at least 95% of the quota; the local strategies break one or the other.</p>`)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
