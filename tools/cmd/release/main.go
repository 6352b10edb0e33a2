// Command release prints, and with -create creates, the release tags of the
// library modules whose version in versions.yaml has no tag yet.
//
// A module in directory dir at version vX.Y.Z is released by the tag
// go/src/<dir>/vX.Y.Z (the repository root is the go/src tree of
// github.com/authcorp/libs, so that is the tag the go command looks for).
// Tags are listed in dependency order, taken from the go.mod requirements
// between the modules, so that a module is never tagged before a module it
// requires (modules whose requirements form a cycle, which test-only imports
// can make, are tagged together in manifest order).
//
// release refuses, and creates nothing, when:
//   - a manifest version is not a semantic version vMAJOR.MINOR.PATCH;
//   - a manifest version is lower than a version already tagged for the module;
//   - a module at major version 2 or more lacks the /vN suffix in its path;
//   - a module to be tagged requires an in-repo module at a version that is
//     neither tagged nor about to be;
//   - a version to tag has no "## [X.Y.Z]" section in the module's
//     CHANGELOG.md (Keep a Changelog format);
//   - a module to be tagged requires an in-repo module at a version older
//     than the one its replace line builds it against inside the repository
//     (the dependency's tree, released at its manifest version), or at a
//     released version whose code has changed since: a service would get a
//     dependency the module was not built with;
//   - with -create: a tag to create already exists (a tag is never moved),
//     or the work tree has uncommitted changes in the released files.
//
// Usage (from tools/; the tools module is not in go.work):
//
//	GOWORK=off go run ./cmd/release           # dry run: print the tags to create
//	GOWORK=off go run ./cmd/release -create   # create them (annotated) at HEAD
//
// -sync rewrites every in-repo requirement (in each module's go.mod and in
// tools/go.mod) to the version versions.yaml gives, so that what a module is
// built with inside the repository is what a service gets.
//
// -changelog opens the changelog section of each module whose versions.yaml
// version has none: the notes under "## [Unreleased]" become "## [X.Y.Z] -
// <today>". A module with no notes there is named, for a person to write
// them.
//
// Pushing stays a deliberate step: after -create it prints the git push
// command for the new tags.
//
// With -proxy DIR it instead writes a file-system module proxy into DIR
// (GOPROXY=file://DIR): every module of versions.yaml at its version, built
// from the working tree (or from -rev when given), and every existing
// release tag from its tagged files, each zip built with golang.org/x/mod/zip
// as the public proxy would serve it. -extra dir@vX.Y.Z (repeatable) adds
// the working tree of a module under another version, for tests. It then
// checks the graph a consumer would resolve and fails, naming each, when a
// published go.mod requires an in-repo version that the proxy does not have:
//
//	GOWORK=off go run ./cmd/release -proxy /tmp/proxy -extra fault/retry@v0.1.1
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/tools/internal/modproxy"
	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func main() { repo.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := repo.RootFlag(fs)
	create := fs.Bool("create", false, "create the tags (annotated, at -rev) instead of only printing them")
	rev := fs.String("rev", "HEAD", "commit to tag (with -proxy: the commit whose files make the versions.yaml versions; default the working tree)")
	proxy := fs.String("proxy", "", "write a file-system module proxy (GOPROXY=file://DIR) into `DIR` instead of tagging")
	sync := fs.Bool("sync", false, "rewrite the in-repo requirements of every go.mod to the versions.yaml versions")
	notes := fs.Bool("changelog", false, "move each module's [Unreleased] changelog notes under its versions.yaml version when that has no section yet")
	var extra extraFlag
	fs.Var(&extra, "extra", "with -proxy: also publish the working tree of a module as `dir@vX.Y.Z` (repeatable)")
	dir, code := repo.ParseRoot(fs, root, args)
	if code != 0 {
		return code
	}
	if *proxy != "" {
		revSet := false
		fs.Visit(func(f *flag.Flag) { revSet = revSet || f.Name == "rev" })
		if !revSet {
			*rev = ""
		}
		return writeProxy(ctx, dir, *proxy, *rev, extra, stdout, stderr)
	}
	if *notes {
		return openSections(dir, time.Now().UTC().Format(time.DateOnly), stdout, stderr)
	}
	if *sync {
		return syncRequires(dir, stdout, stderr)
	}
	if len(extra) > 0 {
		fmt.Fprintln(stderr, "release: -extra needs -proxy")
		return 2
	}
	g := git{ctx: ctx, dir: dir}
	p, err := makePlan(dir, g)
	if err != nil {
		fmt.Fprintln(stderr, "release: refusing:", err)
		return 1
	}
	for _, n := range p.Notes {
		fmt.Fprintln(stderr, "release: note:", n)
	}
	if len(p.Create) == 0 {
		fmt.Fprintf(stderr, "release: nothing to tag: all %d modules are tagged at their manifest version\n", len(p.Released))
		return 0
	}
	if !*create {
		for _, t := range p.Create {
			fmt.Fprintln(stdout, t.Name)
		}
		fmt.Fprintf(stderr, "release: dry run: %d tags to create (%d modules already tagged); run with -create to create them at %s\n", len(p.Create), len(p.Released), *rev)
		return 0
	}
	if err := createTags(g, p, *rev); err != nil {
		fmt.Fprintln(stderr, "release: refusing:", err)
		return 1
	}
	names := make([]string, 0, len(p.Create))
	for _, t := range p.Create {
		fmt.Fprintln(stdout, "created", t.Name)
		names = append(names, t.Name)
	}
	fmt.Fprintf(stderr, "release: created %d tags; publish them with:\n  git push origin", len(names))
	for _, n := range names {
		fmt.Fprint(stderr, " ", n)
	}
	fmt.Fprintln(stderr)
	return 0
}

// extraFlag collects -extra dir@vX.Y.Z values.
type extraFlag []modproxy.Version

func (e *extraFlag) String() string { return fmt.Sprint(*e) }

func (e *extraFlag) Set(s string) error {
	dir, v, ok := strings.Cut(s, "@")
	if !ok || dir == "" || v == "" {
		return fmt.Errorf("want dir@vX.Y.Z, got %q", s)
	}
	*e = append(*e, modproxy.Version{Dir: dir, Version: v})
	return nil
}

// writeProxy writes the proxy and checks the graph it serves.
func writeProxy(ctx context.Context, root, dir, rev string, extra []modproxy.Version, stdout, stderr io.Writer) int {
	p, err := modproxy.Build(ctx, root, dir, modproxy.Options{Rev: rev, Tags: true, Extra: extra})
	if err != nil {
		fmt.Fprintln(stderr, "release: proxy:", err)
		return 1
	}
	man, err := repo.ReadManifest(root)
	if err != nil {
		fmt.Fprintln(stderr, "release: proxy:", err)
		return 1
	}
	n := 0
	for _, vs := range p.Versions {
		n += len(vs)
	}
	if problems := p.Check(man); len(problems) > 0 {
		for _, msg := range problems {
			fmt.Fprintln(stderr, "release: proxy: unresolvable:", msg)
		}
		fmt.Fprintf(stderr, "release: proxy: FAIL: %d requirements a consumer cannot resolve (%d module versions written to %s)\n", len(problems), n, p.Dir)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", p.URL())
	fmt.Fprintf(stderr, "release: proxy: %d module versions of %d modules in %s; use GOPROXY=%s\n", n, len(p.Versions), p.Dir, p.URL())
	return 0
}

// syncRequires rewrites the in-repo requirements of every module (tools
// included) to the manifest versions.
func syncRequires(root string, stdout, stderr io.Writer) int {
	man, err := repo.ReadManifest(root)
	if err != nil {
		fmt.Fprintln(stderr, "release: sync:", err)
		return 1
	}
	dirs := man.Dirs()
	if _, err := os.Stat(filepath.Join(root, "tools", "go.mod")); err == nil {
		dirs = append(dirs, "tools")
	}
	changed := 0
	for _, d := range dirs {
		n, err := syncGoMod(root, d, man)
		if err != nil {
			fmt.Fprintf(stderr, "release: sync: %s: %v\n", d, err)
			return 1
		}
		for _, line := range n {
			fmt.Fprintf(stdout, "%s/go.mod: %s\n", d, line)
		}
		changed += len(n)
	}
	fmt.Fprintf(stderr, "release: sync: %d requirements updated\n", changed)
	return 0
}

// openSections gives every module whose manifest version has no changelog
// section one, made of its [Unreleased] notes.
func openSections(root, date string, stdout, stderr io.Writer) int {
	man, err := repo.ReadManifest(root)
	if err != nil {
		fmt.Fprintln(stderr, "release: changelog:", err)
		return 1
	}
	failed := 0
	for _, e := range man.Modules {
		if changelogHas(root, e.Dir, e.Version) == nil {
			continue
		}
		if err := openSection(root, e.Dir, e.Version, date); err != nil {
			fmt.Fprintln(stderr, "release: changelog:", err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%s/%s: [Unreleased] notes are now ## [%s] - %s\n", e.Dir, ChangelogFile, strings.TrimPrefix(e.Version, "v"), date)
	}
	if failed > 0 {
		return 1
	}
	return 0
}
