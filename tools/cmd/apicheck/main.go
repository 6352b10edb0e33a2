// Command apicheck keeps each library module's exported API in step with its
// version in versions.yaml, so that an incompatible change cannot be released
// under a compatible version.
//
// Every module commits a listing of its exported API, <dir>/api.txt, whose
// first line names the version it describes ("# <module path> vX.Y.Z"). The
// check regenerates the listing from the code (go/types, each module alone
// with GOWORK=off; internal packages, commands and tests left out) and
// compares:
//
//   - a removed or changed name, or a method added to an interface that
//     other code may implement, needs a major bump over the listing's
//     version (a minor one while the major version is 0);
//   - an added name needs a minor bump;
//   - otherwise the listing is current.
//
// It fails, naming the module and each name, when versions.yaml lacks the
// bump the change needs; when the bump is there but the listing still
// describes the old version, it asks for `make api`. A module without a
// listing fails the same way.
//
// Usage (from tools/; the tools module is not in go.work):
//
//	GOWORK=off go run ./cmd/apicheck          # check (make apicheck)
//	GOWORK=off go run ./cmd/apicheck -write   # write the listings (make api)
//
// -write refuses a module whose version in versions.yaml is not bumped enough
// for its change and writes the rest; so the release workflow is: bump the
// versions in versions.yaml, then `make api`. -bump instead raises each such
// version to the lowest that suffices (in versions.yaml) and writes the
// listings: one command after a series of changes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func main() { repo.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apicheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := repo.RootFlag(fs)
	write := fs.Bool("write", false, "write the listings of modules whose version allows their change (make api)")
	bump := fs.Bool("bump", false, "raise versions.yaml to the lowest version each change needs, then write the listings")
	only := fs.String("m", "", "check only the module in this directory")
	dir, code := repo.ParseRoot(fs, root, args)
	if code != 0 {
		return code
	}
	man, err := repo.ReadManifest(dir)
	if err != nil {
		fmt.Fprintln(stderr, "apicheck:", err)
		return 1
	}
	failed, wrote, ok := 0, 0, 0
	for _, e := range man.Modules {
		if *only != "" && e.Dir != *only {
			continue
		}
		r, err := checkModule(ctx, dir, e)
		if err != nil {
			fmt.Fprintf(stderr, "apicheck: %s: %v\n", e.Dir, err)
			failed++
			continue
		}
		if *bump && r.need != none && r.have < r.need {
			nv := next(r.old.Version, r.need)
			if err := setVersion(dir, e.Dir, nv); err != nil {
				fmt.Fprintf(stderr, "apicheck: %s: %v\n", e.Dir, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "apicheck: %s: %s -> %s in %s (%s)\n", e.Dir, e.Version, nv, repo.ManifestFile, r.summary())
			e.Version = nv
			r.version, r.have = nv, bumpOf(r.old.Version, nv)
		}
		switch {
		case r.problem() == "":
			ok++
		case (*write || *bump) && r.writable():
			l := listing{Module: repo.ModulePath(e.Dir), Version: e.Version, Features: r.cur}
			if err := os.WriteFile(r.path, l.encode(), 0o644); err != nil {
				fmt.Fprintf(stderr, "apicheck: %s: %v\n", e.Dir, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "apicheck: wrote %s (%s %s, %d features)\n", r.rel, e.Dir, e.Version, len(r.cur))
			wrote++
		default:
			fmt.Fprint(stderr, r.problem())
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "apicheck: FAIL: %d modules (%d ok, %d listings written)\n", failed, ok, wrote)
		return 1
	}
	fmt.Fprintf(stdout, "apicheck: ok: %d modules match their API listing (%d written)\n", ok+wrote, wrote)
	return 0
}

// result is one module's check.
type result struct {
	dir, path, rel string
	version        string   // in versions.yaml
	cur            []string // the API of the code
	old            listing  // the committed listing (Version "" when there is none)
	d              diff
	need, have     level // bump the change needs; bump versions.yaml has over the listing
}

func checkModule(ctx context.Context, root string, e repo.Entry) (*result, error) {
	r := &result{dir: e.Dir, version: e.Version}
	r.rel = filepath.ToSlash(filepath.Join(e.Dir, ListingFile))
	r.path = filepath.Join(root, filepath.FromSlash(r.rel))
	cur, err := moduleAPI(ctx, filepath.Join(root, filepath.FromSlash(e.Dir)), repo.ModulePath(e.Dir))
	if err != nil {
		return nil, err
	}
	r.cur = cur
	if _, err := os.Stat(r.path); os.IsNotExist(err) {
		return r, nil
	}
	r.old, err = readListing(r.path)
	if err != nil {
		return nil, err
	}
	if r.old.Module != repo.ModulePath(e.Dir) {
		return nil, fmt.Errorf("%s describes module %s, not %s", r.rel, r.old.Module, repo.ModulePath(e.Dir))
	}
	r.d = compare(r.old.Features, cur)
	r.need = required(r.d, r.old.Version)
	r.have = bumpOf(r.old.Version, e.Version)
	return r, nil
}

// writable reports whether -write may record the current API: there was no
// listing, or the version allows the change.
func (r *result) writable() bool {
	return r.old.Version == "" || r.have >= r.need
}

func (r *result) summary() string {
	switch {
	case r.d.breaking():
		return fmt.Sprintf("incompatible change: %d removed or changed, %d added", len(r.d.Removed)+len(r.d.Incompatible), len(r.d.Added)-len(r.d.Incompatible))
	case len(r.d.Added) > 0:
		return fmt.Sprintf("%d added", len(r.d.Added))
	default:
		return "no change"
	}
}

// problem returns the message for a module that does not pass, or "".
func (r *result) problem() string {
	var b strings.Builder
	switch {
	case r.old.Version == "":
		fmt.Fprintf(&b, "apicheck: %s: no API listing %s; run `make api` to write it\n", r.dir, r.rel)
	case r.d.empty() && r.old.Version == r.version:
		return ""
	case r.d.empty():
		// The same API under another version: the listing must say which
		// version it describes, or a later change would be measured from
		// the wrong one.
		fmt.Fprintf(&b, "apicheck: %s: %s describes %s, %s says %s (API unchanged); run `make api` to record it\n", r.dir, r.rel, r.old.Version, repo.ManifestFile, r.version)
	case r.have < r.need:
		fmt.Fprintf(&b, "apicheck: %s: the exported API changed since %s (%s), but %s says %s; it needs a %s bump (at least %s), then `make api`:\n",
			r.dir, r.old.Version, r.summary(), repo.ManifestFile, r.version, r.need, next(r.old.Version, r.need))
		for _, f := range r.d.Removed {
			fmt.Fprintf(&b, "  removed or changed: %s\n", f)
		}
		for _, f := range r.d.Incompatible {
			fmt.Fprintf(&b, "  added to an interface others implement: %s\n", f)
		}
		for _, f := range r.d.Added {
			if !slices.Contains(r.d.Incompatible, f) {
				fmt.Fprintf(&b, "  added: %s\n", f)
			}
		}
	default:
		fmt.Fprintf(&b, "apicheck: %s: %s is at %s, which allows its API change since %s (%s); run `make api` to record the new listing\n",
			r.dir, repo.ManifestFile, r.version, r.old.Version, r.summary())
	}
	return b.String()
}

// setVersion rewrites the "  <dir>: vX.Y.Z" line of versions.yaml.
func setVersion(root, dir, v string) error {
	p := filepath.Join(root, repo.ManifestFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^(  ` + regexp.QuoteMeta(dir) + `: )v\S+`)
	if !re.Match(data) {
		return fmt.Errorf("no `  %s: vX.Y.Z` line in %s", dir, repo.ManifestFile)
	}
	data = re.ReplaceAll(data, []byte("${1}"+v))
	if _, err := repo.ParseManifest(data); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}
