package consumer_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// family is the third-party code one pattern or integration brings: a set of
// module path prefixes.
type family struct {
	Name     string
	Prefixes []string
}

var (
	gobreaker  = family{"gobreaker", []string{"github.com/sony/gobreaker"}}
	xsync      = family{"golang.org/x/sync", []string{"golang.org/x/sync"}}
	xtime      = family{"golang.org/x/time", []string{"golang.org/x/time"}}
	otel       = family{"OpenTelemetry", []string{"go.opentelemetry.io/"}}
	grpc       = family{"gRPC", []string{"google.golang.org/grpc"}}
	redis      = family{"Redis", []string{"github.com/redis/go-redis/"}}
	prometheus = family{"Prometheus", []string{"github.com/prometheus/"}}
	chromedp   = family{"chromedp", []string{"github.com/chromedp/"}}
	miniredis  = family{"miniredis", []string{"github.com/alicebob/miniredis/"}}

	families = []family{gobreaker, xsync, xtime, otel, grpc, redis, prometheus, chromedp, miniredis}
)

func (f family) has(path string) bool {
	for _, p := range f.Prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// dependencyRow says what one module brings to a service that requires it
// alone.
type dependencyRow struct {
	Dir string
	// Builds lists the families whose packages the module's code compiles
	// into a service: each must be there, and no other family may be.
	Builds []family
	// GraphOnly lists families that may appear in the service's module
	// graph (go list -m all: go.mod files only, nothing downloaded as code
	// or compiled) because the module's tests need them. Any other family
	// beyond Builds fails the test.
	GraphOnly []family
	// Note says why, for GraphOnly rows, and for modules not yet in
	// versions.yaml.
	Note string
}

// dependencyTable has one row per module of versions.yaml; a module there
// without a row fails TestEachModuleBringsOnlyItsOwnDependencies. Rows for
// modules not in versions.yaml are skipped, saying so.
var dependencyTable = []dependencyRow{
	{Dir: "functional"},
	{Dir: "apperrors"},
	{Dir: "fault"},
	{Dir: "fault/retry"},
	{Dir: "fault/timeout"},
	{Dir: "fault/circuitbreaker", Builds: []family{gobreaker}},
	{Dir: "fault/bulkhead", Builds: []family{xsync}},
	{Dir: "fault/ratelimit", Builds: []family{xtime}},
	{Dir: "fault/budget"},
	{Dir: "fault/throttle"},
	{Dir: "fault/hedge"},
	{Dir: "fault/fallback"},
	{Dir: "fault/executor", Builds: []family{gobreaker, xsync, xtime}},
	{Dir: "fault/metrics"},
	{Dir: "fault/metrics/otel", Builds: []family{otel}, GraphOnly: []family{gobreaker, xsync, xtime},
		Note: "its tests run the executor, so its go.mod lists the patterns' modules"},
	{Dir: "fault/health"},
	{Dir: "fault/shutdown"},
	{Dir: "fault/faulthttp", GraphOnly: []family{gobreaker, xsync, xtime},
		Note: "its tests run the executor, so its go.mod lists the patterns' modules"},
	// Modules being added: check the rows when they land in versions.yaml.
	{Dir: "fault/faultgrpc", Builds: []family{grpc}, GraphOnly: []family{gobreaker, xsync, xtime, otel},
		Note: "its tests run the executor; grpc's own go.mod lists OpenTelemetry (its stats packages), which the interceptors do not compile in"},
	{Dir: "fault/fleet", Builds: []family{redis, gobreaker, xtime}, GraphOnly: []family{miniredis, xsync},
		Note: "Redis, and the circuit breaker's and rate limiter's modules it builds on; miniredis for its tests, which also run the executor (x/sync through the bulkhead)"},
	{Dir: "fault/admin", Builds: []family{gobreaker, xsync, xtime}, GraphOnly: []family{chromedp},
		Note: "expected: the executor and patterns it shows; chromedp for its browser tests"},
	{Dir: "fault/metrics/prometheus", Builds: []family{prometheus}, GraphOnly: []family{gobreaker, xsync, xtime},
		Note: "expected: Prometheus only; GraphOnly in case its tests run the executor"},
}

// Each module, required alone by a service, brings its own third-party
// dependencies and nobody else's.
func TestEachModuleBringsOnlyItsOwnDependencies(t *testing.T) {
	t.Parallel()
	w := repoWorld(t)
	rows := map[string]dependencyRow{}
	for _, r := range dependencyTable {
		rows[r.Dir] = r
	}
	for _, r := range dependencyTable {
		if _, ok := w.man.Version(r.Dir); !ok {
			t.Run(r.Dir, func(t *testing.T) {
				t.Skipf("%s is not in versions.yaml yet (table row: %s)", r.Dir, r.Note)
			})
		}
	}
	for _, e := range w.man.Modules {
		t.Run(e.Dir, func(t *testing.T) {
			t.Parallel()
			r, ok := rows[e.Dir]
			if !ok {
				t.Fatalf("%s is in versions.yaml but has no row in dependencyTable (tools/consumer/modules_test.go): add one saying which third-party modules it brings", e.Dir)
			}
			c := w.newConsumer(t, map[string]string{e.Dir: e.Version},
				"package main\n\nimport _ \""+repo.ModulePath(e.Dir)+"\"\n\nfunc main() {}\n")
			built := c.built()
			assertFamilies(t, e.Dir+" (built)", built, r.Builds...)
			assertNoFamily(t, e.Dir+" (built)", toSet(built), without(families, r.Builds)...)
			assertNoFamily(t, e.Dir+" (go list -m all)", c.modules(), without(families, append(r.Builds, r.GraphOnly...))...)
		})
	}
}

func without(all, drop []family) []family {
	var out []family
	for _, f := range all {
		if !slices.ContainsFunc(drop, func(d family) bool { return d.Name == f.Name }) {
			out = append(out, f)
		}
	}
	return out
}

func toSet(mods []string) map[string]string {
	m := map[string]string{}
	for _, p := range mods {
		m[p] = ""
	}
	return m
}

// assertNoFamily fails when mods holds a module of any of the families.
func assertNoFamily(t *testing.T, what string, mods map[string]string, fams ...family) {
	t.Helper()
	for path := range mods {
		for _, f := range fams {
			if f.has(path) {
				t.Errorf("%s brings %s (%s), which is another module's dependency", what, path, f.Name)
			}
		}
	}
}

// assertFamilies fails when a family has no module in mods.
func assertFamilies(t *testing.T, what string, mods []string, fams ...family) {
	t.Helper()
	for _, f := range fams {
		if !slices.ContainsFunc(mods, f.has) {
			t.Errorf("%s does not bring %s, which it should: %v", what, f.Name, mods)
		}
	}
}
