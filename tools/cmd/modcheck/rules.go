package main

// kind says what role a module plays in the module graph.
type kind int

const (
	// library is a module that others build on (functional, apperrors,
	// fault) or that sits beside the patterns (metrics, health, shutdown,
	// faulthttp).
	library kind = iota
	// pattern is one resilience pattern. A pattern never imports another
	// pattern, in its code or in its tests, and the contract module never
	// imports a pattern.
	pattern
	// composer composes the patterns (executor). Like a pattern, it is
	// off limits to the contract and to the patterns, in tests too.
	composer
)

// rule is one row of the module table (docs/ARCHITECTURE.md, "Module graph").
type rule struct {
	Dir  string // module directory; the module path is repo.ModulePrefix + Dir
	Kind kind

	// Imports lists the in-repo modules (by directory) whose packages the
	// module's non-test code may import, besides its own packages and the
	// standard library.
	Imports []string
	// ThirdParty lists the third-party packages its non-test code may
	// import: an import path, or a path followed by "/..." for that path and
	// everything below it (as in go list patterns).
	ThirdParty []string

	// TestImports lists in-repo modules that only its tests may import.
	// Beyond these, tests may import any in-repo module that keeps the
	// pattern and contract rules and makes no cycle with the table's edges
	// (see allowedInTests).
	TestImports []string
	// TestThirdParty lists third-party packages that only its tests may
	// import, beyond testOnlyThirdParty.
	TestThirdParty []string

	// TestOnly marks a module that holds only tests (and a doc.go): it keeps
	// a heavy test dependency (a browser driver) out of the requirements of
	// the module it tests. It is in go.work and dependabot like every
	// module, but never released, so it has no versions.yaml entry; the
	// Makefile tests it with the others (TEST_ONLY_MODULES).
	TestOnly bool
}

// rules is the module table of docs/ARCHITECTURE.md, the one place that
// says what each library module may import. Adding a module is adding a
// line here (and its entries in versions.yaml, go.work and
// .github/dependabot.yml, which modcheck then verifies).
var rules = []rule{
	{Dir: "functional"},
	{Dir: "apperrors"},
	{Dir: "fault", Imports: []string{"functional", "apperrors"}},
	{Dir: "fault/retry", Kind: pattern, Imports: []string{"fault", "functional"}},
	{Dir: "fault/timeout", Kind: pattern, Imports: []string{"fault"}},
	{Dir: "fault/circuitbreaker", Kind: pattern, Imports: []string{"fault", "functional"}, ThirdParty: []string{"github.com/sony/gobreaker/v2"}},
	{Dir: "fault/bulkhead", Kind: pattern, Imports: []string{"fault"}, ThirdParty: []string{"golang.org/x/sync/semaphore"}, TestThirdParty: []string{"golang.org/x/sync/..."}},
	{Dir: "fault/ratelimit", Kind: pattern, Imports: []string{"fault"}, ThirdParty: []string{"golang.org/x/time/rate"}},
	{Dir: "fault/budget", Kind: pattern, Imports: []string{"fault"}},
	{Dir: "fault/throttle", Kind: pattern, Imports: []string{"fault"}},
	{Dir: "fault/executor", Kind: composer, Imports: []string{"fault", "functional", "fault/retry", "fault/timeout", "fault/circuitbreaker", "fault/bulkhead", "fault/ratelimit", "fault/hedge", "fault/fallback", "fault/budget", "fault/throttle"}},
	{Dir: "fault/metrics", Imports: []string{"fault"}},
	{Dir: "fault/metrics/otel", Imports: []string{"fault"}, ThirdParty: otelAPI, TestThirdParty: []string{"go.opentelemetry.io/otel/sdk/..."}},
	{Dir: "fault/metrics/prometheus", Imports: []string{"fault"}, ThirdParty: []string{"github.com/prometheus/client_golang/prometheus/..."}},
	{Dir: "fault/admin", Imports: []string{"fault", "functional", "apperrors", "fault/executor", "fault/retry", "fault/timeout", "fault/circuitbreaker", "fault/bulkhead", "fault/ratelimit"},
		TestThirdParty: []string{"github.com/santhosh-tekuri/jsonschema/v6/..."}},
	{Dir: "fault/admin/browsertest", TestOnly: true, Imports: []string{"fault", "fault/admin", "fault/executor"},
		TestThirdParty: []string{"github.com/chromedp/chromedp/..."}},
	{Dir: "fault/health", Imports: []string{"fault", "apperrors"}},
	{Dir: "fault/shutdown", Imports: []string{"fault", "apperrors"}},
	{Dir: "fault/hedge", Kind: pattern, Imports: []string{"fault"}},
	{Dir: "fault/fallback", Kind: pattern, Imports: []string{"fault", "functional"}},
	{Dir: "fault/faulthttp", Imports: []string{"fault", "functional", "apperrors"}, TestImports: []string{"fault/executor", "fault/throttle"}},
	{Dir: "fault/fleet", Imports: []string{"fault", "fault/circuitbreaker", "fault/ratelimit", "fault/health"}, ThirdParty: []string{"github.com/redis/go-redis/v9/..."}, TestThirdParty: []string{"github.com/alicebob/miniredis/v2/..."}},
	// faultgrpc: gRPC interceptors. fault/health only for the optional
	// grpc.health.v1 service over a health Registry; errdetails is part of
	// the googleapis/rpc module grpc itself requires (google.rpc.RetryInfo).
	{Dir: "fault/faultgrpc", Imports: []string{"fault", "functional", "apperrors", "fault/health"}, ThirdParty: grpcDeps, TestImports: []string{"fault/executor"}},
}

// grpcDeps is grpc-go and the protobuf packages its API hands out.
var grpcDeps = []string{
	"google.golang.org/grpc/...",
	"google.golang.org/genproto/googleapis/rpc/errdetails",
	"google.golang.org/protobuf/...",
}

// otelAPI is the OpenTelemetry API (not the SDK, which only an application
// chooses; the module's tests may use it).
var otelAPI = []string{
	"go.opentelemetry.io/otel",
	"go.opentelemetry.io/otel/attribute/...",
	"go.opentelemetry.io/otel/baggage",
	"go.opentelemetry.io/otel/codes",
	"go.opentelemetry.io/otel/metric/...",
	"go.opentelemetry.io/otel/propagation",
	"go.opentelemetry.io/otel/semconv/...",
	"go.opentelemetry.io/otel/trace/...",
}

// testOnlyThirdParty are the third-party packages every module's tests may
// import and no module's non-test code may.
var testOnlyThirdParty = []string{
	"go.uber.org/goleak",
	"github.com/google/go-cmp/...",
}

// toolsDir is the tools module: not a library, not in go.work, not released,
// but it shares the go directive and needs the replace lines too.
const toolsDir = "tools"
