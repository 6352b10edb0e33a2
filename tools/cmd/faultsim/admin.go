package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// serveAdmin serves fault/admin's operations page on addr for the fault
// strategy: the page shows the executor of the run in progress (a fresh one
// per run) and its breaker's transitions live. It is read-only: no
// authorizer, so no controls. It returns the address it listens on; stop
// ends the server.
func serveAdmin(addr string, opts *faultsim.Options, stderr io.Writer) (listening string, stop func(), err error) {
	events, err := admin.NewEvents()
	if err != nil {
		return "", nil, err
	}
	common := []admin.Option{admin.WithEvents(events), admin.WithTitle("faultsim: the fault strategy, live"),
		admin.WithLogger(slog.New(slog.DiscardHandler))}
	first, err := admin.New(common...)
	if err != nil {
		return "", nil, err
	}
	var current atomic.Pointer[admin.Handler]
	current.Store(first)
	opts.FaultRecorder = events
	opts.OnFaultExecutor = func(exec *executor.Executor[*http.Response]) {
		h, err := admin.New(append(common, admin.WithRegistry(exec.Registry()))...)
		if err != nil {
			fmt.Fprintln(stderr, "faultsim: -admin:", err)
			return
		}
		current.Swap(h).Close() // the old page's stream ends; the page reconnects to the new one
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	srv.RegisterOnShutdown(func() { current.Load().Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	fmt.Fprintf(stderr, "faultsim: operations page of the fault strategy on http://%s/ (while the scenario runs)\n", ln.Addr())
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
