package faultsim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

// JitterScenario is the name that selects the backoff-and-jitter experiment
// instead of a scenario file (faultsim -scenario jitter).
const JitterScenario = "jitter"

// The experiment's defaults: the parameters of the simulator behind Marc
// Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015).
const (
	DefaultJitterRuns    = 50
	DefaultJitterBase    = 5 * time.Millisecond
	DefaultJitterCap     = 2 * time.Second
	DefaultJitterNetMean = 10 * time.Millisecond
	DefaultJitterNetSD   = 2 * time.Millisecond
	// MaxJitterClients bounds JitterConfig.Clients entries, MaxJitterRuns
	// its Runs: the experiment's cost grows with clients² × runs.
	MaxJitterClients = 1000
	MaxJitterRuns    = 1000
	// jitterScale is how much faster than simulated time the retry module
	// runs when it draws the waits (see retryWaits).
	jitterScale = 1000
)

// jitterGoroutineBudget bounds the jittered clients drawing waits at once,
// each on a goroutine of its own (retryWaits): the runs of a cell start in
// batches of max(1, budget/clients), so memory stays at a few hundred MB at
// MaxJitterClients × MaxJitterRuns instead of a million goroutines. The
// default experiment (at most 100 clients × 50 runs) runs every run of a
// cell at once. A variable so that tests can lower it.
var jitterGoroutineBudget = 20_000

// liveWaits and peakWaits count the retryWaits alive and the most at once.
var liveWaits, peakWaits atomic.Int64

// DefaultJitterClients are the contention levels of the default experiment.
var DefaultJitterClients = []int{10, 25, 50, 100}

// JitterConfig configures the backoff-and-jitter experiment: Clients clients
// each want to write one row once, with optimistic concurrency control
// (read the version, write if it is unchanged); a client whose write lost
// the race backs off and tries again.
type JitterConfig struct {
	Clients []int         // contention levels; nil: DefaultJitterClients
	Runs    int           // runs averaged per level and strategy; 0: DefaultJitterRuns
	Seed    uint64        // network delays are drawn from it
	Base    time.Duration // backoff base; 0: DefaultJitterBase
	Cap     time.Duration // backoff cap; 0: DefaultJitterCap
	NetMean time.Duration // one-way network delay, |normal(mean, sd)|; 0: DefaultJitterNetMean
	NetSD   time.Duration // 0: DefaultJitterNetSD
}

func (c JitterConfig) withDefaults() JitterConfig {
	if c.Clients == nil {
		c.Clients = DefaultJitterClients
	}
	if c.Runs == 0 {
		c.Runs = DefaultJitterRuns
	}
	if c.Base == 0 {
		c.Base = DefaultJitterBase
	}
	if c.Cap == 0 {
		c.Cap = DefaultJitterCap
	}
	if c.NetMean == 0 {
		c.NetMean = DefaultJitterNetMean
	}
	if c.NetSD == 0 {
		c.NetSD = DefaultJitterNetSD
	}
	return c
}

// Validate reports the config's problems, each naming the field and rule.
func (c JitterConfig) Validate() error {
	var errs []error
	if len(c.Clients) == 0 && c.Clients != nil {
		errs = append(errs, errors.New("jitter: Clients must list at least one contention level"))
	}
	for _, n := range c.Clients {
		if n < 1 || n > MaxJitterClients {
			errs = append(errs, fmt.Errorf("jitter: Clients: %d must be between 1 and %d", n, MaxJitterClients))
		}
	}
	if c.Runs < 0 || c.Runs > MaxJitterRuns {
		errs = append(errs, fmt.Errorf("jitter: Runs: %d must be between 1 and %d (0 means %d)", c.Runs, MaxJitterRuns, DefaultJitterRuns))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Base", c.Base}, {"Cap", c.Cap}, {"NetMean", c.NetMean}, {"NetSD", c.NetSD}} {
		if d.v < 0 || d.v > time.Minute {
			errs = append(errs, fmt.Errorf("jitter: %s: %s must be between 0 and 1m (0 means the default)", d.name, d.v))
		}
	}
	if d := c.withDefaults(); d.Cap < 2*d.Base {
		errs = append(errs, fmt.Errorf("jitter: Cap: %s must be at least twice Base (%s)", d.Cap, d.Base))
	}
	return errors.Join(errs...)
}

// jitterStrategy is one row of the experiment.
type jitterStrategy struct {
	name   string
	jitter string // fault.Jitter*; "" for no backoff at all
}

// jitterStrategies are the experiment's rows, in the article's order: no
// backoff as the baseline, then capped exponential backoff without jitter and
// with each jitter of fault/retry.
var jitterStrategies = []jitterStrategy{
	{"no backoff", ""},
	{"exponential, no jitter", fault.JitterNone},
	{"full jitter", fault.JitterFull},
	{"equal jitter", fault.JitterEqual},
	{"decorrelated jitter", fault.JitterDecorrelated},
}

// JitterResult is the experiment's outcome: for each strategy and contention
// level, the mean total number of write calls and the mean time until the
// last client succeeded, in simulated time.
type JitterResult struct {
	Clients []int       `json:"clients"`
	Runs    int         `json:"runs"`
	Seed    uint64      `json:"seed"`
	Rows    []JitterRow `json:"rows"`
}

// JitterRow is one strategy's results, one cell per contention level.
type JitterRow struct {
	Strategy string       `json:"strategy"`
	Jitter   string       `json:"jitter,omitempty"` // the fault.Jitter constant; "" for no backoff
	Cells    []JitterCell `json:"cells"`
}

// JitterCell is the mean of Runs runs at one contention level.
type JitterCell struct {
	Clients    int     `json:"clients"`
	Calls      float64 `json:"calls"`         // write calls, all clients together
	Completion Millis  `json:"completion_ms"` // until the last client's write succeeded
}

// Row returns the row of the strategy with the given jitter ("" for no
// backoff); ok is false when there is none.
func (r *JitterResult) Row(jitter string) (JitterRow, bool) {
	for _, row := range r.Rows {
		if row.Jitter == jitter {
			return row, true
		}
	}
	return JitterRow{}, false
}

// RunJitter runs the experiment in simulated time: a discrete-event
// simulation of the clients, the network and the row, as in the article's
// simulator. The waits between attempts are fault/retry's own: a retry.Retry
// configured with the strategy's jitter draws them (see retryWaits), so the
// experiment measures the retry module, not a copy of its formulas.
//
// Runs of one cell run concurrently; a cancelled ctx stops the experiment
// with ctx's error.
func RunJitter(ctx context.Context, cfg JitterConfig) (*JitterResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	res := &JitterResult{Clients: cfg.Clients, Runs: cfg.Runs, Seed: cfg.Seed}
	for si, st := range jitterStrategies {
		row := JitterRow{Strategy: st.name, Jitter: st.jitter}
		for ci, n := range cfg.Clients {
			type out struct {
				calls int
				done  time.Duration
				err   error
			}
			outs := make([]out, cfg.Runs)
			var wg sync.WaitGroup
			batch := make(chan struct{}, max(1, jitterGoroutineBudget/n))
			for run := range cfg.Runs {
				batch <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-batch }()
					seed := cfg.Seed ^ uint64(si)<<48 ^ uint64(ci)<<32 ^ uint64(run)
					calls, done, err := occRun(ctx, cfg, st, n, seed)
					outs[run] = out{calls, done, err}
				}()
			}
			wg.Wait()
			cell := JitterCell{Clients: n}
			var total time.Duration
			for _, o := range outs {
				if o.err != nil {
					return nil, o.err
				}
				cell.Calls += float64(o.calls)
				total += o.done
			}
			cell.Calls /= float64(cfg.Runs)
			cell.Completion = Millis(total / time.Duration(cfg.Runs))
			row.Cells = append(row.Cells, cell)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// waits hands out one client's successive waits before retrying.
type waits interface {
	next() (time.Duration, error)
	stop()
}

// noWaits retries at once.
type noWaits struct{}

func (noWaits) next() (time.Duration, error) { return 0, nil }
func (noWaits) stop()                        {}

// retryWaits draws a client's waits from a fault/retry Retry: the Retry runs
// an operation that fails at once, attempt after attempt, and reports each
// wait it chose through Config.OnRetry. Retry offers no way to ask for a wait
// without sleeping it, so it runs on a goroutine of its own, configured 1000
// times faster than simulated time (a 2s cap sleeps 2ms), a few waits ahead
// of the simulation; the values are scaled back. The sleeping costs real time
// but never changes a value: the simulation's clock is its own.
type retryWaits struct {
	ch     chan time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

var errAttemptFailed = errors.New("jitter: write lost the race")

func newRetryWaits(ctx context.Context, jitter string, initial, capDelay time.Duration) (*retryWaits, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &retryWaits{ch: make(chan time.Duration, 4), cancel: cancel, done: make(chan struct{})}
	r, err := retry.New(retry.Config{
		Name:            "jitter-experiment",
		MaxAttempts:     math.MaxInt32,
		InitialInterval: max(initial/jitterScale, 1),
		MaxInterval:     max(capDelay/jitterScale, 1),
		Multiplier:      2,
		Jitter:          jitter,
		OnRetry: func(_ int, _ error, d time.Duration) {
			select {
			case w.ch <- d * jitterScale:
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	if n := liveWaits.Add(1); n > peakWaits.Load() {
		for p := peakWaits.Load(); n > p && !peakWaits.CompareAndSwap(p, n); p = peakWaits.Load() {
		}
	}
	go func() {
		defer close(w.done)
		defer liveWaits.Add(-1)
		defer close(w.ch)
		_ = r.Run(ctx, func(context.Context) error { return errAttemptFailed })
	}()
	return w, nil
}

func (w *retryWaits) next() (time.Duration, error) {
	d, ok := <-w.ch
	if !ok {
		return 0, errors.New("jitter: the retry stopped drawing waits")
	}
	return d, nil
}

func (w *retryWaits) stop() {
	w.cancel()
	<-w.done
}

// backoffWaits are the waits of capped exponential backoff without jitter,
// straight from Retry.Backoff (no sleeping needed: nothing is random).
type backoffWaits struct {
	r *retry.Retry
	n int
}

func (w *backoffWaits) next() (time.Duration, error) {
	w.n++
	return w.r.Backoff(w.n), nil
}

func (w *backoffWaits) stop() {}

// newWaits returns the wait source of one client. Exponential backoff starts
// at twice Base (the article's min(cap, base·2^attempt) with attempt = 1);
// decorrelated jitter starts at Base (its sleep = min(cap, uniform(base,
// 3·sleep)), sleep starting at base).
func newWaits(ctx context.Context, cfg JitterConfig, st jitterStrategy) (waits, error) {
	switch st.jitter {
	case "":
		return noWaits{}, nil
	case fault.JitterNone:
		r, err := retry.New(retry.Config{InitialInterval: 2 * cfg.Base, MaxInterval: cfg.Cap, Multiplier: 2, Jitter: fault.JitterNone})
		if err != nil {
			return nil, err
		}
		return &backoffWaits{r: r}, nil
	case fault.JitterDecorrelated:
		return newRetryWaits(ctx, st.jitter, cfg.Base, cfg.Cap)
	default:
		return newRetryWaits(ctx, st.jitter, 2*cfg.Base, cfg.Cap)
	}
}

// Event kinds of the OCC simulation.
const (
	evRead      = iota // a read reaches the server
	evReadResp         // its answer (the version) reaches the client
	evWrite            // a conditional write reaches the server
	evWriteResp        // its answer reaches the client
)

type occEvent struct {
	at      time.Duration
	seq     int // ties break in scheduling order
	client  int
	kind    int
	version int
}

type eventQueue []occEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(occEvent)) } //nolint:forcetypeassert,errcheck // only occEvents are pushed
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// occRun simulates n clients updating one row once each and returns the
// number of write calls and the time the last write succeeded. Each client
// reads the version, writes with it, and on a lost race waits (per its
// strategy) and starts over; every message takes a network delay.
func occRun(ctx context.Context, cfg JitterConfig, st jitterStrategy, n int, seed uint64) (calls int, done time.Duration, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x0cc))
	delay := func() time.Duration {
		return time.Duration(math.Abs(rng.NormFloat64()*float64(cfg.NetSD) + float64(cfg.NetMean)))
	}
	clients := make([]waits, n)
	defer func() {
		for _, w := range clients {
			if w != nil {
				w.stop()
			}
		}
	}()
	for i := range clients {
		if clients[i], err = newWaits(ctx, cfg, st); err != nil {
			return 0, 0, err
		}
	}
	var q eventQueue
	seq := 0
	push := func(e occEvent) {
		seq++
		e.seq = seq
		heap.Push(&q, e)
	}
	for i := range n {
		push(occEvent{at: delay(), client: i, kind: evRead})
	}
	version := 0
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		e := heap.Pop(&q).(occEvent) //nolint:forcetypeassert,errcheck // only occEvents are pushed
		switch e.kind {
		case evRead:
			push(occEvent{at: e.at + delay(), client: e.client, kind: evReadResp, version: version})
		case evReadResp:
			push(occEvent{at: e.at + delay(), client: e.client, kind: evWrite, version: e.version})
		case evWrite:
			calls++
			ok := e.version == version
			if ok {
				version++
			}
			push(occEvent{at: e.at + delay(), client: e.client, kind: evWriteResp, version: boolInt(ok)})
		case evWriteResp:
			if e.version == 1 {
				done = e.at
				clients[e.client].stop()
				clients[e.client] = nil
				continue
			}
			wait, err := clients[e.client].next()
			if err != nil {
				return 0, 0, err
			}
			push(occEvent{at: e.at + delay() + wait, client: e.client, kind: evRead})
		}
	}
	return calls, done, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Check verifies the article's ordering at the highest contention level: full
// and decorrelated jitter make fewer calls than exponential backoff without
// jitter.
func (r *JitterResult) Check() error {
	base, ok := r.Row(fault.JitterNone)
	if !ok || len(base.Cells) == 0 {
		return errors.New("jitter: no row for exponential backoff without jitter")
	}
	last := len(base.Cells) - 1
	var errs []error
	for _, j := range []string{fault.JitterFull, fault.JitterDecorrelated} {
		row, ok := r.Row(j)
		if !ok {
			continue
		}
		if got, ref := row.Cells[last].Calls, base.Cells[last].Calls; got >= ref {
			errs = append(errs, fmt.Errorf("jitter: %s made %.0f calls with %d clients, not fewer than exponential backoff without jitter (%.0f)",
				row.Strategy, got, base.Cells[last].Clients, ref))
		}
	}
	return errors.Join(errs...)
}

// WriteJitterTable prints the experiment's tables: calls and completion time
// per strategy and contention level, and how the jittered strategies compare
// with exponential backoff without jitter.
func WriteJitterTable(w io.Writer, r *JitterResult) {
	fmt.Fprintln(w, "Exponential backoff and jitter, after Marc Brooker, \"Exponential Backoff And Jitter\" (AWS Architecture Blog, 2015).")
	fmt.Fprintln(w, "N clients each update one row once with optimistic concurrency (read the version, write if unchanged);")
	fmt.Fprintln(w, "a client whose write lost the race backs off and starts over. Simulated time (a discrete-event")
	fmt.Fprintln(w, "simulation, like the article's): network delay |normal(10ms, 2ms)| per message, backoff base 5ms, cap 2s.")
	fmt.Fprintf(w, "The waits come from fault/retry itself (retry.Config.Jitter), not from a copy of its formulas. Means of %d runs.\n", r.Runs)
	table := func(title string, cell func(JitterCell) string) {
		fmt.Fprintln(w)
		fmt.Fprintln(w, title)
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
		head := fmt.Sprintf("  %-24s\t", "clients")
		for _, n := range r.Clients {
			head += strconv.Itoa(n) + "\t"
		}
		fmt.Fprintln(tw, head)
		for _, row := range r.Rows {
			line := fmt.Sprintf("  %-24s\t", row.Strategy)
			for _, c := range row.Cells {
				line += cell(c) + "\t"
			}
			fmt.Fprintln(tw, line)
		}
		_ = tw.Flush()
	}
	table("write calls, all clients together (fewer is better: less work for the contended row)",
		func(c JitterCell) string { return strconv.FormatFloat(c.Calls, 'f', 0, 64) })
	table("time until the last client succeeded",
		func(c JitterCell) string { return fmtDuration(time.Duration(c.Completion)) })
	base, ok := r.Row(fault.JitterNone)
	if !ok || len(base.Cells) == 0 {
		return
	}
	last := len(base.Cells) - 1
	fmt.Fprintln(w)
	fmt.Fprintf(w, "With %d clients, against exponential backoff without jitter (%.0f calls):\n", base.Cells[last].Clients, base.Cells[last].Calls)
	for _, row := range r.Rows {
		if row.Jitter == fault.JitterNone {
			continue
		}
		c := row.Cells[last].Calls
		fmt.Fprintf(w, "  %-22s %+.0f%% calls\n", row.Strategy, 100*(c-base.Cells[last].Calls)/base.Cells[last].Calls)
	}
	if err := r.Check(); err != nil {
		fmt.Fprintln(w, "The ordering differs from the article's:", err)
	} else {
		fmt.Fprintln(w, "As in the article, full and decorrelated jitter need fewer calls than backoff without jitter.")
	}
}

// WriteJitterJSON writes the experiment's result as indented JSON.
func WriteJitterJSON(w io.Writer, r *JitterResult) error {
	return writeJSON(w, r)
}
