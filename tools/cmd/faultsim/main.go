// Command faultsim is the fault simulator: the project's main job, which
// drives the resilience patterns against simulated failing dependencies and
// reports what they did.
//
// It is not built yet (issue 10); this placeholder keeps `make sim`, the
// command the README documents, final: it says so and exits 0.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stdout, "faultsim: the simulator is not built yet (it arrives with issue 10); nothing to run.")
}
