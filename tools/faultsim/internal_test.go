package faultsim

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

const ms = time.Millisecond

func modelScenario(t *testing.T) *Scenario {
	t.Helper()
	sc := &Scenario{
		Name: "model", Rate: 10, Deadline: time.Second,
		Server: Server{Capacity: 2, Queue: 1},
		Phases: []Phase{
			{Name: "up", Duration: time.Second, Latency: Latency{P50: 10 * ms}},
			{Name: "down", Duration: time.Second, Outage: true},
			{Name: "bad", Duration: time.Second, Latency: Latency{P50: 10 * ms}, ErrorRate: 1},
			{Name: "narrow", Duration: time.Second, Latency: Latency{P50: 10 * ms}, Capacity: 1},
		},
		Policy: fault.PolicyConfig{Name: "p"},
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	return sc
}

type served struct {
	code int
	at   time.Duration
}

// fire sends n requests to the model at once and returns their statuses and
// completion times (from start), sorted by time.
func fire(ctx context.Context, s *server, start time.Time, n int) []served {
	out := make([]served, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			req.Header.Set(headerRequest, strconv.Itoa(i))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			out[i] = served{rec.Code, time.Since(start)}
		})
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b served) int { return int(a.at - b.at) })
	return out
}

// TestServerModel pins the dependency's model: capacity workers, a FIFO
// queue, 503 at once beyond it; outages answer 503 at once; errors after the
// service time; a phase's own capacity.
func TestServerModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := modelScenario(t)
		start := time.Now()
		s := newModel(sc, 1, start, 8)
		defer s.close()

		// Four at once against 2 workers and 1 queue place: two served
		// after 10ms, one queued and served after 20ms, one shed at once.
		got := fire(context.Background(), s, start, 4)
		want := []served{{503, 0}, {200, 10 * ms}, {200, 10 * ms}, {200, 20 * ms}}
		if !slices.Equal(got, want) {
			t.Errorf("capacity and queue: got %v, want %v", got, want)
		}
		st := s.stats()
		if st.phaseAtt[0] != 4 || st.phasePeak[0] != 3 || st.shed != 1 || st.served != 3 {
			t.Errorf("stats after the burst: %+v", st)
		}
		// Every attempt counts for its request, the shed one too.
		if want := []int32{1, 1, 1, 1, 0, 0, 0, 0}; !slices.Equal(st.received, want) {
			t.Errorf("attempts received per request %v, want %v", st.received, want)
		}

		time.Sleep(time.Second - 20*ms) // the outage
		began := time.Since(start)
		for _, r := range fire(context.Background(), s, start, 3) {
			if r.code != 503 || r.at != began {
				t.Errorf("outage: got %v, want 503 at once (%s)", r, began)
			}
		}

		time.Sleep(time.Second) // error rate 1
		began = time.Since(start)
		if r := fire(context.Background(), s, start, 1)[0]; r.code != 500 || r.at != began+10*ms {
			t.Errorf("error phase: got %v, want 500 after the 10ms service time", r)
		}

		time.Sleep(time.Second - 10*ms) // one worker, one queue place
		began = time.Since(start)
		got = fire(context.Background(), s, start, 3)
		want = []served{{503, began}, {200, began + 10*ms}, {200, began + 20*ms}}
		if !slices.Equal(got, want) {
			t.Errorf("phase capacity 1: got %v, want %v", got, want)
		}
	})
}

// TestServerServesAbandonedRequests pins the model's stale work: a queued
// request whose client gave up is still served when its turn comes.
func TestServerServesAbandonedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := modelScenario(t)
		sc.Server.Capacity = 1
		start := time.Now()
		s := newModel(sc, 1, start, 8)
		defer s.close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := fire(ctx, s, start, 2)
		want := []served{{200, 10 * ms}, {200, 20 * ms}}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want both served, one after the other", got)
		}
	})
}

// TestServerCloseReleasesWaiters: closing the server answers queued and
// working requests at once.
func TestServerCloseReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := modelScenario(t)
		sc.Phases[0].Latency = Latency{P50: 50 * time.Second}
		start := time.Now()
		s := newModel(sc, 1, start, 8)
		var got []served
		done := make(chan struct{})
		go func() {
			got = fire(context.Background(), s, start, 3)
			close(done)
		}()
		time.Sleep(time.Second / 2)
		synctest.Wait()
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		<-done
		for _, r := range got {
			if r.code != 503 || r.at != time.Second/2 {
				t.Errorf("after close: got %v, want 503 at 500ms", r)
			}
		}
		if err := s.close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

func TestServiceTime(t *testing.T) {
	l := Latency{P50: 20 * ms, P99: 200 * ms}
	const z99 = 2.3263478740408408
	if got := serviceTime(l, 0); got != 20*ms {
		t.Errorf("z=0: %s, want the median 20ms", got)
	}
	if got := serviceTime(l, z99); math.Abs(float64(got-200*ms)) > float64(time.Microsecond) {
		t.Errorf("z=z99: %s, want p99 200ms", got)
	}
	if a, b := serviceTime(l, 4), serviceTime(l, 40); a != b {
		t.Errorf("z is not clamped at 4: %s vs %s", a, b)
	}
	if got := serviceTime(Latency{P50: 20 * ms}, 3); got != 20*ms {
		t.Errorf("no p99: %s, want a constant 20ms", got)
	}
	// Draws from a fixed seed follow the distribution: about 1% above p99.
	s := newModel(&Scenario{Phases: []Phase{{Duration: time.Second}}}, 7, time.Now(), 0)
	above := 0
	const n = 20000
	for i := range n {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(headerRequest, strconv.Itoa(i))
		if serviceTime(l, s.rng(req).NormFloat64()) > 200*ms {
			above++
		}
	}
	if above < n/200 || above > n/50 {
		t.Errorf("%d of %d draws above p99, want about 1%%", above, n)
	}
}

func TestArrivals(t *testing.T) {
	sc := modelScenario(t)
	sc.Rate = 200
	sc.Phases[1].Rate = 1000
	a, b := arrivals(sc, 3), arrivals(sc, 3)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different arrivals")
	}
	if slices.Equal(a, arrivals(sc, 4)) {
		t.Fatal("different seeds gave the same arrivals")
	}
	if !slices.IsSorted(a) || a[0] < 0 || a[len(a)-1] >= sc.Timeline() {
		t.Fatal("arrivals not sorted within the timeline")
	}
	// Poisson counts per phase: within 5 standard deviations of the mean.
	for i := range sc.Phases {
		from, to := sc.phaseStart(i), sc.phaseStart(i)+sc.Phases[i].Duration
		n := 0
		for _, t := range a {
			if t >= from && t < to {
				n++
			}
		}
		mean := sc.phaseRate(i) * sc.Phases[i].Duration.Seconds()
		if math.Abs(float64(n)-mean) > 5*math.Sqrt(mean) {
			t.Errorf("phase %d: %d arrivals, want about %.0f", i, n, mean)
		}
	}
}

// TestArrivalsTinyRate: a rate so low that the gap to the next arrival does
// not fit in a time.Duration (a valid scenario: the rate is > 0) gives no
// arrivals; converting the gap first overflowed to a negative duration and
// the loop never ended.
func TestArrivalsTinyRate(t *testing.T) {
	sc := modelScenario(t)
	sc.Rate = 1e-300
	sc.Phases[1].Rate = 1e-9
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	done := make(chan []time.Duration, 1)
	go func() { done <- arrivals(sc, 1) }()
	select {
	case a := <-done:
		if len(a) != 0 {
			t.Fatalf("%d arrivals at a rate of 1e-300/s", len(a))
		}
	case <-time.After(10 * time.Second): // real time: a watchdog for a runaway loop
		t.Fatal("arrivals did not return")
	}
}

func TestQuantiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*ms)
	}
	p50, p95, p99 := quantiles(ds)
	if p50 != 50*ms || p95 != 95*ms || p99 != 99*ms {
		t.Errorf("quantiles = %s %s %s, want 50ms 95ms 99ms", p50, p95, p99)
	}
	if a, b, c := quantiles(nil); a != 0 || b != 0 || c != 0 {
		t.Error("quantiles of nothing are not 0")
	}
}

func TestRecovery(t *testing.T) {
	// One request every 10ms; failures until 1.23s, successes after.
	var recs []record
	for i := range 300 {
		at := time.Duration(i) * 10 * ms
		o := outcomeOK
		if at < 1230*ms {
			o = outcomeCircuitOpen
		}
		recs = append(recs, record{start: at, outcome: o})
	}
	r := recovery(recs, time.Second, 100*ms, 3*time.Second, 0.9)
	// The first 100ms window with 90% successes starts at 1.22s (9 of 10).
	if !r.Recovered || time.Duration(r.After) != 220*ms {
		t.Errorf("recovery = %+v, want recovered after 220ms", r)
	}
	if r := recovery(recs, time.Second, 100*ms, 1200*ms, 0.9); r.Recovered {
		t.Errorf("recovered before the data shows it: %+v", r)
	}
	if r := recovery(recs[:50], 0, 100*ms, 3*time.Second, 0.9); r.Recovered {
		t.Errorf("recovered with no success at all: %+v", r)
	}
}

func TestSummarize(t *testing.T) {
	recs := []record{
		{start: 0, latency: 10 * ms, outcome: outcomeOK, attempts: 1, received: 1},
		{start: 100 * ms, latency: 30 * ms, outcome: outcomeHTTPError, attempts: 3, received: 3},
		{start: 200 * ms, outcome: outcomeDropped},
		{start: 300 * ms, latency: 1 * ms, outcome: outcomeCircuitOpen},
		{start: time.Second, latency: 5 * ms, outcome: outcomeOK, attempts: 1, received: 1}, // outside
	}
	st := summarize("x", recs, 0, time.Second, 4, 2)
	if st.Requests != 4 || st.Sent != 3 || st.Successes != 1 || st.Failures != 3 || st.Rejected() != 1 ||
		st.Outcomes.Dropped != 1 || st.ClientAttempts != 4 || st.Goodput != 1 || st.SuccessRate != 0.25 {
		t.Errorf("summarize: %+v", st)
	}
	if st.Amplification != 4.0/3 || st.P99 != Millis(30*ms) || st.PeakConcurrency != 2 {
		t.Errorf("summarize: amplification %v p99 %v peak %d", st.Amplification, st.P99, st.PeakConcurrency)
	}
}

// TestAmplificationByRequest: a phase's amplification is the attempts the
// server received for the requests scheduled in the phase, per request sent,
// wherever those attempts landed. Dividing the attempts that arrived during
// the phase by the phase's requests charged one phase's retries to the next
// (the naive loop showed 3.3 attempts per request with 3 attempts at most).
func TestAmplificationByRequest(t *testing.T) {
	sc := modelScenario(t) // up, down, bad, narrow: 1s each
	recs := []record{
		{start: 100 * ms, outcome: outcomeHTTPError, attempts: 3},  // all 3 attempts in up
		{start: 900 * ms, outcome: outcomeHTTPError, attempts: 3},  // 1 in up, 2 landed in down
		{start: 1500 * ms, outcome: outcomeHTTPError, attempts: 1}, // down
	}
	srv := serverStats{
		attempts: make([]int, numBuckets(sc)), peak: make([]int, numBuckets(sc)),
		phaseAtt: []int{4, 3, 0, 0}, phasePeak: make([]int, 4),
		received: []int32{3, 3, 1},
	}
	res := measure(sc, StrategyNaive, recs, srv, nil)
	up, down := res.Phases[0], res.Phases[1]
	if up.Amplification != 3 || up.ReceivedAttempts != 6 || up.Attempts != 4 {
		t.Errorf("up: amplification %v, received %d, arrived %d; want 3, 6, 4", up.Amplification, up.ReceivedAttempts, up.Attempts)
	}
	if down.Amplification != 1 || down.ReceivedAttempts != 1 || down.Attempts != 3 {
		t.Errorf("down: amplification %v, received %d, arrived %d; want 1, 1, 3", down.Amplification, down.ReceivedAttempts, down.Attempts)
	}
	if o := res.Overall; o.Amplification != 7.0/3 || o.Attempts != 7 {
		t.Errorf("overall: amplification %v, arrived %d; want 7/3, 7", o.Amplification, o.Attempts)
	}
}

// TestRetryWaits checks that the waits drawn from fault/retry, scaled back to
// simulated time, follow each jitter's formula.
func TestRetryWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const base, capDelay = 10 * ms, 2 * time.Second
		for _, j := range []string{fault.JitterFull, fault.JitterEqual, fault.JitterDecorrelated} {
			w, err := newRetryWaits(context.Background(), j, base, capDelay)
			if err != nil {
				t.Fatal(err)
			}
			prev := base
			distinct := map[time.Duration]bool{}
			for k := 1; k <= 12; k++ {
				d, err := w.next()
				if err != nil {
					t.Fatal(err)
				}
				b := min(capDelay, base<<(k-1))
				lo, hi := time.Duration(0), b
				switch j {
				case fault.JitterEqual:
					lo = b - b/2
				case fault.JitterDecorrelated:
					lo, hi = base, min(capDelay, 3*prev)
				}
				if d < lo || d > hi {
					t.Errorf("%s wait %d = %s, outside [%s, %s]", j, k, d, lo, hi)
				}
				distinct[d] = true
				prev = d
			}
			if len(distinct) < 6 {
				t.Errorf("%s: only %d distinct waits in 12: not jittered?", j, len(distinct))
			}
			w.stop()
		}
	})
}

func TestBucket(t *testing.T) {
	sc := modelScenario(t) // 4s
	if b := sc.bucket(); b != 100*ms || numBuckets(sc) != 40 {
		t.Errorf("bucket %s, %d buckets", b, numBuckets(sc))
	}
	sc.Bucket = 30 * ms
	if numBuckets(sc) != 134 {
		t.Errorf("%d buckets of 30ms in 4s, want 134", numBuckets(sc))
	}
	if sc.phaseAt(0) != 0 || sc.phaseAt(time.Second) != 1 || sc.phaseAt(time.Hour) != 3 {
		t.Error("phaseAt")
	}
}
