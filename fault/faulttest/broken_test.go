package faulttest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
)

// brokenPolicies are policies that break one rule each, and what the kit's
// failure output must say about them.
var brokenPolicies = map[string]struct {
	instance func() faulttest.Instance
	want     string
}{
	"LeaksSlotOnPanic": {func() faulttest.Instance {
		var held atomic.Int64
		p := fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			held.Add(1)
			v, err := next(ctx) // no defer: a panic leaves the slot held
			held.Add(-1)
			return v, err
		})
		return faulttest.Instance{Policy: p, Held: func() int { return int(held.Load()) }}
	}, "resources still held"},
	"SwallowsPanic": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (v int, err error) {
			defer func() {
				if recover() != nil {
					err = errors.New("recovered")
				}
			}()
			return next(ctx)
		})}
	}, "want the operation's own panic value"},
	"DropsError": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			v, _ := next(ctx)
			return v, nil
		})}
	}, "want one matching the operation's error"},
	"RetriesCallerCancellation": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			v, err := next(ctx)
			if err != nil {
				v, err = next(ctx)
			}
			return v, err
		})}
	}, "the caller's cancellation is never retried"},
	"DropsContextValues": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			return next(context.WithoutCancel(context.Background()))
		})}
	}, "want the caller's"},
	"CallbackPanicEscapes": {func() faulttest.Instance {
		newPolicy := func(rec fault.MetricsRecorder) fault.Policy[int] {
			return fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
				if err := ctx.Err(); err != nil {
					return 0, err
				}
				v, err := next(ctx)
				rec.RecordRetryAttempt(ctx, "p", 1) // not contained
				return v, err
			})
		}
		return faulttest.Instance{
			Policy: newPolicy(fault.NoOpMetricsRecorder{}),
			WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
				return faulttest.Instance{Policy: newPolicy(cb.Recorder)}
			},
		}
	}, "a successful operation's call panicked"},
	"RunsUnderDoneContext": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			return next(ctx) // no check of a context already done
		})}
	}, "the operation ran under a context already done"},
	"LeaksGoroutine": {func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			go func() { select {} }()
			return next(ctx)
		})}
	}, "deadlock"},
}

// TestBrokenPolicy runs the kit on one broken policy; it is meant to fail,
// and runs only inside TestKitCatchesBrokenPolicies's subprocess.
func TestBrokenPolicy(t *testing.T) {
	name := os.Getenv("FAULTTEST_BROKEN")
	if name == "" {
		t.Skip("run by TestKitCatchesBrokenPolicies")
	}
	faulttest.Run(t, brokenPolicies[name].instance)
}

// The kit must fail each broken policy, saying why: a kit that passed
// everything would prove nothing.
func TestKitCatchesBrokenPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary once per broken policy")
	}
	for name, c := range brokenPolicies {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenPolicy$", "-test.count=1")
			cmd.Env = append(os.Environ(), "FAULTTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a policy that %s:\n%s", name, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("the kit failed %s without saying %q:\n%s", name, c.want, out)
			}
		})
	}
}
