package consumer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/tools/internal/modproxy"
	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// A service that needs retries only requires fault/retry: it builds, runs,
// and its module graph holds no third-party module of another pattern or
// integration.
func TestRetryAlone(t *testing.T) {
	t.Parallel()
	w := repoWorld(t)
	v, _ := w.man.Version(retryDir)
	c := w.newConsumer(t, map[string]string{retryDir: v}, `package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

func main() {
	r, err := retry.New(retry.Config{MaxAttempts: 3, InitialInterval: time.Millisecond})
	if err != nil {
		panic(err)
	}
	calls := 0
	v, err := fault.Execute(retry.Policy[string](r), context.Background(), func(context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", errors.New("connection reset")
		}
		return "ok", nil
	})
	fmt.Println(v, err, calls)
}
`)
	if out := c.run(); out != "ok <nil> 3\n" {
		t.Fatalf("program output %q, want %q", out, "ok <nil> 3\n")
	}
	assertNoFamily(t, "fault/retry alone", c.modules(), families...)
}

// A service that composes the patterns requires fault/executor: a policy
// with all five patterns runs; the patterns' three third-party modules come
// along, and no telemetry, gRPC, Redis or Prometheus.
func TestExecutorWithAllFivePatterns(t *testing.T) {
	t.Parallel()
	w := repoWorld(t)
	v, _ := w.man.Version("fault/executor")
	c := w.newConsumer(t, map[string]string{"fault/executor": v}, executorProgram)
	if out := c.run(); out != executorOutput {
		t.Fatalf("program output %q, want %q", out, executorOutput)
	}
	mods := c.modules()
	assertNoFamily(t, "fault/executor", mods, otel, grpc, redis, prometheus)
	assertFamilies(t, "fault/executor (built)", c.built(), gobreaker, xsync, xtime)
}

const executorProgram = `package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

func main() {
	exec, err := executor.New[string](fault.ExecutorConfig{})
	if err != nil {
		panic(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:           "inventory",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5},
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: 5 * time.Second},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100, Window: time.Second},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 4},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	r := fault.ExecuteFunc(context.Background(), exec, "inventory", func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", errors.New("connection reset")
		}
		return "in stock", nil
	})
	fmt.Println(r.Unwrap(), calls)
	// The context-less form of fault.ResilienceExecutor works as well.
	fmt.Println(exec.Execute(context.Background(), "inventory", func() error { return nil }))
}
`

const executorOutput = "in stock 2\n<nil>\n"

// Modules are pinned independently: a service may require a newer
// fault/retry than the one fault/executor was released with. Minimal version
// selection takes the highest version that any requirement names (the
// service's), never merely the newest published: without the service's own
// requirement, fault/retry stays at the version fault/executor requires.
func TestPinRetryApartFromExecutor(t *testing.T) {
	t.Parallel()
	w := repoWorld(t)
	ev, _ := w.man.Version("fault/executor")
	need := requirementOf(t, w, "fault/executor", ev, retryDir)
	if need != w.next && !w.px.Has(repo.ModulePath(retryDir), w.next) {
		t.Fatalf("the proxy does not publish %s %s", retryDir, w.next)
	}

	pinned := w.newConsumer(t, map[string]string{"fault/executor": ev, retryDir: w.next}, executorProgram)
	if got := pinned.modules()[repo.ModulePath(retryDir)]; got != w.next {
		t.Fatalf("service requires %s %s, fault/executor %s requires %s: MVS chose %s, want %s", retryDir, w.next, ev, need, got, w.next)
	}
	if out := pinned.run(); out != executorOutput {
		t.Fatalf("with %s %s: program output %q, want %q", retryDir, w.next, out, executorOutput)
	}

	plain := w.newConsumer(t, map[string]string{"fault/executor": ev}, executorProgram)
	if got := plain.modules()[repo.ModulePath(retryDir)]; got != need {
		t.Fatalf("service requires only fault/executor %s, which requires %s %s: MVS chose %s (the proxy also has %s)", ev, retryDir, need, got, w.next)
	}
}

// requirementOf returns the version of dep that module dir at version v
// requires in its published go.mod.
func requirementOf(t *testing.T, w *world, dir, v, dep string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.px.Dir, repo.ModulePath(dir), "@v", v+".mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && f[0] == repo.ModulePath(dep) {
			return f[1]
		}
	}
	t.Fatalf("%s %s does not require %s", dir, v, dep)
	return ""
}

// A module that requires a sibling version no release provides (its replace
// line hides that inside the repository) breaks every service that depends
// on it. The consumer tests then fail, and say which requirement to fix.
func TestBrokenGraphFailsReadably(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module proxy; skipped with -short")
	}
	root, err := repo.FindRoot("..")
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the four modules fault/retry needs, where fault/retry's
	// go.mod requires fault v0.9.0, never tagged.
	broken := t.TempDir()
	for _, d := range []string{"functional", "apperrors", "fault"} {
		if err := os.CopyFS(filepath.Join(broken, d), os.DirFS(filepath.Join(root, d))); err != nil {
			t.Fatal(err)
		}
	}
	man, _ := repo.ReadManifest(root)
	var m strings.Builder
	m.WriteString("modules:\n")
	for _, d := range []string{"functional", "apperrors", "fault", retryDir} {
		v, _ := man.Version(d)
		m.WriteString("  " + d + ": " + v + "\n")
	}
	write(t, filepath.Join(broken, "versions.yaml"), m.String())
	write(t, filepath.Join(broken, "go.work"), "go 1.25.0\n")
	fv, _ := man.Version("fault")
	gomod := filepath.Join(broken, "fault", "retry", "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	req := repo.ModulePath("fault") + " " + fv
	if !strings.Contains(string(data), req) {
		t.Fatalf("fault/retry/go.mod does not require %s", req)
	}
	write(t, gomod, strings.Replace(string(data), req, repo.ModulePath("fault")+" v0.9.0", 1))

	w, err := newWorld(t.Context(), broken, t.TempDir(), modproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := man.Version(retryDir)
	want := "fault/retry " + rv + " requires fault v0.9.0, which is not released: there is no tag go/src/fault/v0.9.0 and versions.yaml releases fault at " + fv
	if len(w.problems) != 1 || !strings.Contains(w.problems[0], want) || !strings.Contains(w.problems[0], "Require a released version of fault in fault/retry/go.mod") {
		t.Fatalf("problems %q, want one saying %q", w.problems, want)
	}

	// A consumer fails at the go command, which names the missing version;
	// the consumer tests add the graph problem in words.
	c := &consumer{t: t, w: w, dir: t.TempDir()}
	c.write("go.mod", "module example.com/service\n\ngo 1.25.0\n\nrequire "+repo.ModulePath(retryDir)+" "+rv+"\n")
	c.write("main.go", "package main\n\nimport _ \""+repo.ModulePath(retryDir)+"\"\n\nfunc main() {}\n")
	out, err := c.tryGo("mod", "tidy")
	if err == nil {
		t.Fatalf("a consumer resolved the broken graph:\n%s", out)
	}
	if !strings.Contains(out, "v0.9.0") {
		t.Errorf("the go command's error does not name the missing version:\n%s", out)
	}
	if msg := w.graphMessage(); !strings.Contains(msg, "the released module graph is broken") || !strings.Contains(msg, want) {
		t.Errorf("consumer tests would fail with:\n%s", msg)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
