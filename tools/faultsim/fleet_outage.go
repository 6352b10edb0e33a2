package faultsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// FleetOutageScenario selects the fleet outage experiment (faultsim
// -scenario fleet-outage): a dependency behind several instances dies and
// heals; local breakers alone against local + fleet breakers.
const FleetOutageScenario = "fleet-outage"

// The fleet outage experiment's strategies.
const (
	OutageLocal = "local"       // each instance's breaker learns alone
	OutageFleet = "local+fleet" // fault/fleet.Breaker: instances warn each other
)

// Fleet outage parameters: 8 instances, two busy (400 requests/s) and six
// quiet (40/s); breakers open after 50 consecutive failures for 1s; the
// fleet syncs every 50ms and opens on a quorum of 2.
var outageRates = []float64{400, 400, 40, 40, 40, 40, 40, 40}

const (
	outageThreshold = 50
	outageOpen      = time.Second
	outageSync      = 50 * time.Millisecond
	outageHealthy   = time.Second
	outageDown      = 3 * time.Second
	outageHealed    = 2 * time.Second
)

// OutageResult is the outcome of the fleet outage experiment.
type OutageResult struct {
	Instances  int              `json:"instances"`
	Redis      string           `json:"redis"`
	Strategies []OutageStrategy `json:"strategies"`
}

// OutageStrategy is one strategy's run.
type OutageStrategy struct {
	Name string `json:"name"`
	// ReceivedDown is what the dead dependency received during the outage.
	ReceivedDown int `json:"received_during_outage"`
	// Trials is what it received, during the outage, from instances whose
	// breaker had already opened once (half-open trials).
	Trials int `json:"trials_during_outage"`
	// Recovery is, after the dependency healed, the longest time an
	// instance waited for its first success.
	Recovery time.Duration `json:"recovery_ns"`
	// SyncErrors counts failed fleet syncs (local+fleet).
	SyncErrors uint64 `json:"sync_errors,omitempty"`
}

// RunFleetOutage runs both strategies against the given Redis ("" starts an
// embedded one).
func RunFleetOutage(ctx context.Context, redisAddr string) (*OutageResult, error) {
	addr, where, stop, err := fleetRedis(redisAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	res := &OutageResult{Instances: len(outageRates), Redis: where}
	for _, name := range []string{OutageLocal, OutageFleet} {
		st, err := runOutage(ctx, addr, name)
		if err != nil {
			return nil, err
		}
		res.Strategies = append(res.Strategies, st)
	}
	return res, nil
}

var errDependencyDown = errors.New("dependency down")

func runOutage(ctx context.Context, addr, name string) (OutageStrategy, error) {
	n := len(outageRates)
	var start time.Time
	downAt, healAt := outageHealthy, outageHealthy+outageDown
	total := healAt + outageHealed
	var receivedDown, trials atomic.Int64
	opened := make([]atomic.Bool, n)
	firstOK := make([]atomic.Int64, n) // ns after heal of the first success; 0: none yet

	record := "outage-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	type instance struct {
		run   func(ctx context.Context, op func(ctx context.Context) error) error
		fleet *fleet.Breaker
	}
	var insts []instance
	var clients []*redis.Client
	defer func() {
		for _, in := range insts {
			if in.fleet != nil {
				_ = in.fleet.Close(context.Background())
			}
		}
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for i := range n {
		lc := circuitbreaker.Config{Name: record, FailureThreshold: outageThreshold, Timeout: outageOpen,
			OnStateChange: func(_ string, _, to circuitbreaker.State) {
				if to == circuitbreaker.StateOpen {
					opened[i].Store(true)
				}
			}}
		if name == OutageLocal {
			b, err := circuitbreaker.New(lc)
			if err != nil {
				return OutageStrategy{}, err
			}
			insts = append(insts, instance{run: b.Run})
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: addr})
		clients = append(clients, c)
		fb, err := fleet.NewBreaker(lc, fleet.BreakerConfig{Name: record, Client: c, Instance: "i" + strconv.Itoa(i),
			Quorum: 2, QuorumWindow: outageOpen, OpenFor: outageOpen, SyncInterval: outageSync, StoreTimeout: 200 * time.Millisecond})
		if err != nil {
			return OutageStrategy{}, err
		}
		insts = append(insts, instance{run: fb.Run, fleet: fb})
	}

	start = time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			gap := time.Duration(float64(time.Second) / outageRates[i])
			for next := time.Duration(0); next < total; next += gap {
				if d := time.Until(start.Add(next)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				wasOpen := opened[i].Load()
				_ = insts[i].run(ctx, func(context.Context) error {
					now := time.Since(start)
					if now >= downAt && now < healAt {
						receivedDown.Add(1)
						if wasOpen {
							trials.Add(1)
						}
						return errDependencyDown
					}
					if now >= healAt && firstOK[i].Load() == 0 {
						firstOK[i].Store(int64(max(now-healAt, 1)))
					}
					return nil
				})
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return OutageStrategy{}, err
	}
	st := OutageStrategy{Name: name, ReceivedDown: int(receivedDown.Load()), Trials: int(trials.Load())}
	for i := range n {
		r := time.Duration(firstOK[i].Load())
		if r == 0 {
			r = outageHealed // never recovered within the run
		}
		st.Recovery = max(st.Recovery, r)
	}
	for _, in := range insts {
		if in.fleet != nil {
			st.SyncErrors += in.fleet.Stats().SyncErrors
		}
	}
	return st, nil
}

// Check verifies what the experiment shows: with the fleet breaker the dead
// dependency receives at most half of what it receives with local breakers
// alone; half-open trials stay bounded (at most one per instance per open
// period, plus one); recovery is no slower than local-only, within one sync
// interval plus 100ms of scheduling noise.
func (r *OutageResult) Check() error {
	var local, fl OutageStrategy
	for _, s := range r.Strategies {
		switch s.Name {
		case OutageLocal:
			local = s
		case OutageFleet:
			fl = s
		}
	}
	var errs []error
	if 2*fl.ReceivedDown > local.ReceivedDown {
		errs = append(errs, fmt.Errorf("fleet-outage: the dead dependency received %d with the fleet breaker, more than half of local-only's %d", fl.ReceivedDown, local.ReceivedDown))
	}
	bound := r.Instances * (int(outageDown/outageOpen) + 1)
	if fl.Trials > bound {
		errs = append(errs, fmt.Errorf("fleet-outage: %d half-open trials with the fleet breaker, more than %d", fl.Trials, bound))
	}
	if fl.Recovery > local.Recovery+outageSync+100*time.Millisecond {
		errs = append(errs, fmt.Errorf("fleet-outage: recovery took %v with the fleet breaker, %v local-only", fl.Recovery, local.Recovery))
	}
	return errors.Join(errs...)
}

// WriteOutageTable prints the experiment's table.
func WriteOutageTable(w io.Writer, r *OutageResult) {
	fmt.Fprintf(w, "fleet-outage: %d instances (2 busy at 400/s, 6 quiet at 40/s); the dependency is healthy %v, down %v, healed %v; breakers open after %d failures for %v; fleet quorum 2, sync every %v; %s\n\n",
		r.Instances, outageHealthy, outageDown, outageHealed, outageThreshold, outageOpen, outageSync, r.Redis)
	fmt.Fprintf(w, "%-12s %22s %20s %10s\n", "strategy", "received while down", "half-open trials", "recovery")
	for _, s := range r.Strategies {
		fmt.Fprintf(w, "%-12s %22d %20d %10v\n", s.Name, s.ReceivedDown, s.Trials, s.Recovery.Round(time.Millisecond))
	}
}

// WriteOutageJSON writes the result as indented JSON.
func WriteOutageJSON(w io.Writer, r *OutageResult) error {
	return writeJSON(w, r)
}
