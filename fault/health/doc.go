// Package health aggregates named health checks and answers Kubernetes
// liveness and readiness probes in the application/health+json draft format.
//
// # The model
//
// A [Checker] checks one component: Check(ctx) returns nil (pass), an error
// (fail) or an error wrapped with [Warn] (warn: working, but degraded). Any
// func(context.Context) error is a checker through [CheckFunc], so
// health.CheckFunc(db.PingContext) works; an [Observer] also reports an
// observed value ([Ping] reports the response time, [CircuitBreaker] the
// circuit state).
//
// A [Check] registers a checker under a name with a timeout, a critical flag
// and an optional caching interval:
//
//	h := health.New(health.WithServiceID("orders"))
//	err := h.Register(health.Check{
//		Name:     "postgres",
//		Checker:  health.Ping(db.PingContext),
//		Critical: true,
//		Timeout:  500 * time.Millisecond,
//		Interval: 5 * time.Second,
//	})
//
// A probe runs its checks concurrently, so its duration is that of the
// slowest check, never the sum. A check still running at its timeout answers
// fail at the timeout and the probe returns on time; its goroutine ends when
// the checker returns (a checker that ignores its context keeps exactly one
// goroutine: later probes report it as still running rather than start
// another). A panicking check answers fail with the panic text and the
// process carries on. Probes that arrive while a check runs share that run,
// and with an Interval a result (pass or fail) is reused for that long, so a
// storm of probes can't hammer a database.
//
// # Aggregation
//
// Any critical check failing → fail; otherwise any check failing or warning
// → warn; otherwise pass. A critical check that warns only warns.
//
// # Probes
//
// Liveness asks "should this process be restarted?": it runs only checks
// marked Liveness (none by default) and ignores dependencies and the
// readiness gate, so a database outage never restarts every pod. Readiness
// asks "should this process get traffic?": it fails at once while the
// readiness gate is closed ([Registry.SetReady], which fault/shutdown calls
// when shutdown starts), and otherwise runs every check. The full report
// runs everything, for humans and dashboards.
//
// The HTTP handlers ([Registry.LivenessHandler], [Registry.ReadinessHandler],
// [Registry.ReportHandler]) answer GET and HEAD with 200 for pass and warn
// and 503 for fail, Content-Type application/health+json and Cache-Control
// no-store; other methods get 405 with Allow: GET, HEAD. The document has
// status, the service's identity, and a checks object keyed "name" or
// "name:measurement" whose values are arrays of {componentId, componentType,
// observedValue, observedUnit, status, time, output}; output (the error
// text) appears only for warn and fail, and only for callers [WithDetails]
// allows.
//
// # API
//
// [New] builds a [Registry] of [Check] values, each with a [Checker]
// ([Ping], [CircuitBreaker], [CheckFunc]); the Registry runs them and answers
// the liveness and readiness probes with a [Report]; [Warn] marks a degraded
// result.
package health
