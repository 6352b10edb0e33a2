// Command faultsim shows, with measurements on a real loopback service, what
// fault does for a service whose dependency browns out, goes down and gets
// overloaded: the project's main job (`make sim`) and its own end-to-end test.
//
// It starts a simulated dependency (an HTTP server on 127.0.0.1) whose
// behaviour follows a scenario's timeline of phases, and plays the timeline
// once per strategy against a fresh server, with the same open-loop load:
// none (one attempt), naive (immediate retries, the hand-rolled loop fault
// replaces) and fault (the executor with the scenario's policy, through
// fault/faulthttp). It prints a comparison table per phase and overall,
// checks the scenario's expectations, and can write an HTML report with
// charts (-html) and a JSON file (-json).
//
// Usage, from the repository root (the Makefile builds it into bin/ and
// runs it there, so paths are relative to the root):
//
//	make sim                                   # the embedded default scenario
//	make sim ARGS="-html report.html"          # and an HTML report
//	make report                                # report.html and report.json at the root
//	make sim ARGS="-print-default" > my.json
//	make sim ARGS="-scenario my.json -strategies naive,fault"
//	make sim ARGS="-scenario jitter"           # the backoff-and-jitter experiment
//	make sim ARGS="-scenario tail-latency"     # hedging against a long tail
//	make sim ARGS="-scenario retry-storm"      # retry budgets and adaptive throttling
//	make sim ARGS="-scenario fleet"            # a quota shared through Redis (also fleet-outage)
//
// or from tools/ (not in go.work): GOWORK=off go run ./cmd/faultsim [flags].
//
// Exit status: 0 when every expectation holds, 1 when one fails or the run
// could not complete, 2 for bad flags or a bad scenario file. See
// tools/faultsim/README.md for the scenario format.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/tools/faultsim"
	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func main() { repo.Main(run) }

type options struct {
	scenario     string
	strategies   string
	seed         uint64
	html, json   string
	printDefault bool
	clients      string
	runs         int
	admin        string
	redis        string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faultsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.scenario, "scenario", "", `scenario file (JSON), "jitter" for the backoff-and-jitter experiment, "tail-latency" for the hedging experiment, "retry-storm" for retry budgets and adaptive throttling, "fleet" or "fleet-outage" for limits and breakers shared through Redis (default: the embedded scenario; see -print-default)`)
	fs.StringVar(&o.strategies, "strategies", strings.Join(faultsim.Strategies, ","), "strategies to run, comma-separated")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the arrivals, the server's latencies and errors (and the jitter experiment's network)")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report with charts to `FILE`")
	fs.StringVar(&o.json, "json", "", "also write the report as JSON to `FILE`")
	fs.BoolVar(&o.printDefault, "print-default", false, "print the embedded default scenario (a file to copy and edit) and exit")
	fs.StringVar(&o.clients, "clients", joinInts(faultsim.DefaultJitterClients), "jitter experiment: the numbers of contending clients, comma-separated")
	fs.IntVar(&o.runs, "runs", faultsim.DefaultJitterRuns, "jitter experiment: runs averaged per number of clients and strategy")
	fs.StringVar(&o.admin, "admin", "", "serve the live operations page (fault/admin) of the fault strategy on `ADDR` (e.g. 127.0.0.1:8099) while the scenario runs")
	fs.StringVar(&o.redis, "redis", "", "fleet scenarios: `ADDR` of a real Redis (default: an embedded in-process one)")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "faultsim: unexpected arguments %q (a scenario file goes after -scenario)\n", fs.Args())
		return 2
	}
	if o.printDefault {
		_, _ = stdout.Write(faultsim.DefaultScenarioJSON())
		return 0
	}
	if run := fleetScenarios[o.scenario]; run != nil {
		return run(ctx, o, stdout, stderr)
	}
	if o.scenario == faultsim.JitterScenario {
		return runJitter(ctx, o, stdout, stderr)
	}
	if o.scenario == faultsim.TailScenario {
		return runTail(ctx, o, stdout, stderr)
	}
	if o.scenario == faultsim.StormScenario {
		return runStorm(ctx, o, stdout, stderr)
	}
	return runScenario(ctx, o, stdout, stderr)
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `faultsim plays a scenario against a simulated dependency on 127.0.0.1, once per
strategy (none, naive, fault), and compares what the callers saw.

Usage: faultsim [flags]

`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Expectations in a scenario read "<strategy>.[<phase>.]<metric> <op> <value>", op one of
<= >= < >, value a number (or N%), a duration ("800ms"), deadline, or [N *] another
metric ("fault.goodput >= naive.goodput"). Metrics:
`)
	for _, m := range faultsim.MetricNames() {
		fmt.Fprintf(w, "  %-17s %s\n", m, faultsim.MetricHelp(m))
	}
	fmt.Fprintln(w, "\nSee tools/faultsim/README.md for the scenario format.")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func runScenario(ctx context.Context, o options, stdout, stderr io.Writer) int {
	sc, err := loadScenario(o.scenario)
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 2
	}
	strategies, err := faultsim.ParseStrategies(o.strategies)
	if err != nil {
		fmt.Fprintln(stderr, "faultsim: -strategies:", err)
		return 2
	}
	runOpts := faultsim.Options{Seed: o.seed, Strategies: strategies}
	if o.admin != "" {
		_, stop, err := serveAdmin(o.admin, &runOpts, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "faultsim: -admin:", err)
			return 2
		}
		defer stop()
	}
	faultsim.WriteHeader(stdout, sc, strategies, o.seed)
	progress := newProgress(stderr)
	runOpts.Progress = progress.update
	rep, err := faultsim.Run(ctx, sc, runOpts)
	progress.end()
	if rep == nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteTable(stdout, rep)
	code := 0
	if err := writeFiles(o, func(w io.Writer) error { return faultsim.WriteHTML(w, rep) }, func(w io.Writer) error { return faultsim.WriteJSON(w, rep) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		code = 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", time.Duration(rep.WallTime).Round(100*time.Millisecond))
	switch {
	case rep.Interrupted:
		fmt.Fprintln(stderr, "faultsim: interrupted; the figures above are partial")
		return 1
	case !rep.Passed:
		var failed []string
		for _, e := range rep.Expectations {
			if e.Status == faultsim.ExpectFail {
				failed = append(failed, e.Expectation)
			}
		}
		fmt.Fprintf(stderr, "faultsim: %d expectation(s) failed: %s\n", len(failed), strings.Join(failed, "; "))
		return 1
	}
	return code
}

func loadScenario(path string) (*faultsim.Scenario, error) {
	if path == "" {
		return faultsim.DefaultScenario()
	}
	return faultsim.LoadScenario(path)
}

func writeFiles(o options, html, json func(io.Writer) error, stdout io.Writer) error {
	var errs []error
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{o.html, html}, {o.json, json}} {
		if f.path == "" {
			continue
		}
		if f.write == nil {
			errs = append(errs, fmt.Errorf("%s: this run has no such report", f.path))
			continue
		}
		if err := writeFile(f.path, f.write); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(stdout, "wrote", f.path)
	}
	return errors.Join(errs...)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func runJitter(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.html != "" {
		fmt.Fprintln(stderr, "faultsim: the jitter experiment prints a table and writes -json; it has no HTML report")
		return 2
	}
	var clients []int
	for _, f := range strings.Split(o.clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(stderr, "faultsim: -clients: %q is not a number of clients\n", f)
			return 2
		}
		clients = append(clients, n)
	}
	cfg := faultsim.JitterConfig{Clients: clients, Runs: o.runs, Seed: o.seed}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 2
	}
	began := time.Now()
	res, err := faultsim.RunJitter(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteJitterTable(stdout, res)
	if err := writeFiles(o, nil, func(w io.Writer) error { return faultsim.WriteJitterJSON(w, res) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", time.Since(began).Round(10*time.Millisecond))
	if err := res.Check(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	return 0
}

// progress shows the run's progress on stderr: a line redrawn in place on
// a terminal, a plain line per finished strategy otherwise.
type progress struct {
	w    io.Writer
	tty  bool
	live bool // a live line is on screen
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

func (p *progress) update(pr faultsim.Progress) {
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", faultsim.ProgressLine(pr))
		p.live = true
		if pr.Done {
			fmt.Fprintln(p.w)
			p.live = false
		}
	case pr.Done:
		fmt.Fprintln(p.w, faultsim.ProgressLine(pr))
	}
}

func (p *progress) end() {
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
}

// isTerminal reports whether w is a terminal (a character device), without
// a dependency: enough to decide whether a redrawn progress line makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
