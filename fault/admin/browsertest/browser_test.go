package browsertest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/executor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chromium returns the browser's path, failing under CI=true and skipping
// elsewhere when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("CHROMIUM"); path != "" {
		if _, err := os.Stat(path); err != nil {
			unavailable(t, fmt.Sprintf("CHROMIUM=%s: %v", path, err))
		}
		return path
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		unavailable(t, "no chromium at "+debian+" nor on PATH")
	}
	return path
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser test cannot run under CI=true: %s (install the chromium package)", why)
	}
	t.Skipf("skipping the browser test: %s; install chromium (apt-get install chromium) or set CHROMIUM=/path/to/chrome, and CI=true makes this a failure", why)
}

// browser starts a headless Chromium with a fresh profile and returns a tab
// context; the browser stops at the end of the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first call starts the browser; it must not carry a timeout (that
	// would stop the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		unavailable(t, "chromium did not start: "+err.Error())
	}
	return ctx
}

type site struct {
	srv  *httptest.Server
	exec *executor.Executor[int]
	url  string // the page
}

func (s *site) breaker(t *testing.T) *circuitbreaker.Breaker {
	p, ok := s.exec.Registry().Patterns("pay")
	if !ok {
		t.Fatal("no policy pay")
	}
	return p.CircuitBreaker
}

func newSite(t *testing.T, opts ...admin.Option) *site {
	t.Helper()
	ev, err := admin.NewEvents()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = ev
	cfg.LoggerEnabled = false
	ex, err := executor.New[int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []fault.PolicyConfig{
		{Name: "pay", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 3, SuccessThreshold: 1, HalfOpenMaxCalls: 1, Timeout: time.Minute},
			Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 4, QueueSize: 2}, Timeout: &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second}},
		{Name: "search", RateLimit: &fault.RateLimitPolicyConfig{Rate: 50, Window: time.Second, BurstSize: 50},
			Retry: &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond}},
		{Name: "inventory", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}},
		{Name: "catalog", Hedge: &fault.HedgePolicyConfig{Delay: 20 * time.Millisecond, MaxHedges: 2}},
	} {
		if err := ex.RegisterPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	h, err := admin.New(append([]admin.Option{admin.WithRegistry(ex.Registry()), admin.WithEvents(ev),
		admin.WithLogger(slog.New(slog.DiscardHandler)), admin.WithTitle("shop: live policies")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/fault/", http.StripPrefix("/debug/fault", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close() // ends the page's event stream, which srv.Close would wait for
		srv.Close()
	})
	return &site{srv: srv, exec: ex, url: srv.URL + "/debug/fault/"}
}

func (s *site) failPay(n int) {
	for range n {
		s.exec.Do(context.Background(), "pay", func(context.Context) (int, error) { return 0, errors.New("down") })
	}
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, ctx, what, chromedp.Steps(steps...))
}

func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ADMIN_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

const payState = `article.policy[data-name="pay"] .state`

// TestPageLiveAndControls loads the page, trips the breaker by failing calls
// and sees it open without a reload, then forces it closed from the page.
func TestPageLiveAndControls(t *testing.T) {
	ctx := browser(t)
	s := newSite(t, admin.WithAuthorizer(func(*http.Request) (string, error) { return "browser-test", nil }))
	s.exec.Do(context.Background(), "search", func(context.Context) (int, error) { return 1, nil })

	run(t, ctx, "load the page",
		chromedp.Navigate(s.url),
		visible(`article.policy[data-name="inventory"]`),
		visible(payState+`[data-state="closed"]`),
		visible(`#live.on`)) // the event stream is connected
	state := get(t, ctx, "read the state", chromedp.Text(chromedp.CSS(payState)))
	if state != "CLOSED" {
		t.Fatalf("pay shows %q, want CLOSED", state)
	}
	screenshot(t, ctx, "1-closed.png")

	s.failPay(4) // three failures open it; the fourth is rejected
	run(t, ctx, "see the breaker open without a reload",
		visible(payState+`[data-state="open"]`),
		visible(`#events li[data-kind="transition"]`))
	status := get(t, ctx, "read the card", chromedp.AttributeValue(chromedp.CSS(`article.policy[data-name="pay"]`), "data-status")).Value
	state = get(t, ctx, "read the state", chromedp.Text(chromedp.CSS(payState)))
	if state != "OPEN" || status != "open" {
		t.Fatalf("after tripping: state %q, card status %q", state, status)
	}
	screenshot(t, ctx, "2-open.png")

	closeBtn := `article.policy[data-name="pay"] button[data-action="breaker/close"]`
	run(t, ctx, "force the breaker closed from the page",
		chromedp.Click(chromedp.CSS(closeBtn)), // arms the button
		visible(closeBtn+`.armed`),             // which asks for confirmation
		chromedp.Click(chromedp.CSS(closeBtn)), // confirms
		visible(payState+`[data-state="closed"]`))
	state = get(t, ctx, "read the state", chromedp.Text(chromedp.CSS(payState)))
	if state != "CLOSED (FORCED)" {
		t.Fatalf("after the control: %q", state)
	}
	if b := s.breaker(t); b.State() != circuitbreaker.StateClosed || !b.Metrics().Forced {
		t.Fatalf("breaker %v forced=%v after the control", b.State(), b.Metrics().Forced)
	}
	run(t, ctx, "see the audit event", visible(`#events li[data-kind="control"]`))
	screenshot(t, ctx, "3-forced.png")
}

// TestPageWithoutAuthorizer: no control is shown and a forged POST, from
// the page's own origin, gets 403.
func TestPageWithoutAuthorizer(t *testing.T) {
	ctx := browser(t)
	s := newSite(t)
	run(t, ctx, "load the page", chromedp.Navigate(s.url), visible(payState))
	buttons := get(t, ctx, "count buttons", chromedp.Evaluate[int](`document.querySelectorAll("button").length`))
	ctl := get(t, ctx, "read the header", chromedp.Text(chromedp.CSS(`#ctl`)))
	status := get(t, ctx, "forge a POST", chromedp.Evaluate[int](
		`fetch("api/v1/policies/pay/breaker/open", {method: "POST"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if buttons != 0 {
		t.Fatalf("%d buttons without an authorizer", buttons)
	}
	if !strings.Contains(ctl, "controls: off") {
		t.Fatalf("header says %q", ctl)
	}
	if status != 403 {
		t.Fatalf("forged POST from the page: %v, want 403", status)
	}
	if s.breaker(t).State() != circuitbreaker.StateClosed {
		t.Fatal("the forged POST changed the breaker")
	}
	screenshot(t, ctx, "4-readonly.png")
}

// TestPageShowsHedgeFigures: a policy with a Hedge section shows its delay
// and the hedges it started.
func TestPageShowsHedgeFigures(t *testing.T) {
	ctx := browser(t)
	s := newSite(t)
	var n atomic.Int32
	if _, err := s.exec.Do(context.Background(), "catalog", func(ctx context.Context) (int, error) {
		if n.Add(1) == 1 { // the first attempt waits until the hedge wins
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "load the page", chromedp.Navigate(s.url), visible(`article.policy[data-name="catalog"]`))
	text := get(t, ctx, "read the catalog policy", chromedp.Text(chromedp.CSS(`article.policy[data-name="catalog"]`)))
	for _, want := range []string{"hedge\ndelay\n20 ms", "hedges\n1\n", "max per call\n2"} {
		if !strings.Contains(strings.ToLower(text), want) {
			t.Fatalf("catalog policy shows %q, want it to mention %q", text, want)
		}
	}
}
