package faultsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// Options configure Run.
type Options struct {
	// Seed makes the arrivals and the server's latency and error draws
	// reproducible.
	Seed uint64
	// Strategies to run, in any order (they run in the order of the
	// Strategies variable). nil: all.
	Strategies []string
	// Progress, when set, is called every ProgressInterval while a strategy
	// runs and once when it has finished, on a goroutine of Run's.
	Progress func(Progress)
	// ProgressInterval: 0 means 250ms.
	ProgressInterval time.Duration
	// FaultRecorder, when set, also receives every event of the fault
	// strategy's executor (through metrics.NewFanOut).
	FaultRecorder fault.MetricsRecorder
	// OnFaultExecutor, when set, is called with the fault strategy's
	// executor once it is built, before its first call (faultsim -admin
	// serves the live operations page over its registry).
	OnFaultExecutor func(*executor.Executor[*http.Response])
}

// Progress is the state of a run, for a live progress line.
type Progress struct {
	Strategy   string        // the strategy running
	Index      int           // its position among the strategies run (0-based)
	Count      int           // how many strategies run
	Phase      string        // the phase in force
	PhaseIndex int           // its index
	Elapsed    time.Duration // into this strategy's timeline
	Timeline   time.Duration // the timeline's length
	Started    int64         // requests started so far
	Completed  int64         // requests ended so far
	OK         int64         // requests that succeeded so far
	Done       bool          // the strategy has finished
	// Finished are the success rates of the strategies already run.
	Finished []StrategyRate
}

// StrategyRate is a finished strategy's overall success rate.
type StrategyRate struct {
	Name        string
	SuccessRate float64
}

// ParseStrategies reads a comma-separated list of strategy names and returns
// them in run order, without duplicates.
func ParseStrategies(list string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(Strategies, f) {
			return nil, fmt.Errorf("unknown strategy %q (want a comma-separated list of %s)", f, strings.Join(Strategies, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no strategy to run (want a comma-separated list of " + strings.Join(Strategies, ", ") + ")")
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(Strategies, a) - slices.Index(Strategies, b) })
	return out, nil
}

// Run plays the scenario once per strategy, one after the other, each against
// a fresh server and with the whole machine to itself, and returns what was
// measured with the expectations checked. Running the strategies one at a
// time costs wall time (the timeline is played once per strategy) but keeps
// them from disturbing each other: on a small machine a retry storm next door
// would eat the CPU the other strategies' clients and servers need, and their
// latencies would measure the neighbour instead of the strategy.
//
// A cancelled ctx stops the run early; the partial report is returned with
// Interrupted set, along with ctx's error.
func Run(ctx context.Context, sc *Scenario, opts Options) (*Report, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	names := opts.Strategies
	if names == nil {
		names = Strategies
	}
	names, err := ParseStrategies(strings.Join(names, ","))
	if err != nil {
		return nil, err
	}
	began := time.Now()
	rep := &Report{
		Scenario:    sc.Name,
		Description: sc.Description,
		Seed:        opts.Seed,
		Started:     began,
		Timeline:    Millis(sc.Timeline()),
		Bucket:      Millis(sc.bucket()),
		Deadline:    Millis(sc.Deadline),
		MaxInFlight: sc.maxInFlight(),
		Policy:      sc.Policy,
		Source:      json.RawMessage(sc.source),
	}
	for i, ph := range sc.Phases {
		start := sc.phaseStart(i)
		info := PhaseInfo{Name: ph.Name, Start: Millis(start), End: Millis(start + ph.Duration), Outage: ph.Outage,
			Rate: sc.phaseRate(i), Capacity: sc.phaseCapacity(i)}
		if !ph.Outage {
			info.ErrorRate, info.P50, info.P99 = ph.ErrorRate, Millis(ph.Latency.P50), Millis(max(ph.Latency.P99, ph.Latency.P50))
		}
		rep.Phases = append(rep.Phases, info)
	}
	arr := arrivals(sc, opts.Seed)
	var finished []StrategyRate
	for i, name := range names {
		if ctx.Err() != nil {
			break
		}
		res, err := runStrategy(ctx, sc, opts, arr, name, i, len(names), finished)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: %w", name, err)
		}
		rep.Strategies = append(rep.Strategies, res)
		finished = append(finished, StrategyRate{Name: name, SuccessRate: res.Overall.SuccessRate})
	}
	rep.WallTime = Millis(time.Since(began))
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, ctx.Err()
	}
	rep.Expectations = sc.Check(rep)
	rep.Passed = !slices.ContainsFunc(rep.Expectations, func(e ExpectationResult) bool { return e.Status == ExpectFail })
	return rep, nil
}

func runStrategy(ctx context.Context, sc *Scenario, opts Options, arr []time.Duration, name string, index, count int, finished []StrategyRate) (StrategyResult, error) {
	// Start each strategy on a clean heap, so the previous one's garbage
	// is not collected on this one's time.
	runtime.GC()
	began := time.Now()
	start := began.Add(50 * time.Millisecond) // time to get the server listening
	run, err := newStrategyRun(ctx, name, sc, opts, arr, start)
	if err != nil {
		return StrategyResult{}, err
	}
	stopProgress := func() {}
	if opts.Progress != nil {
		stopProgress = watch(run, opts, index, count, finished)
	}
	recs := run.run(ctx)
	stopProgress()
	if err := run.close(); err != nil {
		return StrategyResult{}, fmt.Errorf("stopping the server: %w", err)
	}
	var transitions []Transition
	if run.recorder != nil {
		transitions = run.recorder.list()
	}
	res := measure(sc, name, recs, run.srv.stats(), transitions)
	if run.recorder != nil {
		if snap, ok := run.recorder.Policy(sc.Policy.Name); ok {
			res.Executor = &snap
		}
	}
	res.WallTime = Millis(time.Since(began))
	if opts.Progress != nil {
		p := snapshot(run, index, count, finished)
		p.Done = true
		opts.Progress(p)
	}
	return res, nil
}

// watch calls opts.Progress periodically until the returned stop is called.
func watch(run *strategyRun, opts Options, index, count int, finished []StrategyRate) (stop func()) {
	every := opts.ProgressInterval
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				opts.Progress(snapshot(run, index, count, finished))
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

func snapshot(run *strategyRun, index, count int, finished []StrategyRate) Progress {
	el := min(max(time.Since(run.start), 0), run.sc.Timeline())
	ph := run.sc.phaseAt(el)
	return Progress{
		Strategy:   run.name,
		Index:      index,
		Count:      count,
		Phase:      run.sc.Phases[ph].Name,
		PhaseIndex: ph,
		Elapsed:    el,
		Timeline:   run.sc.Timeline(),
		Started:    run.counters.started.Load(),
		Completed:  run.counters.completed.Load(),
		OK:         run.counters.ok.Load(),
		Finished:   finished,
	}
}
