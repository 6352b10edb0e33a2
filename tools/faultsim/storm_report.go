package faultsim

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteStormTable writes the retry-storm experiment's results: a row per
// strategy and phase, then the expectations.
func WriteStormTable(w io.Writer, r *StormResult) {
	c := r.Config
	fmt.Fprintf(w, "retry-storm: %d clients send %.0f requests/s to a dependency that accepts %.0f attempts/s, %.0f/s during the overload (%v healthy, %v overloaded, %v after); deadline %v; seed %d\n",
		c.Clients, c.Rate, c.Capacity, c.Capacity/c.Drop, c.Healthy, c.Overload, c.After, c.Deadline, c.Seed)
	fmt.Fprintln(w, "The timeline is compressed: the policies' windows (throttle, budget, breaker) are scaled to match.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tphase\trequests\tok\tattempts\tampl\taccepted/s\t")
	for _, s := range r.Strategies {
		for _, p := range s.Phases {
			d := phaseDuration(c, p.Name).Seconds()
			ok, amp := 0.0, 0.0
			if p.Requests > 0 {
				ok = float64(p.Successes) / float64(p.Requests)
				amp = float64(p.Received) / float64(p.Requests)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%.2f\t%.0f\t\n", s.Name, p.Name, p.Requests, percent(ok), p.Received, amp, float64(p.Accepted)/d)
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\toverload ampl\toverload goodput (of capacity)\trecovery\tbudget refusals\tthrottled\tbreaker opens\t")
	for _, s := range r.Strategies {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%d\t%d\t%d\t\n", s.Name, s.OverloadAmplification, percent(s.OverloadGoodput), recoveryText(s.Recovery), s.BudgetRefusals, s.ThrottledAttempts, s.CircuitOpens)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, ch := range r.Checks {
		status := "PASS"
		if !ch.Pass {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s  (got %s)\n", status, ch.Expectation, ch.Got)
	}
}

func recoveryText(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmtDuration(d)
}

func phaseDuration(c StormConfig, phase string) time.Duration {
	switch phase {
	case "healthy":
		return max(c.Healthy, time.Millisecond)
	case "overload":
		return c.Overload
	}
	return c.After
}

// WriteStormJSON writes the result as indented JSON.
func WriteStormJSON(w io.Writer, r *StormResult) error {
	return writeJSON(w, r)
}

var stormColors = map[string]string{
	StormNone:           "#868e96",
	StormNaive:          "#f76707",
	StormRetry:          "#7048e8",
	StormBudgetThrottle: "#1c7ed6",
}

// WriteStormHTML writes the result as one self-contained HTML page (inline
// CSS and SVG, no scripts): the expectations, then the load amplification,
// the dependency's goodput and the throttle's rejection probability over the
// timeline, one line per strategy, and the table.
func WriteStormHTML(w io.Writer, r *StormResult) error {
	c := r.Config
	timeline := (c.Healthy + c.Overload + c.After).Seconds()
	phases := []PhaseInfo{
		{Name: "healthy", Start: 0, End: Millis(c.Healthy)},
		{Name: "overload", Start: Millis(c.Healthy), End: Millis(c.Healthy + c.Overload), Outage: true},
		{Name: "after", Start: Millis(c.Healthy + c.Overload), End: Millis(c.Healthy + c.Overload + c.After)},
	}
	series := func(name string, pick func(StormStrategy) []float64) []line {
		var ls []line
		for _, s := range r.Strategies {
			v := pick(s)
			if len(v) == 0 {
				continue
			}
			pts := make([]xy, len(v))
			for i, y := range v {
				pts[i] = xy{(float64(i) + 0.5) * stormBucket.Seconds(), y}
			}
			ls = append(ls, line{name: s.Name, color: stormColors[s.Name], points: pts})
		}
		return ls
	}
	maxOf := func(ls []line, floor float64) float64 {
		m := floor
		for _, l := range ls {
			for _, p := range l.points {
				m = max(m, p.y)
			}
		}
		return m * 1.1
	}
	amp := series("amplification", func(s StormStrategy) []float64 { return s.Amplification })
	amp = append(amp, line{name: "1 attempt per request", color: "#212529", dashed: true, points: []xy{{0, 1}, {timeline, 1}}})
	good := series("goodput", func(s StormStrategy) []float64 { return s.Goodput })
	good = append(good, line{name: "capacity", color: "#c92a2a", dashed: true, step: true, points: []xy{
		{0, c.Capacity}, {c.Healthy.Seconds(), c.Capacity / c.Drop}, {(c.Healthy + c.Overload).Seconds(), c.Capacity}, {timeline, c.Capacity},
	}})
	prob := series("probability", func(s StormStrategy) []float64 { return s.Probability })
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	charts := []template.HTML{
		chart{title: "Load amplification", note: "attempts the dependency received per request sent, per 100ms", timeline: timeline, yMax: maxOf(amp, 1), yFmt: f2, lines: amp, phases: phases}.svg(),
		chart{title: "Goodput", note: "attempts the dependency accepted, per second", timeline: timeline, yMax: maxOf(good, c.Capacity), yFmt: func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }, lines: good, phases: phases}.svg(),
	}
	if len(prob) > 0 {
		charts = append(charts, chart{title: "Throttle rejection probability", note: "mean over the clients' throttles (" + StormBudgetThrottle + ")", timeline: timeline, yMax: 1, yFmt: func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }, lines: prob, phases: phases}.svg())
	}
	var table strings.Builder
	WriteStormTable(&table, r)
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>faultsim: retry-storm</title><style>
body{font:15px/1.45 system-ui,sans-serif;color:#212529;margin:0}main{max-width:1080px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}.meta{color:#6c757d;font-size:13px}
.exp{display:flex;gap:12px;padding:7px 12px;border-radius:6px;margin:6px 0}.exp.pass{background:#ebfbee}.exp.fail{background:#fff5f5}
.exp .got{margin-left:auto}figure{margin:18px 0 6px}figcaption span{color:#6c757d;font-size:13px}
svg text{font-family:system-ui,sans-serif}svg .tick{font-size:11px;fill:#495057}svg .phase{font-size:12px;fill:#343a40;font-weight:600}
svg .legend{font-size:12px;fill:#343a40}svg .pt{opacity:0}svg .pt:hover{opacity:1}
pre{background:#f8f9fa;border:1px solid #e9ecef;border-radius:6px;padding:12px;overflow:auto;font-size:12.5px}
</style></head><body><main><h1>faultsim: retry-storm</h1>`)
	fmt.Fprintf(&b, `<p class="meta">%d clients (each a fault executor with its own breaker, budget and throttle) · %.0f requests/s · the dependency accepts %.0f attempts/s, %.0f/s during the overload · seed %d · wall time %s</p>`,
		c.Clients, c.Rate, c.Capacity, c.Capacity/c.Drop, c.Seed, fmtDuration(r.WallTime.Round(100*time.Millisecond)))
	for _, ch := range r.Checks {
		cls, badge := "pass", "PASS"
		if !ch.Pass {
			cls, badge = "fail", "FAIL"
		}
		fmt.Fprintf(&b, `<div class="exp %s"><b>%s</b><code>%s</code><span class="got">%s</span></div>`, cls, badge, html.EscapeString(ch.Expectation), html.EscapeString(ch.Got))
	}
	for _, ch := range charts {
		b.WriteString(string(ch))
	}
	fmt.Fprintf(&b, `<h2>Table</h2><pre>%s</pre></main></body></html>`, html.EscapeString(table.String()))
	_, err := io.WriteString(w, b.String())
	return err
}
