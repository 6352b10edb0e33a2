// Command modcheck enforces the module rules of docs/ARCHITECTURE.md on
// the repository, from the real import graph (go list, each module alone with
// GOWORK=off, tests included):
//
//   - each module's non-test code imports only the standard library, its own
//     packages, and the in-repo and third-party packages its row of the
//     table allows (gobreaker only in circuitbreaker, x/sync only in
//     bulkhead, x/time only in ratelimit, the OpenTelemetry API only in
//     fault/metrics/otel); in particular fault imports no pattern and no
//     pattern imports another;
//   - tests may also use go.uber.org/goleak and github.com/google/go-cmp,
//     what the table adds for that module (the OpenTelemetry SDK for
//     metrics/otel, x/sync beyond the semaphore for bulkhead), and any
//     in-repo module, except that the two rules above hold for tests too (a
//     pattern's tests use no other pattern nor the executor; the contract's
//     tests use no pattern) and no test import may close a cycle with the
//     table's edges (functional's tests cannot use fault);
//   - no module imports another module's internal packages;
//   - every library module is in go.work and versions.yaml, has README.md
//     and doc.go, the same go directive as go.work (and no toolchain line),
//     and a replace line to the right relative directory for every in-repo
//     module in its requirement graph; so does tools;
//   - every go.mod in the tree belongs to a module of the table;
//   - .github/dependabot.yml has one gomod entry whose directories list
//     every module directory once (tools included), and a github-actions
//     entry;
//   - every action a workflow uses is pinned by its full commit SHA, with
//     the version in a comment;
//   - the module tables of docs/ARCHITECTURE.md and README.md have a row
//     for every library module;
//   - nothing in the repository asks for a floating "latest" version.
//
// The table lives in rules.go. Usage, from tools/ (not in go.work):
//
//	GOWORK=off go run ./cmd/modcheck [-root DIR]
//
// It prints one line per problem, naming the module and the import or file,
// and exits 1 when there is any.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func main() { repo.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("modcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := repo.RootFlag(fs)
	dir, code := repo.ParseRoot(fs, root, args)
	if code != 0 {
		return code
	}
	problems, pkgs := check(ctx, dir, rules)
	for _, p := range problems {
		fmt.Fprintln(stderr, "modcheck:", p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "modcheck: FAIL: %d problems (rules: docs/ARCHITECTURE.md; table: tools/cmd/modcheck/rules.go)\n", len(problems))
		return 1
	}
	fmt.Fprintf(stdout, "modcheck: ok: %d modules, %d packages follow the module rules (docs/ARCHITECTURE.md)\n", len(rules), pkgs)
	return 0
}
