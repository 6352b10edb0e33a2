package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// runTail runs the tail-latency experiment (-scenario tail-latency).
func runTail(ctx context.Context, o options, stdout, stderr io.Writer) int {
	res, err := faultsim.RunTail(ctx, faultsim.TailConfig{Seed: o.seed})
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteTailTable(stdout, res)
	if err := writeFiles(o, func(w io.Writer) error { return faultsim.WriteTailHTML(w, res) }, func(w io.Writer) error { return faultsim.WriteTailJSON(w, res) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", time.Duration(res.WallTime).Round(100*time.Millisecond))
	if !res.Passed {
		fmt.Fprintln(stderr, "faultsim: tail-latency: a check failed")
		return 1
	}
	return 0
}
