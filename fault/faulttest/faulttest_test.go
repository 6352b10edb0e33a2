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
		return faulttest.Instance{Policy: pass, Guard: passGuard{}}
	})
}

func TestChainConforms(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		return faulttest.Instance{Policy: fault.Chain[int](pass, nil, fault.AsPolicy[int](passGuard{}))}
	})
}

// pass and passGuard run the operation unless the context is already done.
var pass = fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return next(ctx)
})

type passGuard struct{}

func (passGuard) Run(ctx context.Context, op func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return op(ctx)
}
