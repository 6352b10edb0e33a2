package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

func TestOverview(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "GET", "/api/v1/policies", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", r.status, r.header.Get("Content-Type"))
	}
	doc := decode[admin.Overview](t, r.body)
	if doc.SchemaVersion != admin.SchemaVersion || len(doc.Policies) != 2 || doc.Policies[0].Name != "pay" || doc.Policies[1].Name != "search" {
		t.Fatalf("overview %+v", doc)
	}
	p := doc.Policies[0]
	if p.Status != admin.StatusOK || p.CircuitBreaker == nil || p.CircuitBreaker.State != "closed" || p.Bulkhead == nil ||
		p.RateLimiter == nil || p.Retry == nil || p.Timeout == nil || p.Timeout.AttemptMs != 1000 {
		t.Fatalf("pay %+v", p)
	}
	if p.CircuitBreaker.FailureThreshold != 2 || p.Bulkhead.MaxConcurrent != 2 || p.RateLimiter.Available != 100 {
		t.Fatalf("effective configuration missing: %+v %+v %+v", p.CircuitBreaker, p.Bulkhead, p.RateLimiter)
	}
	if doc.Controls.Enabled || doc.Controls.Allowed || len(p.Actions) != 0 {
		t.Fatalf("controls shown without an authorizer: %+v %v", doc.Controls, p.Actions)
	}
}

func TestBreakerOpensAndIsReported(t *testing.T) {
	f := newFixture(t)
	f.fail(3) // two failures open it, the third is rejected
	doc := decode[admin.PolicyDocument](t, f.do(t, "GET", "/api/v1/policies/pay", nil).body)
	p := doc.Policy
	if p.Status != admin.StatusOpen || p.CircuitBreaker.State != "open" || p.CircuitBreaker.OpenedAt == nil ||
		p.CircuitBreaker.HalfOpenAt == nil || p.CircuitBreaker.LastTransitionAt == nil {
		t.Fatalf("after tripping: %+v %+v", p, p.CircuitBreaker)
	}
	if p.Executions.Total != 3 || p.Executions.Failures != 2 || p.Executions.RejectedBy["circuit_open"] != 1 {
		t.Fatalf("executions %+v", p.Executions)
	}
	var kinds []string
	for _, e := range p.RecentEvents {
		kinds = append(kinds, e.Kind+":"+e.State+e.Reason)
	}
	if got := strings.Join(kinds, ","); got != "transition:open,rejection:circuit_open" {
		t.Fatalf("recent events %s", got)
	}
}

func TestControlsOffWithoutAuthorizer(t *testing.T) {
	f := newFixture(t)
	for _, a := range []string{"breaker/open", "breaker/close", "breaker/reset", "limiter/reset", "budget/reset"} {
		r := f.do(t, "POST", "/api/v1/policies/pay/"+a, nil)
		checkProblem(t, r, http.StatusForbidden, "no authorizer")
	}
	if s := f.exec.Registry(); s == nil {
		t.Fatal("no registry")
	}
	p, _ := f.exec.Registry().Patterns("pay")
	if p.CircuitBreaker.State() != circuitbreaker.StateClosed {
		t.Fatal("a refused control changed the breaker")
	}
}

func TestControls(t *testing.T) {
	f := newFixture(t, admin.WithAuthorizer(allow))
	pat, _ := f.exec.Registry().Patterns("pay")
	b := pat.CircuitBreaker
	doc := decode[admin.Overview](t, f.do(t, "GET", "/api/v1/policies", nil).body)
	if !doc.Controls.Allowed || len(doc.Policies[0].Actions) != 4 {
		t.Fatalf("controls %+v actions %v", doc.Controls, doc.Policies[0].Actions)
	}
	r := f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader(`{"reason":"shed the dependency"}`), "Content-Type", "application/json")
	if r.status != 200 || b.State() != circuitbreaker.StateOpen || !b.Metrics().Forced {
		t.Fatalf("force open: %d %s, state %v", r.status, r.body, b.State())
	}
	got := decode[admin.PolicyDocument](t, r.body)
	last := got.Policy.RecentEvents[len(got.Policy.RecentEvents)-1]
	if last.Kind != admin.KindControl || last.Actor != "alice" || last.Action != "breaker/open" || last.Note != "shed the dependency" || last.State != "open" {
		t.Fatalf("audit event %+v", last)
	}
	if l := f.logs.String(); !strings.Contains(l, "control used") || !strings.Contains(l, "actor=alice") || !strings.Contains(l, "action=breaker/open") {
		t.Fatalf("audit log %q", l)
	}
	if r := f.do(t, "POST", "/api/v1/policies/pay/breaker/close", nil); r.status != 200 || b.State() != circuitbreaker.StateClosed {
		t.Fatalf("force closed: %d", r.status)
	}
	if r := f.do(t, "POST", "/api/v1/policies/pay/breaker/reset", nil); r.status != 200 || b.Metrics().Forced {
		t.Fatalf("reset: %d", r.status)
	}
	for range 100 {
		pat.RateLimiter.Allow()
	}
	if r := f.do(t, "POST", "/api/v1/policies/pay/limiter/reset", nil); r.status != 200 || pat.RateLimiter.Available() < 99 {
		t.Fatalf("limiter reset: %d, available %v", r.status, pat.RateLimiter.Available())
	}
	// A control the policy lacks, an unknown action, an unknown policy.
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/search/breaker/open", nil), 404, "no control")
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/explode", nil), 404, "no control")
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/nope/breaker/open", nil), 404, "no policy")
}

func TestControlRefusals(t *testing.T) {
	deny := func(*http.Request) (string, error) { return "", errors.New("token expired at db-7:5432") }
	f := newFixture(t, admin.WithAuthorizer(deny))
	r := f.do(t, "POST", "/api/v1/policies/pay/breaker/open", nil)
	checkProblem(t, r, 403, "not authorized")
	if strings.Contains(string(r.body), "db-7") {
		t.Fatalf("the authorizer's error leaked: %s", r.body)
	}
	doc := decode[admin.Overview](t, f.do(t, "GET", "/api/v1/policies", nil).body)
	if doc.Controls.Allowed || len(doc.Policies[0].Actions) != 0 {
		t.Fatalf("controls shown to a refused requester: %+v", doc.Controls)
	}

	f = newFixture(t, admin.WithAuthorizer(allow))
	// Cross-site: a browser says so in Sec-Fetch-Site.
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/open", nil, "Sec-Fetch-Site", "cross-site"), 403, "cross-origin")
	checkProblem(t, f.do(t, "POST", "http://admin.example/api/v1/policies/pay/breaker/open", nil, "Origin", "http://evil.example"), 403, "cross-origin")
	// GET never changes state.
	r = f.do(t, "GET", "/api/v1/policies/pay/breaker/open", nil)
	checkProblem(t, r, 405, "use POST")
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	// Bodies.
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader("{")), 400, "JSON object")
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader(`{"reason":"x","extra":1}`)), 400, "JSON object")
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader(`{} {}`)), 400, "JSON object")
	checkProblem(t, f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader(strings.Repeat("x", 5000))), 400, "at most")
	pat, _ := f.exec.Registry().Patterns("pay")
	if pat.CircuitBreaker.State() != circuitbreaker.StateClosed {
		t.Fatal("a refused control changed the breaker")
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	checkProblem(t, f.do(t, "GET", "/api/v1/policies/nope", nil), 404, `no policy named "nope"`)
	checkProblem(t, f.do(t, "GET", "/nothing", nil), 404, "no such page")
	checkProblem(t, f.do(t, "GET", "/api/v2/policies", nil), 404, "no such page")
	checkProblem(t, f.do(t, "GET", "/api/v1//policies", nil), 400, "path")
	for _, p := range []string{"/", "/api/v1/policies", "/api/v1/policies/pay", "/api/v1/events", "/api/v1/schema.json"} {
		r := f.do(t, "DELETE", p, nil)
		checkProblem(t, r, 405, "read-only")
		if r.header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s: Allow %q", p, r.header.Get("Allow"))
		}
	}
	// HEAD is a read everywhere, the stream included: headers, then done.
	for _, p := range []string{"/", "/api/v1/policies", "/api/v1/events", "/api/v1/stream", "/api/v1/schema.json"} {
		if r := f.do(t, http.MethodHead, p, nil); r.status != 200 {
			t.Fatalf("HEAD %s: %d", p, r.status)
		}
	}
	if ct := f.do(t, http.MethodHead, "/api/v1/stream", nil).header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("HEAD stream: Content-Type %q", ct)
	}
	// Names are escaped in the URL; an echoed name is clipped and cleaned.
	long := strings.Repeat("é", 300) + "\x01"
	r := f.do(t, "GET", "/api/v1/policies/"+strings.ReplaceAll(long, "\x01", "%01"), nil)
	if r.status != 404 || strings.Contains(string(r.body), `\u0001`) || len(r.body) > 1000 {
		t.Fatalf("long name: %d %s", r.status, r.body)
	}
}

func TestPage(t *testing.T) {
	f := newFixture(t, admin.WithTitle("shop <prod>"))
	r := f.do(t, "GET", "/", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %q", r.status, r.header.Get("Content-Type"))
	}
	body := string(r.body)
	if !strings.Contains(body, "shop &lt;prod&gt;") || strings.Contains(body, "shop <prod>") {
		t.Fatal("title not escaped")
	}
	// Self-contained: nothing is loaded from anywhere else.
	for _, bad := range []string{"http://", "https://", "src=", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Fatalf("the page refers to %q", bad)
		}
	}
	c := r.header.Get("Content-Security-Policy")
	if !strings.Contains(c, "default-src 'none'") || !strings.Contains(c, "script-src 'sha256-") || strings.Contains(c, "unsafe-inline") {
		t.Fatalf("CSP %q", c)
	}
}

func TestStandaloneObjects(t *testing.T) {
	b, _ := circuitbreaker.New(circuitbreaker.Config{Name: "ledger"})
	bh, _ := bulkhead.New(bulkhead.Config{Name: "ledger", MaxConcurrent: 1})
	l, _ := ratelimit.New(ratelimit.Config{Name: "ledger", Rate: 1, Window: 1e9})
	k, _ := ratelimit.NewKeyed(ratelimit.Config{Name: "per-user", Rate: 1, Window: 1e9}, ratelimit.KeyedConfig{})
	bud := &resettableBudget{}
	h, err := admin.New(admin.WithBreaker(b), admin.WithBulkhead(bh), admin.WithLimiter(l), admin.WithKeyedLimiter(k),
		admin.WithBudget("ledger", bud), admin.WithAuthorizer(allow))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	slot, err := bh.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Release()
	_ = k.Allow("user-1")
	doc := decode[admin.Overview](t, f.do(t, "GET", "/api/v1/policies", nil).body)
	if len(doc.Policies) != 2 || doc.Events {
		t.Fatalf("policies %+v", doc.Policies)
	}
	led := doc.Policies[0]
	if led.CircuitBreaker == nil || led.Bulkhead == nil || !led.Bulkhead.Full || led.RateLimiter == nil || led.Budget == nil || !led.Budget.Resettable {
		t.Fatalf("ledger %+v", led)
	}
	if led.Status != admin.StatusDegraded || len(led.Actions) != 5 {
		t.Fatalf("ledger status %s actions %v", led.Status, led.Actions)
	}
	if pu := doc.Policies[1]; pu.KeyedLimiter == nil || pu.KeyedLimiter.Keys != 1 {
		t.Fatalf("per-user %+v", pu)
	}
	if r := f.do(t, "POST", "/api/v1/policies/ledger/budget/reset", nil); r.status != 200 || bud.resets != 1 {
		t.Fatalf("budget reset: %d %s", r.status, r.body)
	}
}

type resettableBudget struct{ resets int }

func (*resettableBudget) Deposit()          {}
func (*resettableBudget) TryWithdraw() bool { return true }
func (b *resettableBudget) Reset()          { b.resets++ }

func TestInvalidOptions(t *testing.T) {
	unnamed, _ := ratelimit.New(ratelimit.Config{Rate: 1, Window: 1e9})
	for _, tc := range []struct {
		opt  admin.Option
		want string
	}{
		{admin.WithRegistry(nil), "WithRegistry(nil)"},
		{admin.WithBreaker(nil), "WithBreaker(nil)"},
		{admin.WithLimiter(unnamed), "no name"},
		{admin.WithAuthorizer(nil), "WithAuthorizer(nil)"},
		{admin.WithTitle(""), "WithTitle"},
		{admin.WithRecentEvents(-1), "WithRecentEvents(-1)"},
		{admin.WithHeartbeat(0), "WithHeartbeat(0s)"},
		{admin.WithEvents(nil), "WithEvents(nil)"},
	} {
		if _, err := admin.New(tc.opt); !errors.Is(err, admin.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want ErrInvalidOption naming %s", err, tc.want)
		}
	}
	if _, err := admin.NewEvents(admin.WithCapacity(0)); !errors.Is(err, admin.ErrInvalidOption) {
		t.Errorf("WithCapacity(0): %v", err)
	}
}

// TestRuleNothingOnDefaultServeMux: importing the package and creating a
// Handler registers nothing on http.DefaultServeMux.
func TestRuleNothingOnDefaultServeMux(t *testing.T) {
	newFixture(t)
	for _, p := range []string{"/", "/debug/fault/", "/api/v1/policies", "/debug/fault/api/v1/policies"} {
		r, _ := http.NewRequest(http.MethodGet, p, nil)
		if _, pattern := http.DefaultServeMux.Handler(r); pattern != "" {
			t.Fatalf("DefaultServeMux has %q", pattern)
		}
	}
}

type panickyBudget struct{ resettableBudget }

func (*panickyBudget) Reset() { panic("budget store unreachable at redis://:hunter2@10.0.0.7") }

// TestRulePanicsBecome500: a panicking authorizer or control is recovered:
// a 500 problem that says nothing of the panic, logged, and the Handler
// keeps working.
func TestRulePanicsBecome500(t *testing.T) {
	f := newFixture(t, admin.WithBudget("pay", &panickyBudget{}), admin.WithAuthorizer(allow))
	r := f.do(t, http.MethodPost, "/api/v1/policies/pay/budget/reset", nil)
	checkProblem(t, r, 500, "could not be served")
	if strings.Contains(string(r.body), "hunter2") {
		t.Fatalf("the panic leaked: %s", r.body)
	}
	if !strings.Contains(f.logs.String(), "recovered a panic") {
		t.Fatalf("not logged: %q", f.logs.String())
	}
	g := newFixture(t, admin.WithAuthorizer(func(*http.Request) (string, error) { panic("authorizer bug") }))
	checkProblem(t, g.do(t, http.MethodGet, "/api/v1/policies", nil), 500, "could not be served")
	if r := f.do(t, http.MethodGet, "/api/v1/policies/pay", nil); r.status != 200 {
		t.Fatalf("after a panic: %d", r.status)
	}
}
