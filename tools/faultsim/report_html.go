package faultsim

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// WriteJSON writes the report as indented JSON (durations in milliseconds,
// keys ending in _ms).
func WriteJSON(w io.Writer, r *Report) error {
	return writeJSON(w, r)
}

// writeJSON writes v as indented JSON: every report's JSON form.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// strategyColors are the strategies' colours in every chart.
var strategyColors = map[string]string{
	StrategyNone:  "#7f8793",
	StrategyNaive: "#e8590c",
	StrategyFault: "#1c7ed6",
}

var stateColors = map[string]string{
	fault.StateClosed:   "#d3f9d8",
	fault.StateHalfOpen: "#ffe066",
	fault.StateOpen:     "#fa5252",
}

// strategyBlurbs say what each strategy does, for the report.
var strategyBlurbs = map[string]string{
	StrategyNone:  "each request sent once; only the client's deadline bounds it",
	StrategyNaive: "failed requests retried at once, the hand-rolled loop fault replaces",
	StrategyFault: "requests sent through the scenario's policy (fault/executor behind fault/faulthttp)",
}

// WriteHTML writes the report as one self-contained HTML page: the
// expectations' verdicts, a summary per strategy, SVG charts over the
// timeline (goodput, the breaker's state, p99 latency, load amplification,
// requests in the server) with the phases marked, and the tables.
func WriteHTML(w io.Writer, r *Report) error {
	page := htmlPage{R: r}
	for _, s := range r.Strategies {
		page.Cards = append(page.Cards, card{
			Name: s.Name, Color: strategyColors[s.Name], Blurb: strategyBlurbs[s.Name], S: s.Overall,
			Rate: percent(s.Overall.SuccessRate), P99: fmtDuration(time.Duration(s.Overall.P99)),
			Goodput: strconv.FormatFloat(s.Overall.Goodput, 'f', 0, 64), Ampl: strconv.FormatFloat(s.Overall.Amplification, 'f', 2, 64),
		})
	}
	page.Charts = charts(r)
	page.Table = template.HTML(htmlTable(r)) //nolint:gosec // built from numbers and escaped names
	if len(r.Source) > 0 {
		page.Source = string(r.Source)
	}
	page.Policy = policyLine(r.Policy)
	page.Timeline = fmtDuration(time.Duration(r.Timeline))
	page.Wall = fmtDuration(time.Duration(r.WallTime))
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	R        *Report
	Cards    []card
	Charts   []template.HTML
	Table    template.HTML
	Source   string
	Policy   string
	Timeline string
	Wall     string
}

type card struct {
	Name, Color, Blurb       string
	S                        Stats
	Rate, P99, Goodput, Ampl string
}

func policyLine(p fault.PolicyConfig) string {
	b, err := json.Marshal(p)
	if err != nil {
		return p.Name
	}
	return string(b)
}

// Chart geometry, in SVG user units.
const (
	chartW      = 1000
	chartH      = 230
	chartLeft   = 70
	chartRight  = 20
	chartTop    = 30
	chartBottom = 34
)

type xy struct{ x, y float64 }

type line struct {
	name, color string
	dashed      bool
	points      []xy
	step        bool // a step function (offered rate, capacity)
}

type chart struct {
	title, note string
	timeline    float64 // seconds
	yMax        float64
	yFmt        func(float64) string
	lines       []line
	phases      []PhaseInfo
	log         bool // logarithmic y axis from 1 to yMax (a power of 10)
}

func (c chart) sx(t float64) float64 {
	return chartLeft + t/c.timeline*(chartW-chartLeft-chartRight)
}

func (c chart) sy(v float64) float64 {
	f := math.Min(v, c.yMax) / c.yMax
	if c.log {
		f = math.Log10(math.Max(v, 1)) / math.Log10(c.yMax)
	}
	return chartTop + (1-f)*(chartH-chartTop-chartBottom)
}

// yTicks returns the values of the y grid lines.
func (c chart) yTicks() []float64 {
	var ts []float64
	if c.log {
		for v := 1.0; v <= c.yMax*1.0001; v *= 10 {
			ts = append(ts, v)
		}
		return ts
	}
	step := niceStep(c.yMax, 4)
	for v := 0.0; v <= c.yMax*1.0001; v += step {
		ts = append(ts, v)
	}
	return ts
}

// niceStep returns a round step (1, 2, 2.5 or 5 × 10^k) near span/n.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// phaseBands draws the phases as shaded bands with their names on top.
func phaseBands(b *strings.Builder, c chart, top, bottom float64) {
	for i, ph := range c.phases {
		x0 := c.sx(time.Duration(ph.Start).Seconds())
		x1 := c.sx(time.Duration(ph.End).Seconds())
		fill := "#f8f9fa"
		if i%2 == 1 {
			fill = "#ffffff"
		}
		if ph.Outage {
			fill = "#fff0f0"
		}
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x0, top, x1-x0, bottom-top, fill)
		if i > 0 {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#adb5bd" stroke-dasharray="4 3"/>`, x0, top-14, x0, bottom)
		}
		if x1-x0 > 30 {
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="phase">%s</text>`, (x0+x1)/2, top-6, html.EscapeString(ph.Name))
		}
	}
}

func (c chart) svg() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><figcaption><b>%s</b> <span>%s</span></figcaption>`, html.EscapeString(c.title), html.EscapeString(c.note))
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, html.EscapeString(c.title))
	plotTop, plotBottom := float64(chartTop), float64(chartH-chartBottom)
	phaseBands(&b, c, plotTop, plotBottom)
	// y grid and labels
	for _, v := range c.yTicks() {
		y := c.sy(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dee2e6"/>`, chartLeft, y, chartW-chartRight, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>`, chartLeft-6, y+4, c.yFmt(v))
	}
	// x ticks
	xs := niceStep(c.timeline, 12)
	for t := 0.0; t <= c.timeline+1e-9; t += xs {
		x := c.sx(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#868e96"/>`, x, plotBottom, x, plotBottom+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="tick">%ss</text>`, x, plotBottom+17, strconv.FormatFloat(t, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#868e96"/>`, chartLeft, plotBottom, chartW-chartRight, plotBottom)
	for _, l := range c.lines {
		var pts strings.Builder
		for i, p := range l.points {
			if l.step && i > 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", c.sx(p.x), c.sy(l.points[i-1].y))
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", c.sx(p.x), c.sy(p.y))
		}
		dash := ""
		width := "2.2"
		if l.dashed {
			dash, width = ` stroke-dasharray="6 4"`, "1.5"
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s><title>%s</title></polyline>`,
			strings.TrimSpace(pts.String()), l.color, width, dash, html.EscapeString(l.name))
		if !l.dashed {
			for _, p := range l.points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" class="pt"><title>%s at %.2fs: %s</title></circle>`,
					c.sx(p.x), c.sy(p.y), l.color, html.EscapeString(l.name), p.x, c.yFmt(p.y))
			}
		}
	}
	// legend
	x := float64(chartW - chartRight)
	for i := len(c.lines) - 1; i >= 0; i-- {
		l := c.lines[i]
		w := 14 + 7*float64(len(l.name)) + 16
		x -= w
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="3"%s/>`, x, chartH-6, x+12, chartH-6, l.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="legend">%s</text>`, x+16, chartH-2, html.EscapeString(l.name))
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String()) //nolint:gosec // every text in it is escaped
}

// breakerBand draws the fault strategy's breaker states over the timeline.
func breakerBand(r *Report, s StrategyResult) template.HTML {
	c := chart{timeline: time.Duration(r.Timeline).Seconds(), phases: r.Phases}
	const h = 78
	var b strings.Builder
	b.WriteString(`<figure><figcaption><b>fault's circuit breaker</b> <span>green closed (calls go through), red open (calls rejected at once), yellow half-open (a few trial calls)</span></figcaption>`)
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-label="circuit breaker state" xmlns="http://www.w3.org/2000/svg">`, chartW, h)
	phaseBands(&b, c, 22, h-20)
	type seg struct {
		from, to float64
		state    string
	}
	var segs []seg
	at, state := 0.0, fault.StateClosed
	for _, t := range s.Transitions {
		ts := time.Duration(t.At).Seconds()
		segs = append(segs, seg{at, ts, state})
		at, state = ts, t.State
	}
	segs = append(segs, seg{at, c.timeline, state})
	for _, sg := range segs {
		if sg.to <= sg.from {
			continue
		}
		x0, x1 := c.sx(sg.from), c.sx(math.Min(sg.to, c.timeline))
		fmt.Fprintf(&b, `<rect x="%.1f" y="28" width="%.2f" height="24" fill="%s"><title>%s %.2fs–%.2fs</title></rect>`,
			x0, math.Max(x1-x0, 2), stateColors[sg.state], sg.state, sg.from, sg.to)
	}
	fmt.Fprintf(&b, `<text x="%d" y="44" text-anchor="end" class="tick">breaker</text>`, chartLeft-6)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="legend">%d transitions</text>`, chartLeft, h-4, len(s.Transitions))
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String()) //nolint:gosec // every text in it is escaped
}

func charts(r *Report) []template.HTML {
	if len(r.Strategies) == 0 || len(r.Phases) == 0 {
		return nil
	}
	timeline := time.Duration(r.Timeline).Seconds()
	bucket := time.Duration(r.Bucket).Seconds()
	base := chart{timeline: timeline, phases: r.Phases}
	mid := func(p Point) float64 { return math.Min(time.Duration(p.T).Seconds()+bucket/2, timeline) }
	build := func(title, note string, value func(StrategyResult, int) float64, yFmt func(float64) string, floor float64, extra ...line) chart {
		c := base
		c.title, c.note, c.yFmt = title, note, yFmt
		c.lines = extra
		top := floor
		for _, l := range extra {
			for _, p := range l.points {
				top = math.Max(top, p.y)
			}
		}
		for _, s := range r.Strategies {
			l := line{name: s.Name, color: strategyColors[s.Name]}
			for i, p := range s.Series {
				v := value(s, i)
				l.points = append(l.points, xy{mid(p), v})
				top = math.Max(top, v)
			}
			c.lines = append(c.lines, l)
		}
		step := niceStep(top*1.05, 4)
		c.yMax = math.Ceil(top*1.05/step) * step
		return c
	}
	phaseStep := func(name string, v func(PhaseInfo) float64) line {
		l := line{name: name, color: "#495057", dashed: true, step: true}
		for _, ph := range r.Phases {
			l.points = append(l.points, xy{time.Duration(ph.Start).Seconds(), v(ph)})
		}
		last := r.Phases[len(r.Phases)-1]
		l.points = append(l.points, xy{timeline, v(last)})
		return l
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	ms := func(v float64) string { return fmtDuration(time.Duration(v * float64(time.Second))) }
	deadline := time.Duration(r.Deadline).Seconds()

	offered := phaseStep("offered", func(ph PhaseInfo) float64 { return ph.Rate })
	goodput := build("Goodput", fmt.Sprintf("successful requests per second, per %s; dashed: requests offered", fmtDuration(time.Duration(r.Bucket))),
		func(s StrategyResult, i int) float64 { return s.Series[i].Goodput }, num, 1, offered)
	out := []template.HTML{goodput.svg()}
	for _, s := range r.Strategies {
		if s.Name == StrategyFault {
			out = append(out, breakerBand(r, s))
		}
	}
	dl := line{name: "deadline", color: "#c92a2a", dashed: true, points: []xy{{0, deadline}, {timeline, deadline}}}
	out = append(out, build("Latency p99", "the slowest 1% of the requests started in each bucket waited this long (failures included); dashed: the client's deadline",
		func(s StrategyResult, i int) float64 { return time.Duration(s.Series[i].P99).Seconds() }, ms, deadline, dl).svg())
	one := line{name: "1 attempt per request", color: "#495057", dashed: true, points: []xy{{0, 1}, {timeline, 1}}}
	out = append(out, build("Load amplification", "attempts sent to the server per request, by the bucket the request started in; above 1 retries multiply the load, below 1 requests were turned away before they reached the server",
		func(s StrategyResult, i int) float64 { return s.Series[i].Amplification }, num, 1.5, one).svg())
	capacity := phaseStep("capacity", func(ph PhaseInfo) float64 {
		if ph.Outage {
			return 0
		}
		return float64(ph.Capacity)
	})
	inServer := build("Requests in the server", "most requests in the server at once (working and queued), per bucket, log scale; dashed: its workers. Above the line requests queue, and a queued request is served even after its client gave up",
		func(s StrategyResult, i int) float64 { return float64(s.Series[i].Peak) }, num, 1, capacity)
	inServer.log = true
	inServer.yMax = math.Pow(10, math.Max(1, math.Ceil(math.Log10(inServer.yMax))))
	out = append(out, inServer.svg())
	return out
}

// htmlTable renders the comparison table: per phase and overall, a row per
// strategy.
func htmlTable(r *Report) string {
	var b strings.Builder
	b.WriteString(`<table><thead><tr><th>phase</th><th>strategy</th><th>requests</th><th>ok</th><th>goodput/s</th><th>p50</th><th>p95</th><th>p99</th><th>amplification</th><th>peak in server</th><th>recovery</th><th class="l">failures by cause</th></tr></thead><tbody>`)
	rows := func(phase string, outage bool, get func(StrategyResult) Stats) {
		for i, s := range r.Strategies {
			st := get(s)
			cls := ""
			if i == 0 {
				cls = ` class="first"`
			}
			fmt.Fprintf(&b, `<tr%s>`, cls)
			if i == 0 {
				extra := ""
				if outage {
					extra = ` class="outage"`
				}
				fmt.Fprintf(&b, `<th rowspan="%d"%s>%s</th>`, len(r.Strategies), extra, html.EscapeString(phase))
			}
			rec := "—"
			if st.Recovery != nil {
				rec = "never"
				if st.Recovery.Recovered {
					rec = fmtDuration(time.Duration(st.Recovery.After))
				}
			}
			fmt.Fprintf(&b, `<td class="l"><span class="dot" style="background:%s"></span>%s</td><td>%d</td><td>%s</td><td>%.1f</td><td>%s</td><td>%s</td><td>%s</td><td>%.2f</td><td>%d</td><td>%s</td><td class="l">%s</td></tr>`,
				strategyColors[s.Name], html.EscapeString(s.Name), st.Requests, percent(st.SuccessRate), st.Goodput,
				fmtDuration(time.Duration(st.P50)), fmtDuration(time.Duration(st.P95)), fmtDuration(time.Duration(st.P99)),
				st.Amplification, st.PeakConcurrency, rec, html.EscapeString(causes(st.Outcomes)))
		}
	}
	for i, ph := range r.Phases {
		idx := i
		rows(ph.Name, ph.Outage, func(s StrategyResult) Stats { return s.Phases[idx] })
	}
	rows(overall, false, func(s StrategyResult) Stats { return s.Overall })
	b.WriteString(`</tbody></table>`)
	return b.String()
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"dur":   func(m Millis) string { return fmtDuration(time.Duration(m)) },
	"pct":   percent,
	"rate":  func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultsim: {{.R.Scenario}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212529;margin:0;background:#fff}
main{max-width:1080px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;border-bottom:1px solid #e9ecef;padding-bottom:4px}
.meta{color:#6c757d;font-size:13px}.desc{font-size:16px;margin:10px 0}
.verdict{display:flex;flex-direction:column;gap:6px;margin:14px 0}
.exp{display:flex;gap:12px;align-items:baseline;padding:7px 12px;border-radius:6px;background:#f1f3f5}
.exp.pass{background:#ebfbee}.exp.fail{background:#fff5f5}
.badge{font-weight:700;font-size:12px;padding:2px 8px;border-radius:10px;color:#fff;background:#868e96;min-width:38px;text-align:center}
.pass .badge{background:#2b8a3e}.fail .badge{background:#c92a2a}
.exp code{font-size:14px}.exp .got{color:#495057;margin-left:auto;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:14px}
.card{border:1px solid #dee2e6;border-top:5px solid;border-radius:8px;padding:12px 14px}
.card h3{margin:0;font-size:17px}.card p{margin:2px 0 10px;color:#6c757d;font-size:13px;min-height:36px}
.big{font-size:30px;font-weight:700;font-variant-numeric:tabular-nums}.big small{font-size:13px;font-weight:400;color:#6c757d}
.kv{display:grid;grid-template-columns:auto auto;gap:2px 12px;font-size:13px;font-variant-numeric:tabular-nums}.kv span:nth-child(odd){color:#6c757d}
figure{margin:18px 0 6px}figcaption{font-size:14px;margin-bottom:2px}figcaption span{color:#6c757d;font-size:13px}
svg text{font-family:system-ui,sans-serif}svg .tick{font-size:11px;fill:#495057}svg .phase{font-size:12px;fill:#343a40;font-weight:600}
svg .legend{font-size:12px;fill:#343a40}svg .pt{opacity:0}svg .pt:hover{opacity:1}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;text-align:right;border-bottom:1px solid #f1f3f5}thead th{border-bottom:2px solid #adb5bd;font-weight:600;background:#f8f9fa}
tbody th{text-align:left;vertical-align:top;background:#f8f9fa}tbody th.outage{background:#fff0f0}
tr.first td,tr.first th{border-top:2px solid #dee2e6}.l{text-align:left}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}
pre{background:#f8f9fa;border:1px solid #e9ecef;border-radius:6px;padding:12px;overflow:auto;font-size:12.5px}
.notes p,.notes li{font-size:14px;color:#343a40}
</style></head><body><main>
<h1>faultsim: {{.R.Scenario}}</h1>
<div class="meta">seed {{.R.Seed}} · each strategy played the {{.Timeline}} timeline against its own server on 127.0.0.1 · wall time {{.Wall}} · {{.R.Started.Format "2006-01-02 15:04:05 MST"}}{{if .R.Interrupted}} · <b>interrupted: partial results</b>{{end}}</div>
{{if .R.Description}}<p class="desc">{{.R.Description}}</p>{{end}}
<p class="meta">The timeline is compressed: an incident of minutes played in {{.Timeline}}, with the policy's durations (breaker open time, retry waits) scaled to match. Latencies and the deadline are real.</p>

{{if .R.Expectations}}<h2>Expectations</h2><div class="verdict">
{{range .R.Expectations}}<div class="exp {{.Status}}"><span class="badge">{{upper .Status}}</span><code>{{.Expectation}}</code><span class="got">{{.Got}}</span></div>
{{end}}</div>{{end}}

<h2>Overall</h2>
<div class="cards">{{range .Cards}}<div class="card" style="border-top-color:{{.Color}}">
<h3>{{.Name}}</h3><p>{{.Blurb}}</p>
<div class="big">{{.Rate}} <small>succeeded</small></div>
<div class="kv"><span>goodput</span><b>{{.Goodput}}/s</b><span>p99 latency</span><b>{{.P99}}</b><span>amplification</span><b>{{.Ampl}}×</b><span>peak in server</span><b>{{.S.PeakConcurrency}}</b><span>requests</span><b>{{.S.Requests}}</b></div>
</div>{{end}}</div>

<h2>Over time</h2>
<p class="meta">Shaded bands are the phases (red: outage). Hover a point for its value.</p>
{{range .Charts}}{{.}}
{{end}}

<h2>Per phase</h2>
{{.Table}}
<p class="meta">ok: requests answered 2xx before the deadline; goodput: those per second; p50–p99: client-observed latency of every request sent, failures included, from its scheduled start; amplification: attempts the server received per request sent (a request's retries count with it, even when they land in the next phase); peak in server: most requests in the server at once (in service and queued); recovery: after an outage, time until requests succeed again; failures by cause: 5xx (final answer a server error), conn (transport error), deadline (client deadline passed), timeout (the policy's time limit), open / limited / full (rejected at once by the circuit breaker, rate limiter or bulkhead), dropped (the load generator's in-flight cap of {{.R.MaxInFlight}}).</p>

<h2>How this was measured</h2>
<div class="notes">
<ul>
<li><b>Load.</b> Requests arrive open-loop, as a Poisson process at each phase's rate, identical for every strategy (same seed); each has a client deadline of {{dur .R.Deadline}}. Latency is measured from the request's scheduled start, so a client that falls behind cannot hide it.</li>
<li><b>The dependency.</b> A real HTTP server on a loopback port. It works on as many requests at once as its capacity; more wait in a queue, and a full queue is answered 503 at once. Work takes a log-normal time (the phase's p50 and p99) and fails with the phase's error rate. Queued requests are served even after their clients gave up, which is how retries turn an overload into a storm. An outage answers every request 503 at once.</li>
<li><b>Strategies.</b> none: one attempt. naive: up to three attempts back to back, each limited to the policy's attempt timeout. fault: the executor with the policy below, through fault/faulthttp's Transport.</li>
</ul>
<p>Policy: <code>{{.Policy}}</code></p>
</div>
{{if .Source}}<details><summary>Scenario</summary><pre>{{.Source}}</pre></details>{{end}}
</main></body></html>
`))
