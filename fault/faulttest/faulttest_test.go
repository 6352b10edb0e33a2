package faulttest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The kit's own baseline: a pass-through policy and a guard adapted from a
// function both conform.
func TestPassThroughConforms(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		p := fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return next(ctx) })
		return faulttest.Instance{Policy: p, Guard: passGuard{}}
	})
}

func TestChainConforms(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		pass := fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return next(ctx) })
		return faulttest.Instance{Policy: fault.Chain[int](pass, nil, fault.AsPolicy[int](passGuard{}))}
	})
}

type passGuard struct{}

func (passGuard) Run(ctx context.Context, op func(context.Context) error) error { return op(ctx) }
