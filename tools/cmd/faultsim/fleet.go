package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// fleetScenarios are the scenarios of instances sharing state through
// Redis, by -scenario name.
var fleetScenarios = map[string]func(ctx context.Context, o options, stdout, stderr io.Writer) int{
	faultsim.FleetScenario:       runFleet,
	faultsim.FleetOutageScenario: runFleetOutage,
}

func runFleet(ctx context.Context, o options, stdout, stderr io.Writer) int {
	began := time.Now()
	res, err := faultsim.RunFleet(ctx, faultsim.FleetConfig{Redis: o.redis, Seed: o.seed})
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteFleetTable(stdout, res)
	if err := writeFiles(o, func(w io.Writer) error { return faultsim.WriteFleetHTML(w, res) },
		func(w io.Writer) error { return faultsim.WriteFleetJSON(w, res) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", time.Since(began).Round(10*time.Millisecond))
	if err := res.Check(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintln(stdout, "expectations hold")
	return 0
}

func runFleetOutage(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.html != "" {
		fmt.Fprintln(stderr, "faultsim: the fleet-outage experiment prints a table and writes -json; it has no HTML report")
		return 2
	}
	began := time.Now()
	res, err := faultsim.RunFleetOutage(ctx, o.redis)
	if err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	faultsim.WriteOutageTable(stdout, res)
	if err := writeFiles(o, nil, func(w io.Writer) error { return faultsim.WriteOutageJSON(w, res) }, stdout); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwall time %s\n", time.Since(began).Round(10*time.Millisecond))
	if err := res.Check(); err != nil {
		fmt.Fprintln(stderr, "faultsim:", err)
		return 1
	}
	fmt.Fprintln(stdout, "expectations hold")
	return 0
}
