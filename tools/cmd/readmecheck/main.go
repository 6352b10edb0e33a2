// Command readmecheck builds the Go programs that the repository's READMEs
// show, so that a README cannot show a program that does not compile.
//
// It reads every README.md in the repository (skipping hidden and
// underscore directories, testdata, vendor and bin) and takes each fenced
// code block tagged go:
//
//   - a block whose package clause is `package main` is a complete program:
//     it must have a func main and be gofmt-formatted, and it is built
//     against the library modules of the repository's go.work (the code in
//     the work tree, not a released version);
//   - any other block is a fragment, which is fine as long as it does not
//     look like a program: a block with a func main but no `package main`,
//     or with another package clause, is reported, because a reader would
//     take it for something that builds.
//
// The programs are built in a temporary module with a generated go.work
// that uses it and every module of the repository's go.work. Each program
// starts with a //line directive, so a compile error names the README and
// the line in it. Usage, from tools/ (not in go.work):
//
//	GOWORK=off go run ./cmd/readmecheck [-root DIR] [-v] [-keep]
//
// It exits 1 when a program does not build or a block breaks a rule above.
package main

import (
	"context"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func main() { repo.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("readmecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := repo.RootFlag(fs)
	verbose := fs.Bool("v", false, "list every program and fragment found")
	keep := fs.Bool("keep", false, "keep the generated build directory and print where it is")
	dir, code := repo.ParseRoot(fs, root, args)
	if code != 0 {
		return code
	}
	blocks, err := findBlocks(dir)
	if err != nil {
		fmt.Fprintln(stderr, "readmecheck:", err)
		return 1
	}
	var programs []block
	var problems []string
	fragments := 0
	for _, b := range blocks {
		switch p := b.problem(); {
		case p != "":
			problems = append(problems, fmt.Sprintf("%s:%d: %s", b.File, b.Line, p))
		case b.isProgram():
			programs = append(programs, b)
			if formatted, err := format.Source([]byte(b.Code)); err == nil && string(formatted) != b.Code {
				problems = append(problems, fmt.Sprintf("%s:%d: the program is not gofmt-formatted (format it with gofmt and paste it back)", b.File, b.Line))
			}
		default:
			fragments++
		}
		if *verbose {
			kind := "fragment"
			if b.isProgram() {
				kind = "program"
			}
			fmt.Fprintf(stdout, "readmecheck: %s:%d: %s\n", b.File, b.Line, kind)
		}
	}
	if len(programs) > 0 {
		work, out, err := build(ctx, dir, programs)
		if *keep {
			fmt.Fprintln(stdout, "readmecheck: build directory", work)
		} else {
			defer os.RemoveAll(work)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("the README programs do not build: %v\n%s", err, out))
		}
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, "readmecheck:", p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "readmecheck: FAIL: %d problems (a README's go block is either a complete program, package main, that builds, or a fragment without a package clause or func main)\n", len(problems))
		return 1
	}
	fmt.Fprintf(stdout, "readmecheck: ok: %d programs build, %d fragments, in %d READMEs\n", len(programs), fragments, countFiles(blocks))
	return 0
}

func countFiles(bs []block) int {
	seen := map[string]bool{}
	for _, b := range bs {
		seen[b.File] = true
	}
	return len(seen)
}
