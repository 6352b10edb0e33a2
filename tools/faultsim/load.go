package faultsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// outcome is how one client request ended.
type outcome uint8

const (
	outcomeOK           outcome = iota // a 2xx answer before the deadline
	outcomeHTTPError                   // the final answer was a failure status (5xx)
	outcomeConnError                   // a transport error (connection refused, reset, ...)
	outcomeDeadline                    // the client's deadline passed first
	outcomeTimeout                     // the policy's own time limit fired (fault.TimeoutError)
	outcomeCircuitOpen                 // rejected by the open circuit
	outcomeRateLimited                 // rejected by the rate limiter
	outcomeBulkheadFull                // rejected by the bulkhead
	outcomeDropped                     // never sent: the load generator's in-flight cap
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"ok", "http_error", "conn_error", "deadline", "timeout", "circuit_open", "rate_limited", "bulkhead_full", "dropped",
}

func (o outcome) String() string { return outcomeNames[o] }

// arrivals returns the request start offsets: a Poisson process whose rate
// follows the phases, drawn from seed alone, so every strategy (and every run
// with that seed) sees the same arrivals.
func arrivals(sc *Scenario, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 0xa771_7a15))
	var out []time.Duration
	var start time.Duration
	for i, ph := range sc.Phases {
		end := start + ph.Duration
		// The exponential distribution is memoryless: restarting the
		// process at each phase boundary with the new rate is exact.
		out = poissonArrivals(out, rng, sc.phaseRate(i), start, end)
		start = end
	}
	return out
}

// poissonArrivals appends to out the arrival times in [from, to) of a
// Poisson process of rate arrivals per second, drawn from rng. Each gap is
// compared with the time left before it is converted: at a tiny rate it
// exceeds what a Duration holds, and the conversion would wrap around to a
// negative offset.
func poissonArrivals(out []time.Duration, rng *rand.Rand, rate float64, from, to time.Duration) []time.Duration {
	for t := from; ; {
		gap := rng.ExpFloat64() / rate * float64(time.Second)
		if gap >= float64(to-t) {
			return out
		}
		t += time.Duration(gap)
		out = append(out, t)
	}
}

// record is one client request as measured by the load generator.
type record struct {
	start    time.Duration // scheduled start, from the timeline's origin
	latency  time.Duration // from the scheduled start to the outcome
	outcome  outcome
	attempts int32 // round trips the client made
	received int32 // attempts of this request the server received
}

// attemptsKey carries a request's attempt counter in its context, through
// faulthttp to the counting transport.
type attemptsKey struct{}

// countingTransport numbers each round trip of a request (the server draws
// the attempt's latency from it) and counts them.
type countingTransport struct {
	base *http.Transport
	sent atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.sent.Add(1)
	n := int32(1)
	if c, ok := req.Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		n = c.Add(1)
	}
	r := req.Clone(req.Context())
	r.Header.Set(headerAttempt, strconv.Itoa(int(n)))
	return t.base.RoundTrip(r)
}

func (t *countingTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// newBaseTransport returns the net/http transport under every strategy:
// enough idle connections for the in-flight cap, and at most that many
// connections, so that a storm cannot exhaust file descriptors.
func newBaseTransport(maxConns int) *countingTransport {
	return &countingTransport{base: &http.Transport{
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

// client sends one request the way a strategy does.
type client interface {
	do(ctx context.Context, url string, id int) outcome
}

func newRequest(ctx context.Context, url string, id int) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(headerRequest, strconv.Itoa(id))
	return req, nil
}

// finish reads and closes a response and says whether it is a success.
func finish(resp *http.Response) bool {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// classify names the error a request ended with.
func classify(ctx context.Context, err error) outcome {
	var (
		open *fault.CircuitOpenError
		rl   *fault.RateLimitError
		bh   *fault.BulkheadFullError
		to   *fault.TimeoutError
	)
	switch {
	case errors.As(err, &open):
		return outcomeCircuitOpen
	case errors.As(err, &rl):
		return outcomeRateLimited
	case errors.As(err, &bh):
		return outcomeBulkheadFull
	case ctx.Err() != nil:
		return outcomeDeadline
	case errors.As(err, &to):
		return outcomeTimeout
	default:
		return outcomeConnError
	}
}

// plainClient sends each request once through its http.Client: strategy
// none with a bare transport, strategy fault with faulthttp's Transport
// (which makes the policy's attempts).
type plainClient struct{ hc *http.Client }

func (c plainClient) do(ctx context.Context, url string, id int) outcome {
	req, err := newRequest(ctx, url, id)
	if err != nil {
		return outcomeConnError
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	if finish(resp) {
		return outcomeOK
	}
	return outcomeHTTPError
}

// naiveClient is the hand-rolled retry loop fault replaces: up to attempts
// attempts, each sent at once after the previous failed, each limited to
// attemptTimeout (0: only the request's deadline), until the deadline.
type naiveClient struct {
	hc             *http.Client
	attempts       int
	attemptTimeout time.Duration
}

func (c naiveClient) do(ctx context.Context, url string, id int) outcome {
	last := outcomeConnError
	for range c.attempts {
		o, done := c.attempt(ctx, url, id)
		if done {
			return o
		}
		last = o
		if ctx.Err() != nil {
			return outcomeDeadline
		}
	}
	return last
}

// attempt makes one attempt; done reports an outcome not worth retrying.
func (c naiveClient) attempt(ctx context.Context, url string, id int) (o outcome, done bool) {
	actx := ctx
	if c.attemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.attemptTimeout)
		defer cancel()
	}
	req, err := newRequest(actx, url, id)
	if err != nil {
		return outcomeConnError, true
	}
	resp, err := c.hc.Do(req)
	switch {
	case err != nil && ctx.Err() == nil && actx.Err() != nil:
		return outcomeTimeout, false
	case err != nil:
		return classify(ctx, err), false
	case finish(resp):
		return outcomeOK, true
	case resp.StatusCode < 500:
		return outcomeHTTPError, true // a 4xx is an answer, not worth repeating
	default:
		return outcomeHTTPError, false
	}
}

// timelineRecorder is the fault strategy's fault.MetricsRecorder: it keeps
// the breaker's transitions with their time and passes every event on to
// fault/metrics' in-memory Recorder.
type timelineRecorder struct {
	*metrics.Recorder
	start time.Time

	mu          sync.Mutex
	transitions []Transition
}

// RecordCircuitState notes the transition and passes it on.
func (r *timelineRecorder) RecordCircuitState(ctx context.Context, policy, state string) {
	r.mu.Lock()
	r.transitions = append(r.transitions, Transition{At: Millis(max(time.Since(r.start), 0)), State: state})
	r.mu.Unlock()
	r.Recorder.RecordCircuitState(ctx, policy, state)
}

func (r *timelineRecorder) list() []Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transition(nil), r.transitions...)
}

// progressCounters are read by the progress line while a strategy runs.
type progressCounters struct {
	started, completed, ok atomic.Int64
}

// strategyRun is one strategy's pass over the timeline, against its own
// server.
type strategyRun struct {
	name     string
	sc       *Scenario
	seed     uint64
	arrivals []time.Duration
	start    time.Time
	counters progressCounters

	srv      *server
	base     *countingTransport
	client   client
	recorder *timelineRecorder // fault only
	exec     *executor.Executor[*http.Response]
}

// newStrategyRun starts the strategy's server and builds its client; the
// timeline starts at start.
func newStrategyRun(ctx context.Context, name string, sc *Scenario, opts Options, arr []time.Duration, start time.Time) (*strategyRun, error) {
	seed := opts.Seed
	srv, err := newServer(ctx, sc, seed, start, len(arr))
	if err != nil {
		return nil, err
	}
	r := &strategyRun{name: name, sc: sc, seed: seed, arrivals: arr, start: start, srv: srv,
		base: newBaseTransport(sc.maxInFlight())}
	switch name {
	case StrategyNone:
		r.client = plainClient{hc: &http.Client{Transport: r.base}}
	case StrategyNaive:
		r.client = naiveClient{hc: &http.Client{Transport: r.base}, attempts: sc.naiveAttempts(), attemptTimeout: sc.naiveAttemptTimeout()}
	case StrategyFault:
		err = r.buildFault(opts)
	default:
		err = fmt.Errorf("unknown strategy %q (want %s, %s or %s)", name, StrategyNone, StrategyNaive, StrategyFault)
	}
	if err != nil {
		return nil, errors.Join(err, srv.close())
	}
	return r, nil
}

func (r *strategyRun) buildFault(opts Options) error {
	mem, err := metrics.New()
	if err != nil {
		return err
	}
	r.recorder = &timelineRecorder{Recorder: mem, start: r.start}
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false // transitions are shown on the timeline instead
	cfg.TracingEnabled = false
	cfg.MetricsRecorder = r.recorder
	if opts.FaultRecorder != nil {
		cfg.MetricsRecorder = metrics.NewFanOut(r.recorder, opts.FaultRecorder)
	}
	r.exec, err = executor.New[*http.Response](cfg) //nolint:bodyclose // builds an executor; plainClient.do closes every body
	if err != nil {
		return err
	}
	if err := r.exec.RegisterPolicy(r.sc.Policy); err != nil {
		return err
	}
	if opts.OnFaultExecutor != nil {
		opts.OnFaultExecutor(r.exec)
	}
	t, err := faulthttp.NewTransport(r.exec, r.sc.Policy.Name, faulthttp.WithBase(r.base))
	if err != nil {
		return err
	}
	r.client = plainClient{hc: &http.Client{Transport: t}}
	return nil
}

// run sends the arrivals open-loop: each request starts at its scheduled time
// whatever the others are doing, up to the in-flight cap (beyond it the
// request is dropped and counted). It returns when every request has ended;
// ctx ending stops new arrivals (they are not recorded) and cuts the running
// ones short.
func (r *strategyRun) run(ctx context.Context) []record {
	recs := make([]record, len(r.arrivals))
	capacity := int64(r.sc.maxInFlight())
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	n := 0
	for i, at := range r.arrivals {
		if d := time.Until(r.start.Add(at)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		n = i + 1
		r.counters.started.Add(1)
		if inFlight.Load() >= capacity {
			recs[i] = record{start: at, outcome: outcomeDropped}
			r.counters.completed.Add(1)
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			recs[i] = r.one(ctx, i, at)
		}()
	}
	wg.Wait()
	return recs[:n]
}

// one sends request i, scheduled at offset at, under the client's deadline.
func (r *strategyRun) one(ctx context.Context, i int, at time.Duration) record {
	scheduled := r.start.Add(at)
	ctx, cancel := context.WithDeadline(ctx, scheduled.Add(r.sc.Deadline))
	defer cancel()
	var attempts atomic.Int32
	ctx = context.WithValue(ctx, attemptsKey{}, &attempts)
	o := r.client.do(ctx, r.srv.url, i)
	rec := record{start: at, latency: time.Since(scheduled), outcome: o, attempts: attempts.Load()}
	r.counters.completed.Add(1)
	if o == outcomeOK {
		r.counters.ok.Add(1)
	}
	return rec
}

// close stops the strategy's server and closes its client's connections.
func (r *strategyRun) close() error {
	r.base.CloseIdleConnections()
	err := r.srv.close()
	r.base.CloseIdleConnections()
	return err
}
