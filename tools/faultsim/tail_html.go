package faultsim

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// tailColors are the strategies' line colors in the tail-latency report.
var tailColors = map[string]string{
	TailNone:        "#868e96",
	TailNaive:       "#f08c00",
	TailHedge:       "#1c7ed6",
	TailHedgeBudget: "#2f9e44",
}

// WriteTailHTML writes the tail-latency experiment as one self-contained
// HTML page (inline CSS and SVG, no scripts): the checks, the latency
// percentiles (p50, p95, p99) over time per strategy, the amplification
// over time, and the per-phase table.
func WriteTailHTML(w io.Writer, r *TailResult) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>faultsim: tail latency</title><style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#212529}
figure{margin:1.5em 0}figcaption span{color:#868e96}.tick,.legend,.phase{font-size:11px;fill:#495057}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #e9ecef}
.pass{color:#2b8a3e}.fail{color:#c92a2a;font-weight:bold}</style></head><body>`)
	fmt.Fprintf(&b, `<h1>Tail latency: hedging against a long-tailed dependency</h1><p>A dependency answering in about 8&nbsp;ms (p99 16&nbsp;ms), except a share of slow answers 20–50× longer: 2%% in <i>steady</i> and <i>calm</i>, 30%% in <i>heavy-tail</i>. %.0f requests/s (Poisson, the same arrivals for every strategy), in real time; seed %d, wall time %s.</p>`,
		r.Rate, r.Seed, fmtDuration(time.Duration(r.WallTime)))
	if time.Duration(r.Lateness) > TailLatenessWarning {
		fmt.Fprintf(&b, `<p class="fail">The load generator's timers fired up to %s late (p99): the machine was busy and every latency includes that delay.</p>`, fmtDuration(time.Duration(r.Lateness)))
	}
	b.WriteString(`<ul>`)
	for _, c := range r.Checks {
		cls, v := "pass", "PASS"
		if !c.Passed {
			cls, v = "fail", "FAIL"
		}
		fmt.Fprintf(&b, `<li class="%s">%s %s: %s</li>`, cls, v, html.EscapeString(c.Check), html.EscapeString(c.Measured))
	}
	b.WriteString(`</ul>`)
	timeline := time.Duration(r.Timeline).Seconds()
	ms := func(v float64) string { return fmtDuration(time.Duration(v * float64(time.Millisecond))) }
	for _, q := range []struct {
		name string
		get  func(TailPoint) Millis
	}{{"p99", func(p TailPoint) Millis { return p.P99 }}, {"p95", func(p TailPoint) Millis { return p.P95 }}, {"p50", func(p TailPoint) Millis { return p.P50 }}} {
		c := chart{title: "Latency " + q.name, note: "of the requests started in each bucket, log scale (ms)", timeline: timeline, phases: r.Phases, log: true, yFmt: ms}
		top := 1.0
		for _, s := range r.Strategies {
			l := line{name: s.Name, color: tailColors[s.Name]}
			for _, p := range s.Series {
				v := float64(time.Duration(q.get(p))) / float64(time.Millisecond)
				top = math.Max(top, v)
				l.points = append(l.points, xy{time.Duration(p.T).Seconds(), v})
			}
			c.lines = append(c.lines, l)
		}
		c.yMax = math.Pow(10, math.Ceil(math.Log10(top)))
		b.WriteString(string(c.svg()))
	}
	c := chart{title: "Load amplification", note: "attempts per request, by the request's start", timeline: timeline, phases: r.Phases,
		yFmt: func(v float64) string { return fmt.Sprintf("%.2f", v) }}
	top := 1.1
	for _, s := range r.Strategies {
		l := line{name: s.Name, color: tailColors[s.Name]}
		for _, p := range s.Series {
			top = math.Max(top, p.Amplification)
			l.points = append(l.points, xy{time.Duration(p.T).Seconds(), p.Amplification})
		}
		c.lines = append(c.lines, l)
	}
	c.yMax = math.Ceil(top*10) / 10
	b.WriteString(string(c.svg()))
	b.WriteString(`<h2>Per phase</h2><table><tr><th>phase</th><th>strategy</th><th>requests</th><th>ok</th><th>p50</th><th>p95</th><th>p99</th><th>amplification</th></tr>`)
	for i, ph := range r.Phases {
		for _, s := range r.Strategies {
			st := s.Phases[i]
			fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.3f</td></tr>`,
				html.EscapeString(ph.Name), html.EscapeString(s.Name), st.Requests, percent(float64(st.Successes)/math.Max(float64(st.Requests), 1)),
				fmtDuration(time.Duration(st.P50)), fmtDuration(time.Duration(st.P95)), fmtDuration(time.Duration(st.P99)), st.Amplification)
		}
	}
	fmt.Fprintf(&b, `</table><p>Budget of hedging+budget: %d first attempts deposited, %d hedges granted, %d refused; worst margin under its bound %.1f; the dependency saw %d extra attempts.</p></body></html>`,
		r.Budget.Deposits, r.Budget.Granted, r.Budget.Refused, r.Budget.WorstMargin, r.Budget.ExtraSeen)
	_, err := io.WriteString(w, b.String())
	return err
}
