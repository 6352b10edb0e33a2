package fault_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
)

func TestThrottledErrorMatches(t *testing.T) {
	err := error(fault.NewThrottledError("svc", "cid", 0.5, 0))
	if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeThrottled}) {
		t.Error("errors.Is by code failed")
	}
	if !errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
		t.Error("errors.Is by app code failed")
	}
	var te *fault.ThrottledError
	if !errors.As(err, &te) || te.Probability != 0.5 {
		t.Errorf("errors.As: %v", te)
	}
	if got := fault.CodeOf(err).HTTPStatus(); got != http.StatusServiceUnavailable {
		t.Errorf("status %d", got)
	}
	if !fault.CodeOf(err).Rejection() {
		t.Error("THROTTLED is a rejection")
	}
}

func TestRuleOverloadSectionsValidate(t *testing.T) {
	nan := 0.0
	nan /= nan
	p := fault.PolicyConfig{
		Name:     "p",
		Budget:   &fault.BudgetPolicyConfig{Ratio: -1, MinPerSecond: nan, Window: -1},
		Hedge:    &fault.HedgePolicyConfig{MaxHedges: 11, Percentile: 1},
		Throttle: &fault.ThrottlePolicyConfig{K: 0.5, MaxRejectionProbability: 2, MinRequests: -1},
	}
	err := p.Validate()
	for _, f := range []string{"Budget.Ratio", "Budget.MinPerSecond", "Budget.Window", "Hedge.MaxHedges", "Hedge.Percentile", "Throttle.K", "Throttle.MaxRejectionProbability", "Throttle.MinRequests"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s not reported: %v", f, err)
		}
	}
	ok := fault.PolicyConfig{Name: "p", Budget: &fault.BudgetPolicyConfig{}, Hedge: &fault.HedgePolicyConfig{Delay: 1}, Throttle: &fault.ThrottlePolicyConfig{}}
	if err := ok.Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

func TestOverloadSectionsJSON(t *testing.T) {
	p, err := fault.ParsePolicy([]byte(`{"name":"p","budget":{"ratio":0.2,"window":"5s"},"hedge":{"delay":"50ms","maxHedges":2},"throttle":{"k":2,"window":"1m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Budget.Window.String() != "5s" || p.Hedge.MaxHedges != 2 || p.Throttle.K != 2 {
		t.Errorf("decoded %+v %+v %+v", p.Budget, p.Hedge, p.Throttle)
	}
	if _, err := fault.ParsePolicy([]byte(`{"name":"p","hedge":{"delay":"50ms","bogus":1}}`)); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown field: %v", err)
	}
}
