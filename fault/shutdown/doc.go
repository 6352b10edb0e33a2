// Package shutdown runs a graceful shutdown that loses no in-flight work:
// the sequence a Go service on Kubernetes needs between SIGTERM and exit.
//
// # The model
//
// A [Manager] waits for SIGINT or SIGTERM ([Manager.Wait]) or a call to
// [Manager.Shutdown], then runs, once, in order:
//
//  1. not ready: every [Readiness] (such as a fault/health Registry) is
//     marked not ready, so the readiness probe answers 503 at once while
//     liveness stays 200;
//  2. propagation delay ([WithPropagationDelay]): the service keeps serving
//     while load balancers and kube-proxy stop sending it traffic;
//  3. stop accepting: the [Tracker] refuses new work with a SHUTTING_DOWN
//     error (fault.NewShuttingDownError: 503, matching fault.ErrShuttingDown
//     and apperrors.ErrCodeUnavailable), and every [Server] (an
//     *http.Server) gets Shutdown with a fresh context ending at the drain
//     deadline — never the already-cancelled signal context, which would
//     drain nothing;
//  4. drain: wait for tracked work and the servers until the drain deadline
//     ([WithDrainTimeout]); then the tracker's base context is cancelled,
//     the work still running is reported as abandoned
//     ([Result.Abandoned]), and servers still open are Closed;
//  5. cleanup hooks ([Hook]): the last added first, one at a time, each
//     with its own timeout; a failing, hanging or panicking hook is
//     reported and the next one runs.
//
// Everything happens within the overall deadline ([WithTimeout]). Errors are
// joined into the one Shutdown and Wait return; the [Result] says how long
// each phase took and what was abandoned. Shutdown and Wait are idempotent
// and concurrency-safe: every caller gets the same result. While the
// sequence runs, the second signal Wait receives forces an immediate exit
// ([WithForceExit], [WithExitFunc]); one signal never does, however the
// sequence started.
//
// # Tracking work
//
//	done, err := tracker.Track()
//	if err != nil {
//		return err // shutting down: 503
//	}
//	defer done()
//
// [Tracker.Middleware] does this for every HTTP request,
// [Tracker.TrackContext] also hands the work a context cancelled at the
// drain deadline, and [Tracker.Run] and the typed [View] (a fault.Guard and
// fault.Policy[T]) track a call allocation-free, so the tracker can sit in
// an executor chain.
//
// # A main
//
//	h := health.New()
//	m, err := shutdown.New(
//		shutdown.WithReadiness(h),
//		shutdown.WithPropagationDelay(5*time.Second),
//		shutdown.WithTimeout(25*time.Second),
//	)
//	tr := m.Tracker()
//	srv := &http.Server{Addr: ":8080", Handler: tr.Middleware(mux), BaseContext: tr.BaseContext}
//	m.AddServer(srv)
//	m.AddHook(shutdown.Hook{Name: "postgres", Run: func(context.Context) error { return db.Close() }})
//	go srv.ListenAndServe()
//	res, err := m.Wait(context.Background())
//
// The module README has the complete program and the Kubernetes probe and
// grace-period configuration that matches it.
//
// # API
//
// [New] builds a [Manager] that runs the shutdown sequence and its [Hook]
// values; [NewTracker] counts in-flight work and [Policy] gives its typed
// view, so that work started before shutdown finishes.
package shutdown
