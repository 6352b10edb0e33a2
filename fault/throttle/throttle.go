package throttle

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// DefaultBuckets is the number of buckets a window is divided into when
// Config.Buckets is 0; MaxBuckets is the most accepted.
const (
	DefaultBuckets = 100
	MaxBuckets     = 1000
	minBuckets     = 2
	maxStripes     = 32
)

// Config configures a Throttle. A zero field means the default of
// fault.ThrottlePolicyConfig:
//
//	K                        2     accepts multiplier
//	Window                   2m    the trailing window
//	MaxRejectionProbability  0.9   the cap, so that some attempts always probe
//	MinRequests              20    requests in the window before it rejects
//	Buckets                  100   the window's resolution
type Config struct {
	// Name identifies the throttle in errors (ResilienceError.Service) and
	// metrics. Optional.
	Name string
	// K: the throttle lets through about K times the attempts the
	// dependency accepts; >= 1, 0 means 2. Lower is more aggressive.
	K float64
	// Window is the trailing window requests and accepts are counted over,
	// 100ms to 24h; 0 means 2m.
	Window time.Duration
	// MaxRejectionProbability caps the rejection probability, in (0, 1];
	// 0 means 0.9.
	MaxRejectionProbability float64
	// MinRequests is how many requests the window must hold before the
	// throttle rejects anything; 0 means 20.
	MinRequests int
	// Buckets divides Window into this many buckets, 2 to 1000; 0 means
	// 100. The probability is recomputed when each bucket ends.
	Buckets int
	// Classifier decides whether a failed attempt was refused for
	// overload; nil means DefaultClassifier.
	Classifier Classifier
	// Rand returns a uniform number in [0, 1); nil means math/rand/v2.
	// Tests set it to script decisions. It must be safe for concurrent use.
	Rand func() float64
	// Recorder, when set and implementing fault.ThrottleRecorder, is told
	// of every rejection and of each new probability.
	Recorder fault.MetricsRecorder
}

// FromPolicy returns the Config for a policy's throttle section, named after
// the policy.
func FromPolicy(name string, c fault.ThrottlePolicyConfig) Config {
	return Config{Name: name, K: c.K, Window: c.Window, MaxRejectionProbability: c.MaxRejectionProbability, MinRequests: c.MinRequests}
}

func (c Config) section() fault.ThrottlePolicyConfig {
	return fault.ThrottlePolicyConfig{K: c.K, Window: c.Window, MaxRejectionProbability: c.MaxRejectionProbability, MinRequests: c.MinRequests}
}

// Validate reports every problem of c, joined with errors.Join; each is a
// *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("Throttle.K"), the value and the rule.
func (c Config) Validate() error {
	sec := c.section()
	var err error
	if c.Name == "" {
		err = sec.Validate()
	} else {
		err = fault.PolicyConfig{Name: c.Name, Throttle: &sec}.Validate()
	}
	if c.Buckets != 0 && (c.Buckets < minBuckets || c.Buckets > MaxBuckets) {
		berr := fault.NewInvalidPolicyError(c.Name, "Throttle.Buckets", c.Buckets,
			"must be between "+strconv.Itoa(minBuckets)+" and "+strconv.Itoa(MaxBuckets)+" (0 means "+strconv.Itoa(DefaultBuckets)+")")
		if err == nil {
			return berr
		}
		return errors.Join(err, berr)
	}
	return err
}

// Throttle is client-side adaptive throttling (Google SRE book, "Handling
// Overload"): it rejects attempts locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// over the trailing window, capped at MaxRejectionProbability, so that a
// client sheds its own load while the dependency refuses work and stops as
// it recovers. It is safe for concurrent use; one Throttle guards operations
// of any result type (see Policy for the typed view).
type Throttle struct {
	name       string
	k          float64
	maxP       float64
	minReq     int64
	n          int64
	width      time.Duration
	base       time.Time
	mask       uint32
	classifier Classifier
	rand       func() float64
	recorder   fault.ThrottleRecorder
	cfg        Config

	prob     atomic.Uint64 // math.Float64bits of the rejection probability in force
	reported atomic.Uint64 // the probability last reported to the recorder
	counts   []counts      // requests and accepts ever counted, striped
	armed    atomic.Bool   // the bucket timer is running

	mu    sync.Mutex
	cur   int64 // index of the bucket in force
	ring  []slot
	cumR  int64 // Σ requests at the last rotation
	cumA  int64 // Σ accepts at the last rotation
	timer *time.Timer
}

// counts is one stripe of counters, alone on its cache lines.
type counts struct {
	requests atomic.Int64
	accepts  atomic.Int64
	_        [112]byte
}

type slot struct {
	idx               int64
	requests, accepts int64
}

// New validates cfg and returns a Throttle that rejects nothing until its
// window holds MinRequests requests.
func New(cfg Config) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := cfg.section().WithDefaults()
	n := cfg.Buckets
	if n == 0 {
		n = DefaultBuckets
	}
	// Eight counter stripes per CPU: callers pick one at random, and with
	// fewer, two CPUs met on one often enough to bounce its line.
	s := 1
	for s < 8*runtime.GOMAXPROCS(0) && s < maxStripes {
		s <<= 1
	}
	t := &Throttle{
		name:       cfg.Name,
		k:          p.K,
		maxP:       p.MaxRejectionProbability,
		minReq:     int64(p.MinRequests),
		n:          int64(n),
		width:      max(p.Window/time.Duration(n), 1),
		base:       time.Now(),
		mask:       uint32(s - 1),
		classifier: cfg.Classifier,
		rand:       cfg.Rand,
		counts:     make([]counts, s),
		ring:       make([]slot, n),
	}
	if t.classifier == nil {
		t.classifier = DefaultClassifier
	}
	if t.rand == nil {
		t.rand = rand.Float64
	}
	if r, ok := cfg.Recorder.(fault.ThrottleRecorder); ok {
		t.recorder = r
	}
	for i := range t.ring {
		t.ring[i].idx = math.MinInt64
	}
	t.cfg = Config{
		Name: cfg.Name, K: p.K, Window: p.Window, MaxRejectionProbability: p.MaxRejectionProbability,
		MinRequests: p.MinRequests, Buckets: n, Classifier: t.classifier, Rand: cfg.Rand, Recorder: cfg.Recorder,
	}
	return t, nil
}

// Config returns the effective settings, defaults filled in (the zero
// Config for a nil Throttle).
func (t *Throttle) Config() Config {
	if t == nil {
		return Config{}
	}
	return t.cfg
}

// Probability returns the rejection probability in force.
func (t *Throttle) Probability() float64 {
	if t == nil {
		return 0
	}
	return math.Float64frombits(t.prob.Load())
}

// Allow decides whether one attempt may go to the dependency. A rejection
// counts as a request (as the SRE algorithm specifies, so that the
// probability converges instead of oscillating); an admitted attempt is
// counted when its outcome is recorded with Record or Done. It reads no
// clock, takes no lock and allocates nothing.
func (t *Throttle) Allow() bool {
	if t == nil {
		return true
	}
	p := math.Float64frombits(t.prob.Load())
	if p == 0 || t.rand() >= p {
		return true
	}
	t.counts[rand.Uint32()&t.mask].requests.Add(1)
	t.activity()
	return false
}

// Record counts the outcome of an attempt Allow admitted.
func (t *Throttle) Record(o Outcome) {
	if t == nil {
		return
	}
	c := &t.counts[rand.Uint32()&t.mask]
	switch o {
	case Accepted:
		c.requests.Add(1)
		c.accepts.Add(1)
	case Refused:
		c.requests.Add(1)
	default:
		return
	}
	t.activity()
}

// Done records the outcome of an attempt Allow admitted that ended with err
// under ctx: a success is accepted; an error is classified (Config.
// Classifier), except that the caller's own context ending is ignored.
func (t *Throttle) Done(ctx context.Context, err error) {
	if t == nil {
		return
	}
	t.Record(t.classify(ctx, err))
}

// Admit is Allow for an attempt under ctx: nil when it may go, else a
// *fault.ThrottledError (code THROTTLED, 503) carrying the probability in
// force. The recorder, if any, is told of every rejection and of each new
// probability.
func (t *Throttle) Admit(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if t.Allow() {
		if t.recorder != nil {
			if bits := t.prob.Load(); bits != t.reported.Load() {
				t.reported.Store(bits)
				t.recorder.RecordThrottle(ctx, t.name, false, math.Float64frombits(bits))
			}
		}
		return nil
	}
	p := t.Probability()
	if t.recorder != nil {
		// Stored only when it changes: every rejection writing it would
		// bounce the line every decision reads the probability from.
		if bits := math.Float64bits(p); t.reported.Load() != bits {
			t.reported.Store(bits)
		}
		t.recorder.RecordThrottle(ctx, t.name, true, p)
	}
	return fault.NewThrottledError(t.name, fault.CorrelationID(ctx), p, t.width)
}

// activity starts the bucket timer if it is not running.
func (t *Throttle) activity() {
	if !t.armed.Load() {
		t.arm()
	}
}

func (t *Throttle) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.armed.Load() {
		return
	}
	now := time.Since(t.base)
	// The timer stopped at a bucket end with nothing left in the window:
	// what was counted since, the outcome that calls arm included, was
	// counted in the bucket of now (but for an outcome that raced with the
	// timer stopping, which then counts a little late). Closed into the
	// bucket in force when the timer stopped, it would leave the window
	// early, or at once after an idle window.
	t.cur = max(t.cur, int64(now/t.width))
	t.rotateLocked(t.cur)
	next := t.untilNext(now)
	if t.timer == nil {
		t.timer = time.AfterFunc(next, t.tick)
	} else {
		t.timer.Reset(next)
	}
	t.armed.Store(true)
}

// untilNext returns the time from now (since base) to the next bucket
// boundary.
func (t *Throttle) untilNext(now time.Duration) time.Duration {
	return t.width - now%t.width
}

// tick runs at each bucket boundary while the window holds anything: it
// closes the bucket and recomputes the probability.
func (t *Throttle) tick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Since(t.base)
	if t.rotateLocked(int64(now / t.width)) {
		t.timer.Reset(t.untilNext(now))
		return
	}
	t.armed.Store(false)
}

// rotateLocked closes the bucket in force if bucket i has begun, recomputes
// the probability over the n buckets before i, and reports whether the
// window holds any request. Called with mu held.
func (t *Throttle) rotateLocked(i int64) bool {
	if i > t.cur {
		var r, a int64
		for k := range t.counts {
			r += t.counts[k].requests.Load()
			a += t.counts[k].accepts.Load()
		}
		t.ring[t.cur%t.n] = slot{idx: t.cur, requests: r - t.cumR, accepts: a - t.cumA}
		t.cumR, t.cumA = r, a
		t.cur = i
	}
	var r, a int64
	for _, s := range t.ring {
		if s.idx >= t.cur-t.n && s.idx < t.cur {
			r += s.requests
			a += s.accepts
		}
	}
	p := 0.0
	if r >= t.minReq {
		p = min(max((float64(r)-t.k*float64(a))/float64(r+1), 0), t.maxP)
	}
	t.prob.Store(math.Float64bits(p))
	return r > 0
}

// Run runs op under the throttle: a rejected call returns a
// *fault.ThrottledError without running op; an admitted one's outcome is
// recorded. It makes a Throttle a fault.Guard.
func (t *Throttle) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := execute(ctx, t, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// View is the typed face of a Throttle: a fault.Policy[T] (and a
// fault.Guard) for operations returning T. Make one with Policy.
type View[T any] struct{ t *Throttle }

// Policy returns the typed view of t for operations returning T. A view of
// a nil Throttle runs operations unthrottled.
func Policy[T any](t *Throttle) View[T] { return View[T]{t} }

// Execute runs next under the throttle.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	return execute(ctx, v.t, next)
}

// Run is Throttle.Run, so a View is also a fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.t.Run(ctx, op)
}

// Throttle returns the Throttle the view runs.
func (v View[T]) Throttle() *Throttle { return v.t }

var (
	_ fault.Guard       = (*Throttle)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)

func execute[T any](ctx context.Context, t *Throttle, op func(context.Context) (T, error)) (T, error) {
	var zero T
	if op == nil {
		return zero, fault.ErrNilOperation
	}
	if ctx == nil {
		return zero, fault.ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		return zero, err // a done context consumes nothing and is not counted
	}
	if err := t.Admit(ctx); err != nil {
		return zero, err
	}
	v, err := op(ctx) // a panic propagates; the attempt is not counted
	t.Done(ctx, err)
	return v, err
}
