// Package admin is an operations endpoint for fault: what every policy is
// doing right now, as JSON and as a self-contained HTML page, with guarded
// manual controls for the moment an operator has to act.
//
// A Handler reads live state from the pattern objects themselves: the
// policies of one or more executor registries (executor.Executor.Registry)
// and breakers, bulkheads and limiters used on their own (WithBreaker, ...).
// An Events log, which is a fault.MetricsRecorder, adds what the objects do
// not keep: when each breaker changed state, counts of executions and
// rejections, and a bounded log of recent transitions, rejection bursts and
// controls, which the page receives live as server-sent events.
//
//	events, _ := admin.NewEvents()
//	cfg := fault.DefaultExecutorConfig()
//	cfg.MetricsRecorder = events // or metrics.NewFanOut(events, ...)
//	exec, _ := executor.New[*Reply](cfg)
//	h, _ := admin.New(admin.WithRegistry(exec.Registry()), admin.WithEvents(events))
//	mux.Handle("/debug/fault/", http.StripPrefix("/debug/fault", h))
//
// Importing the package registers nothing: the Handler serves only where it
// is mounted, and it is the caller's choice to protect that path.
//
// Controls (force a breaker open or closed, reset it, reset a limiter or a
// budget) are off unless an Authorizer is given with WithAuthorizer; then
// they answer only POST requests that pass http.CrossOriginProtection and
// the authorizer, and each use is logged and recorded as an event naming the
// actor. The page shows the buttons only to requests the authorizer accepts.
//
// The JSON documents follow a versioned schema (SchemaVersion, the file
// schema/v1.json, served at api/v1/schema.json); errors are
// application/problem+json. Nothing in a response carries an error's text or
// configuration beyond the patterns' numeric settings.
package admin
