package faultsim

import (
	"context"
	"errors"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Headers the load generator sets so that the server can draw each attempt's
// latency and error from the random seed alone: the same request's first
// attempt takes the same time under every strategy and in every run with
// that seed.
const (
	headerRequest = "X-Faultsim-Request"
	headerAttempt = "X-Faultsim-Attempt"
)

// server is the simulated dependency: a real HTTP server on a loopback port
// whose behaviour follows the scenario's phases.
//
// The model. The server has capacity workers (per phase). A request that
// arrives while all are busy waits in a FIFO queue of Server.Queue places;
// when the queue is full it is answered 503 at once (load shedding). A worker
// works on a request for a service time drawn from the phase's log-normal
// latency, then answers 500 with probability ErrorRate, else 200. A queued
// request is served even if its client has given up (like a thread-pool
// server that cannot see cancellation): that wasted work is what lets retries
// turn an overload into a storm. Latency therefore climbs with the excess over
// capacity (the queueing delay) and the server starts failing once the queue
// is full.
//
// An outage phase answers every request 503 at once, without Retry-After.
// A 503 rather than a refused connection: the attempts still reach the server,
// which counts them (load amplification is measured where the load lands),
// and a load balancer in front of a dead backend answers just that. A
// Retry-After would help fault, which honours it, and not the naive loop,
// so it is left out to keep the comparison about the policy.
type server struct {
	sc     *Scenario
	seed   uint64
	start  time.Time // the timeline's origin
	bucket time.Duration

	done chan struct{} // closed on shutdown: wakes every waiting handler
	hs   *http.Server  // nil for a bare model
	url  string

	mu        sync.Mutex
	inService int
	queue     []chan struct{}
	closed    bool
	attempts  []int // per bucket: attempts received
	peak      []int // per bucket: most requests in the server (in service + queued)
	phaseAtt  []int // per phase: attempts received
	phasePeak []int // per phase: most requests in the server
	shed      int   // answered 503 because the queue was full
	served    int   // requests that got a worker
	// received counts the attempts received per client request (by the
	// request number in headerRequest), so that amplification is
	// measured where the load lands and attributed to the request that
	// caused it, whenever its attempts arrive.
	received []int32
}

// newServer starts a server listening on 127.0.0.1 (a random port) whose
// timeline starts at start, for requests numbered 0 to requests-1.
func newServer(ctx context.Context, sc *Scenario, seed uint64, start time.Time, requests int) (*server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := newModel(sc, seed, start, requests)
	s.url = "http://" + ln.Addr().String() + "/"
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// A client that gives up closes its connection while the handler
		// still works; the server's complaints about that are expected.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// newModel returns the server's model without a listener: its ServeHTTP
// works on any http.ResponseWriter (the tests drive it directly).
func newModel(sc *Scenario, seed uint64, start time.Time, requests int) *server {
	buckets := numBuckets(sc)
	return &server{
		sc:        sc,
		seed:      seed,
		start:     start,
		bucket:    sc.bucket(),
		done:      make(chan struct{}),
		attempts:  make([]int, buckets),
		peak:      make([]int, buckets),
		phaseAtt:  make([]int, len(sc.Phases)),
		phasePeak: make([]int, len(sc.Phases)),
		received:  make([]int32, requests),
	}
}

// close stops the server: waiting and working handlers return at once, then
// the listener and every connection close.
func (s *server) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	if s.hs == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil {
		return errors.Join(err, s.hs.Close())
	}
	return nil
}

func (s *server) offset(now time.Time) time.Duration {
	return max(now.Sub(s.start), 0)
}

func (s *server) bucketOf(off time.Duration) int {
	return min(int(off/s.bucket), len(s.attempts)-1)
}

func (s *server) capacity(phase int) int { return s.sc.phaseCapacity(phase) }

// ServeHTTP serves one attempt.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	off := s.offset(time.Now())
	phase := s.sc.phaseAt(off)
	b := s.bucketOf(off)

	id, idErr := strconv.ParseUint(r.Header.Get(headerRequest), 10, 64)

	s.mu.Lock()
	s.attempts[b]++
	s.phaseAtt[phase]++
	if idErr == nil && id < uint64(len(s.received)) {
		s.received[id]++
	}
	if s.sc.Phases[phase].Outage || s.closed {
		s.mu.Unlock()
		unavailable(w)
		return
	}
	var wait chan struct{}
	switch {
	case s.inService < s.capacity(phase):
		s.inService++
	case len(s.queue) < s.sc.Server.Queue:
		wait = make(chan struct{})
		s.queue = append(s.queue, wait)
	default:
		s.shed++
		s.mu.Unlock()
		unavailable(w)
		return
	}
	s.notePeak(b, phase)
	s.mu.Unlock()

	if wait != nil {
		select {
		case <-wait: // a worker took it (inService counts it)
		case <-s.done:
			unavailable(w)
			return
		}
	}
	defer s.release()
	s.work(w, r)
}

// notePeak records the number of requests in the server; s.mu is held.
func (s *server) notePeak(b, phase int) {
	n := s.inService + len(s.queue)
	s.peak[b] = max(s.peak[b], n)
	s.phasePeak[phase] = max(s.phasePeak[phase], n)
}

// work is a worker serving the request under the phase in force when it
// starts.
func (s *server) work(w http.ResponseWriter, r *http.Request) {
	ph := s.sc.Phases[s.sc.phaseAt(s.offset(time.Now()))]
	if ph.Outage {
		unavailable(w)
		return
	}
	rng := s.rng(r)
	d := serviceTime(ph.Latency, rng.NormFloat64())
	failed := rng.Float64() < ph.ErrorRate
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-s.done:
		t.Stop()
		unavailable(w)
		return
	}
	s.mu.Lock()
	s.served++
	s.mu.Unlock()
	if failed {
		http.Error(w, "simulated failure", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// release frees the worker and hands it to the oldest waiting request.
func (s *server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inService--
	c := s.capacity(s.sc.phaseAt(s.offset(time.Now())))
	for s.inService < c && len(s.queue) > 0 {
		next := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.inService++
		close(next)
	}
}

// rng returns the random source of one attempt, derived from the run's
// seed, the request and the attempt number, so that draws do not depend on
// the order in which attempts happen to arrive.
func (s *server) rng(r *http.Request) *rand.Rand {
	id, _ := strconv.ParseUint(r.Header.Get(headerRequest), 10, 64)
	attempt, _ := strconv.ParseUint(r.Header.Get(headerAttempt), 10, 64)
	return rand.New(rand.NewPCG(s.seed^0x5eed_fa17, id<<8|attempt&0xff))
}

// serviceTime returns the log-normal draw for the standard normal z: the
// distribution whose median is l.P50 and 99th percentile l.P99. z is clamped
// to ±4 (the 99.997th percentile) so that one draw cannot stall a worker for
// an absurd time.
func serviceTime(l Latency, z float64) time.Duration {
	p99 := l.P99
	if p99 < l.P50 {
		p99 = l.P50
	}
	const z99 = 2.3263478740408408 // the standard normal's 99th percentile
	sigma := math.Log(float64(p99)/float64(l.P50)) / z99
	z = max(-4, min(4, z))
	return time.Duration(float64(l.P50) * math.Exp(sigma*z))
}

func unavailable(w http.ResponseWriter) {
	http.Error(w, "simulated outage or overload", http.StatusServiceUnavailable)
}

// serverStats is what the server measured, read after it stopped.
type serverStats struct {
	attempts  []int
	peak      []int
	phaseAtt  []int
	phasePeak []int
	shed      int
	served    int
	received  []int32 // per request number
}

func (s *server) stats() serverStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return serverStats{
		attempts:  append([]int(nil), s.attempts...),
		peak:      append([]int(nil), s.peak...),
		phaseAtt:  append([]int(nil), s.phaseAtt...),
		phasePeak: append([]int(nil), s.phasePeak...),
		shed:      s.shed,
		served:    s.served,
		received:  append([]int32(nil), s.received...),
	}
}
