package faultsim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// WriteHeader prints what is about to run: the scenario, its compressed
// timeline and the strategies.
func WriteHeader(w io.Writer, sc *Scenario, strategies []string, seed uint64) {
	fmt.Fprintf(w, "faultsim: scenario %q, seed %d\n", sc.Name, seed)
	if sc.Description != "" {
		for _, line := range wrap(sc.Description, 78) {
			fmt.Fprintln(w, "  "+line)
		}
	}
	var parts []string
	for _, ph := range sc.Phases {
		parts = append(parts, fmt.Sprintf("%s %s", ph.Name, fmtDuration(ph.Duration)))
	}
	fmt.Fprintf(w, "timeline: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "  (compressed: an incident of minutes played in %s, the policy's durations shortened to match)\n",
		fmtDuration(sc.Timeline()))
	fmt.Fprintf(w, "load: %s req/s Poisson (open loop), deadline %s, at most %d in flight; server capacity %d, queue %d\n",
		strconv.FormatFloat(sc.Rate, 'f', -1, 64), fmtDuration(sc.Deadline), sc.maxInFlight(), sc.Server.Capacity, sc.Server.Queue)
	fmt.Fprintf(w, "strategies, one after the other, each against a fresh server on 127.0.0.1: %s (about %s in all)\n\n",
		strings.Join(strategies, ", "), fmtDuration(time.Duration(len(strategies))*(sc.Timeline()+200*time.Millisecond)))
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// WriteTable prints the final comparison: per phase and overall, one row per
// strategy, then the breaker's timeline and the expectations.
func WriteTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tstrategy\trequests\tok\tgoodput/s\tp50\tp95\tp99\tampl\tpeak\trecovery\t  failures by cause")
	rows := func(phase string, get func(StrategyResult) Stats) {
		for i, s := range r.Strategies {
			st := get(s)
			label := ""
			if i == 0 {
				label = phase
			}
			rec := ""
			if st.Recovery != nil {
				rec = "never"
				if st.Recovery.Recovered {
					rec = fmtDuration(time.Duration(st.Recovery.After))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.1f\t%s\t%s\t%s\t%.2f\t%d\t%s\t  %s\n",
				label, s.Name, st.Requests, percent(st.SuccessRate), st.Goodput,
				fmtDuration(time.Duration(st.P50)), fmtDuration(time.Duration(st.P95)), fmtDuration(time.Duration(st.P99)),
				st.Amplification, st.PeakConcurrency, rec, causes(st.Outcomes))
		}
	}
	for i, ph := range r.Phases {
		idx := i
		rows(ph.Name, func(s StrategyResult) Stats { return s.Phases[idx] })
	}
	rows(overall, func(s StrategyResult) Stats { return s.Overall })
	_ = tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ok: share of requests answered 2xx before the deadline; goodput: those per second; p50..p99: latency every")
	fmt.Fprintln(w, "caller saw, failures included; ampl: attempts the server received per request sent (a request's retries")
	fmt.Fprintln(w, "count with it, even when they land in the next phase); peak: most requests in the server at once")
	fmt.Fprintln(w, "(capacity "+strconv.Itoa(r.Phases[0].Capacity)+"); recovery: time after the outage until requests succeed again.")
	for _, s := range r.Strategies {
		if s.Name == StrategyFault {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "fault's circuit breaker: "+transitionsLine(s.Transitions, r.Phases))
		}
	}
	if len(r.Expectations) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "expectations:")
		for _, e := range r.Expectations {
			fmt.Fprintf(w, "  %-4s  %s   %s\n", strings.ToUpper(e.Status), e.Expectation, e.Got)
		}
	}
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

// causes lists the non-zero failure classes: "5xx 12, deadline 3, open 240".
func causes(o Outcomes) string {
	var parts []string
	add := func(name string, n int) {
		if n > 0 {
			parts = append(parts, name+" "+strconv.Itoa(n))
		}
	}
	add("5xx", o.HTTPError)
	add("conn", o.ConnError)
	add("deadline", o.Deadline)
	add("timeout", o.Timeout)
	add("open", o.CircuitOpen)
	add("limited", o.RateLimited)
	add("full", o.BulkheadFull)
	add("dropped", o.Dropped)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// transitionsLine prints the breaker's timeline, folding each trial that
// failed (half-open, then open again) into a count: "closed, then open 8.07s
// (outage), 4 failed trials, half-open 10.6s (recovery), closed 10.6s
// (recovery)".
func transitionsLine(ts []Transition, phases []PhaseInfo) string {
	if len(ts) == 0 {
		return "stayed closed"
	}
	const show = 12
	var parts []string
	failed := 0
	flush := func() {
		switch failed {
		case 0:
		case 1:
			parts = append(parts, "1 failed trial")
		default:
			parts = append(parts, strconv.Itoa(failed)+" failed trials")
		}
		failed = 0
	}
	for i := 0; i < len(ts); i++ {
		if ts[i].State == fault.StateHalfOpen && i+1 < len(ts) && ts[i+1].State == fault.StateOpen {
			failed++
			i++
			continue
		}
		flush()
		if len(parts) >= show {
			parts = append(parts, fmt.Sprintf("... %d more transitions", len(ts)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", ts[i].State, fmtDuration(time.Duration(ts[i].At)), phaseName(phases, ts[i].At)))
	}
	flush()
	return "closed, then " + strings.Join(parts, ", ")
}

func phaseName(phases []PhaseInfo, at Millis) string {
	for _, p := range phases {
		if at >= p.Start && at < p.End {
			return p.Name
		}
	}
	return "after the end"
}

// ProgressLine renders p as one short line (under 80 columns) for a
// terminal: strategy, phase, time, running success rate, and the finished
// strategies' rates.
func ProgressLine(p Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d %s] %s %s/%s", p.Index+1, p.Count, p.Strategy, p.Phase,
		strconv.FormatFloat(p.Elapsed.Seconds(), 'f', 1, 64), fmtSeconds(p.Timeline))
	if p.Completed > 0 {
		fmt.Fprintf(&b, " ok %s", percent(float64(p.OK)/float64(p.Completed)))
	}
	if p.Done {
		b.WriteString(" done")
	}
	for i, f := range p.Finished {
		sep := " "
		if i == 0 {
			sep = " | "
		}
		fmt.Fprintf(&b, "%s%s %s", sep, f.Name, percent(f.SuccessRate))
	}
	return b.String()
}

func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
