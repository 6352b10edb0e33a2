package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// runStorm runs the retry-storm experiment (-scenario retry-storm).
func runStorm(ctx context.Context, o options, stdout, stderr io.Writer) int {
	cfg := faultsim.StormConfig{Seed: o.seed}
	if o.strategies != strings.Join(faultsim.Strategies, ",") {
		for _, s := range strings.Split(o.strategies, ",") {
			cfg.Strategies = append(cfg.Strategies, strings.TrimSpace(s))
		}
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 2
	}
	res, err := faultsim.RunStorm(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteStormTable(stdout, res)
	if err := writeFiles(o, func(w io.Writer) error { return faultsim.WriteStormHTML(w, res) }, func(w io.Writer) error { return faultsim.WriteStormJSON(w, res) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", res.WallTime.Round(100_000_000))
	if err := res.Check(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	return 0
}
