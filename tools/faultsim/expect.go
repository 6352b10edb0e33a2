package faultsim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// overall is the phase name of a whole run's figures in references
// ("fault.p99" is short for the whole run) and in reports.
const overall = "overall"

// unit is what a metric measures; only metrics of one unit compare.
type unit int

const (
	unitCount    unit = iota // a number of requests or attempts
	unitRatio                // a plain number (success rate 0..1, amplification)
	unitRate                 // per second
	unitDuration             // a time
)

func (u unit) String() string {
	return [...]string{"a count", "a ratio", "a rate per second", "a duration"}[u]
}

// metricDef describes one metric an expectation may name.
type metricDef struct {
	unit       unit
	outageOnly bool // defined for outage phases only
	help       string
	value      func(s Stats) (float64, bool)
}

func count(f func(s Stats) int) func(Stats) (float64, bool) {
	return func(s Stats) (float64, bool) { return float64(f(s)), true }
}

func seconds(f func(s Stats) Millis) func(Stats) (float64, bool) {
	return func(s Stats) (float64, bool) { return time.Duration(f(s)).Seconds(), true }
}

// metricDefs are the metrics of a Stats that expectations can name.
var metricDefs = map[string]metricDef{
	"requests":         {unitCount, false, "client requests scheduled", count(func(s Stats) int { return s.Requests })},
	"successes":        {unitCount, false, "requests answered 2xx before their deadline", count(func(s Stats) int { return s.Successes })},
	"failures":         {unitCount, false, "requests that did not succeed (rejections and drops included)", count(func(s Stats) int { return s.Failures })},
	"rejected":         {unitCount, false, "requests fault turned away at once (circuit open, rate limited, bulkhead full)", count(func(s Stats) int { return s.Rejected() })},
	"circuit_open":     {unitCount, false, "requests rejected by the open circuit", count(func(s Stats) int { return s.Outcomes.CircuitOpen })},
	"rate_limited":     {unitCount, false, "requests rejected by the rate limiter", count(func(s Stats) int { return s.Outcomes.RateLimited })},
	"bulkhead_full":    {unitCount, false, "requests rejected by the bulkhead", count(func(s Stats) int { return s.Outcomes.BulkheadFull })},
	"timeouts":         {unitCount, false, "requests ended by the policy's time limit", count(func(s Stats) int { return s.Outcomes.Timeout })},
	"deadline":         {unitCount, false, "requests still running at the client's deadline", count(func(s Stats) int { return s.Outcomes.Deadline })},
	"dropped":          {unitCount, false, "requests the load generator dropped at its in-flight cap", count(func(s Stats) int { return s.Outcomes.Dropped })},
	"attempts":         {unitCount, false, "attempts the server received during the phase", count(func(s Stats) int { return s.Attempts })},
	"peak_concurrency": {unitCount, false, "most requests in the server at once (in service and queued)", count(func(s Stats) int { return s.PeakConcurrency })},
	"success_rate":     {unitRatio, false, "successes / requests (0..1; 95% may be written for 0.95)", func(s Stats) (float64, bool) { return s.SuccessRate, true }},
	"amplification":    {unitRatio, false, "attempts the server received for the requests sent / requests sent", func(s Stats) (float64, bool) { return s.Amplification, true }},
	"goodput":          {unitRate, false, "successes per second", func(s Stats) (float64, bool) { return s.Goodput, true }},
	"p50":              {unitDuration, false, "median client-observed latency (every request sent)", seconds(func(s Stats) Millis { return s.P50 })},
	"p95":              {unitDuration, false, "95th percentile client-observed latency", seconds(func(s Stats) Millis { return s.P95 })},
	"p99":              {unitDuration, false, "99th percentile client-observed latency", seconds(func(s Stats) Millis { return s.P99 })},
	"recovery": {unitDuration, true, "time from the outage's end until requests succeed again (+Inf if never)", func(s Stats) (float64, bool) {
		if s.Recovery == nil {
			return 0, false
		}
		if !s.Recovery.Recovered {
			return math.Inf(1), true
		}
		return time.Duration(s.Recovery.After).Seconds(), true
	}},
}

// MetricNames returns the metric names expectations may use, sorted.
func MetricNames() []string {
	names := make([]string, 0, len(metricDefs))
	for n := range metricDefs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// MetricHelp returns one line describing a metric.
func MetricHelp(name string) string { return metricDefs[name].help }

// ref names one metric of one strategy in one phase (or overall).
type ref struct {
	strategy, phase, metric string
}

func (r ref) String() string {
	if r.phase == overall {
		return r.strategy + "." + r.metric
	}
	return r.strategy + "." + r.phase + "." + r.metric
}

// expectation is a parsed scenario expectation:
//
//	ref op operand
//	ref     = strategy "." [phase "."] metric
//	operand = number ["%"] | duration | "deadline" | [number "*"] ref
//	op      = "<=" | ">=" | "<" | ">"
type expectation struct {
	text  string
	left  ref
	op    string
	value float64 // the constant operand (seconds for durations), or the factor of right
	right *ref    // the other metric, nil for a constant
	unit  unit
}

var ops = []string{"<=", ">=", "<", ">"}

func parseExpectation(text string, sc *Scenario) (expectation, error) {
	e := expectation{text: text}
	var lhs, rhs string
	for i := 0; i < len(text); i++ {
		for _, op := range ops {
			if strings.HasPrefix(text[i:], op) {
				e.op, lhs, rhs = op, text[:i], text[i+len(op):]
				break
			}
		}
		if e.op != "" {
			break
		}
	}
	if e.op == "" {
		return e, errors.New(`want "<metric> <op> <value>" with op one of <=, >=, <, > (e.g. "fault.outage.amplification <= 1.3")`)
	}
	lhs, rhs = strings.TrimSpace(lhs), strings.TrimSpace(rhs)
	left, err := parseRef(lhs, sc)
	if err != nil {
		return e, err
	}
	e.left = left
	e.unit = metricDefs[left.metric].unit
	if rhs == "" {
		return e, fmt.Errorf("nothing to compare %s with", lhs)
	}
	// [number "*"] ref
	factor := 1.0
	if f, r, ok := strings.Cut(rhs, "*"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return e, fmt.Errorf("%q before * must be a non-negative number", strings.TrimSpace(f))
		}
		factor, rhs = v, strings.TrimSpace(r)
		if !looksLikeRef(rhs) {
			return e, fmt.Errorf("%q after * must name a metric (strategy.[phase.]metric)", rhs)
		}
	}
	switch {
	case looksLikeRef(rhs):
		right, err := parseRef(rhs, sc)
		if err != nil {
			return e, err
		}
		if u := metricDefs[right.metric].unit; u != e.unit {
			return e, fmt.Errorf("%s is %s but %s is %s: they do not compare", left.metric, e.unit, right.metric, u)
		}
		e.right, e.value = &right, factor
	case rhs == "deadline":
		if e.unit != unitDuration {
			return e, fmt.Errorf("%s is %s: it does not compare with the deadline, a duration", left.metric, e.unit)
		}
		e.value = sc.Deadline.Seconds()
	default:
		v, err := parseConstant(rhs, e.unit)
		if err != nil {
			return e, fmt.Errorf("%s is %s: %w", left.metric, e.unit, err)
		}
		e.value = v
	}
	return e, nil
}

// looksLikeRef reports whether s is meant as a metric reference: it starts
// with a strategy name and a dot.
func looksLikeRef(s string) bool {
	for _, st := range Strategies {
		if strings.HasPrefix(s, st+".") {
			return true
		}
	}
	return false
}

func parseConstant(s string, u unit) (float64, error) {
	if u == unitDuration {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("compare it with a duration such as \"800ms\", with deadline or with another duration metric, not %q", s)
		}
		return d.Seconds(), nil
	}
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 0.01
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("compare it with a number, not %q", s)
	}
	return v * scale, nil
}

func parseRef(s string, sc *Scenario) (ref, error) {
	parts := strings.Split(s, ".")
	var r ref
	switch len(parts) {
	case 2:
		r = ref{parts[0], overall, parts[1]}
	case 3:
		r = ref{parts[0], parts[1], parts[2]}
	default:
		return r, fmt.Errorf("%q must name a metric as strategy.metric or strategy.phase.metric (e.g. fault.outage.p99)", s)
	}
	if !slices.Contains(Strategies, r.strategy) {
		return r, fmt.Errorf("%q: unknown strategy %q (want %s)", s, r.strategy, strings.Join(Strategies, ", "))
	}
	if r.phase != overall && !slices.ContainsFunc(sc.Phases, func(p Phase) bool { return p.Name == r.phase }) {
		names := make([]string, len(sc.Phases))
		for i, p := range sc.Phases {
			names[i] = p.Name
		}
		return r, fmt.Errorf("%q: unknown phase %q (the phases are %s; leave it out for the whole run)", s, r.phase, strings.Join(names, ", "))
	}
	def, ok := metricDefs[r.metric]
	if !ok {
		return r, fmt.Errorf("%q: unknown metric %q (want one of %s)", s, r.metric, strings.Join(MetricNames(), ", "))
	}
	if def.outageOnly {
		i := slices.IndexFunc(sc.Phases, func(p Phase) bool { return p.Name == r.phase })
		if i < 0 || !sc.Phases[i].Outage {
			return r, fmt.Errorf("%q: %s is measured after an outage phase only (one with \"outage\": true)", s, r.metric)
		}
	}
	return r, nil
}

// Expectation statuses.
const (
	ExpectPass = "pass"
	ExpectFail = "fail"
	ExpectSkip = "skip" // a strategy it names was not run
)

// ExpectationResult is the verdict on one expectation.
type ExpectationResult struct {
	Expectation string `json:"expectation"`
	Status      string `json:"status"`
	// Got describes the measured values ("0.04", "812ms vs 1s").
	Got string `json:"got"`
}

// Check evaluates the scenario's expectations against a report (of a run
// of this scenario), in the order they are listed. An expectation naming a
// strategy the report lacks is skipped.
func (s *Scenario) Check(r *Report) []ExpectationResult {
	if s.expects == nil && len(s.Expectations) > 0 {
		if err := s.Validate(); err != nil {
			return []ExpectationResult{{Expectation: "scenario", Status: ExpectFail, Got: err.Error()}}
		}
	}
	out := make([]ExpectationResult, 0, len(s.expects))
	for _, e := range s.expects {
		out = append(out, e.check(r))
	}
	return out
}

// check evaluates e against the report.
func (e expectation) check(r *Report) ExpectationResult {
	res := ExpectationResult{Expectation: e.text}
	left, ok, why := lookup(r, e.left)
	if !ok {
		res.Status, res.Got = ExpectSkip, why
		return res
	}
	want := e.value
	got := formatValue(left, e.unit)
	if e.right != nil {
		right, ok, why := lookup(r, *e.right)
		if !ok {
			res.Status, res.Got = ExpectSkip, why
			return res
		}
		want = e.value * right
		got += " vs " + formatValue(want, e.unit)
	} else {
		got += " (limit " + formatValue(want, e.unit) + ")"
	}
	pass := false
	switch e.op {
	case "<=":
		pass = left <= want
	case ">=":
		pass = left >= want
	case "<":
		pass = left < want
	case ">":
		pass = left > want
	}
	res.Status = ExpectFail
	if pass {
		res.Status = ExpectPass
	}
	res.Got = got
	return res
}

func lookup(r *Report, x ref) (float64, bool, string) {
	for _, s := range r.Strategies {
		if s.Name != x.strategy {
			continue
		}
		st := s.Overall
		if x.phase != overall {
			i := slices.IndexFunc(s.Phases, func(p Stats) bool { return p.Phase == x.phase })
			if i < 0 {
				return 0, false, "phase " + x.phase + " not measured"
			}
			st = s.Phases[i]
		}
		v, ok := metricDefs[x.metric].value(st)
		if !ok {
			return 0, false, x.metric + " not measured"
		}
		return v, true, ""
	}
	return 0, false, "strategy " + x.strategy + " was not run"
}

func formatValue(v float64, u unit) string {
	switch {
	case math.IsInf(v, 1):
		return "never"
	case u == unitDuration:
		return fmtDuration(time.Duration(v * float64(time.Second)))
	case u == unitRate:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	case u == unitCount:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// fmtDuration prints a duration rounded for reading: 812ms, 1.25s, 37.5ms.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
