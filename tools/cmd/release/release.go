package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// tag is one module release.
type tag struct {
	Dir     string // module directory, e.g. "fault/retry"
	Version string // e.g. "v0.1.0"
	Name    string // e.g. "go/src/fault/retry/v0.1.0"
}

// plan is what release would do.
type plan struct {
	Create   []tag    // tags to create, dependencies first
	Released []tag    // modules already tagged at their manifest version
	Notes    []string // things worth knowing that do not stop a release
}

func tagName(dir, version string) string { return repo.TagPrefix + dir + "/" + version }

// makePlan reads the manifest, the modules' go.mod files and the existing
// tags, and returns the tags to create in dependency order, or an error
// naming every reason to refuse.
func makePlan(root string, g git) (*plan, error) {
	man, err := repo.ReadManifest(root)
	if err != nil {
		return nil, err
	}
	inRepo := map[string]bool{}
	for _, e := range man.Modules {
		inRepo[repo.ModulePath(e.Dir)] = true
	}

	var errs []error
	// requires[dir] lists the in-repo modules that dir's go.mod requires;
	// replaced[dir][path] says that a replace line builds path from a
	// directory inside the repository instead.
	requires := map[string][]module.Version{}
	replaced := map[string]map[string]bool{}
	for _, e := range man.Modules {
		gomod := filepath.Join(root, filepath.FromSlash(e.Dir), "go.mod")
		data, err := os.ReadFile(gomod)
		if err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", e.Dir, err))
			continue
		}
		f, err := modfile.Parse(gomod, data, nil) // not ParseLax, which drops replace lines
		if err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", e.Dir, err))
			continue
		}
		want := repo.ModulePath(e.Dir)
		if f.Module == nil || f.Module.Mod.Path != want {
			errs = append(errs, fmt.Errorf("module %s: go.mod must declare module %s", e.Dir, want))
			continue
		}
		if err := module.Check(want, e.Version); err != nil {
			// e.g. v2.0.0 for a path without the /v2 suffix.
			errs = append(errs, fmt.Errorf("module %s: version %s: %w", e.Dir, e.Version, err))
		}
		for _, r := range f.Require {
			if inRepo[r.Mod.Path] {
				requires[e.Dir] = append(requires[e.Dir], r.Mod)
			}
		}
		for _, r := range f.Replace {
			if inRepo[r.Old.Path] && r.New.Version == "" {
				if replaced[e.Dir] == nil {
					replaced[e.Dir] = map[string]bool{}
				}
				replaced[e.Dir][r.Old.Path] = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	order, cycleNotes := dependencyOrder(man.Dirs(), requires)

	existing, err := g.tags()
	if err != nil {
		return nil, err
	}
	// highest[dir] is the highest version tagged for dir.
	highest := map[string]string{}
	for name := range existing {
		rest, ok := strings.CutPrefix(name, repo.TagPrefix)
		if !ok {
			continue
		}
		dir, v := path.Split(rest)
		dir = strings.TrimSuffix(dir, "/")
		if !semver.IsValid(v) {
			continue
		}
		if h, ok := highest[dir]; !ok || semver.Compare(v, h) > 0 {
			highest[dir] = v
		}
	}

	p := &plan{Notes: cycleNotes}
	planned := map[string]bool{}
	for _, dir := range order {
		v, _ := man.Version(dir)
		t := tag{Dir: dir, Version: v, Name: tagName(dir, v)}
		if existing[t.Name] {
			p.Released = append(p.Released, t)
			changed, err := g.changedSince(t.Name, dir, nestedIn(dir, man.Dirs()))
			if err != nil {
				return nil, err
			}
			if changed {
				p.Notes = append(p.Notes, fmt.Sprintf("%s changed since %s; bump its version in %s to release the change", dir, t.Name, repo.ManifestFile))
			}
			continue
		}
		if h, ok := highest[dir]; ok && semver.Compare(v, h) < 0 {
			errs = append(errs, fmt.Errorf("module %s: manifest version %s is lower than the released %s (tag %s)", dir, v, h, tagName(dir, h)))
			continue
		}
		p.Create = append(p.Create, t)
		planned[t.Name] = true
	}
	// Every version to tag has its section in the module's changelog.
	for _, t := range p.Create {
		if err := changelogHas(root, t.Dir, t.Version); err != nil {
			errs = append(errs, err)
		}
	}
	// Consumers ignore replace lines: every in-repo requirement of a module
	// about to be tagged must name a version that will exist as a tag, and
	// the version the module was built with in the repository (through its
	// replace line: the dependency's tree, which the manifest releases at
	// its version) must be the one a service gets.
	for _, t := range p.Create {
		for _, r := range requires[t.Dir] {
			dep, _ := repo.DirOf(r.Path)
			need := tagName(dep, r.Version)
			mv, _ := man.Version(dep)
			viaReplace := replaced[t.Dir][r.Path]
			switch {
			case !existing[need] && !planned[need]:
				msg := fmt.Sprintf("module %s requires %s %s, but tag %s neither exists nor is about to be created (the manifest has %s at %s): update the requirement in %s/go.mod", t.Dir, dep, r.Version, need, dep, mv, t.Dir)
				if viaReplace {
					msg += fmt.Sprintf("; its replace line hides this inside the repository, but a service gets exactly %s %s, and cannot", dep, r.Version)
				}
				errs = append(errs, errors.New(msg))
			case viaReplace && semver.Compare(r.Version, mv) < 0:
				errs = append(errs, fmt.Errorf("module %s requires %s %s, but its replace line builds it inside the repository against the tree of %s, which the manifest releases as %s: a service would get %s %s, which %s %s was not built with; require %s %s in %s/go.mod (make release-sync)", t.Dir, dep, r.Version, dep, mv, dep, r.Version, t.Dir, t.Version, dep, mv, t.Dir))
			case viaReplace && existing[need] && r.Version == mv:
				changed, err := g.codeChangedSince(need, dep, nestedIn(dep, man.Dirs()))
				if err != nil {
					return nil, err
				}
				if len(changed) > 0 {
					errs = append(errs, fmt.Errorf("module %s requires %s %s, but its replace line builds it inside the repository against the tree of %s, whose code changed since %s (%s): a service would get the released %s without those changes; bump %s in %s, release it with %s and require it", t.Dir, dep, r.Version, dep, need, strings.Join(changed, ", "), dep, dep, repo.ManifestFile, t.Dir))
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// dependencyOrder sorts dirs so that every module comes after the in-repo
// modules it requires; modules that do not depend on each other keep their
// manifest order. It returns notes on requirement cycles, which it breaks in
// manifest order.
func dependencyOrder(dirs []string, requires map[string][]module.Version) (order, notes []string) {
	done := map[string]bool{}
	for len(order) < len(dirs) {
		progress := false
		for _, d := range dirs {
			if done[d] {
				continue
			}
			ready := true
			for _, r := range requires[d] {
				dep, _ := repo.DirOf(r.Path)
				if !done[dep] {
					ready = false
					break
				}
			}
			if ready {
				done[d] = true
				order = append(order, d)
				progress = true
				break // restart so that manifest order decides among ready modules
			}
		}
		if !progress {
			// A requirement cycle (Go allows them; test-only imports make
			// them): nothing is ready. Take the first module left in
			// manifest order; the cycle's tags are created in the same run,
			// so each requirement still names a tag that exists by the end.
			var left []string
			for _, d := range dirs {
				if !done[d] {
					left = append(left, d)
				}
			}
			notes = append(notes, fmt.Sprintf("the go.mod requirements of %s form a cycle: their tags are created together, in manifest order", strings.Join(left, ", ")))
			done[left[0]] = true
			order = append(order, left[0])
		}
	}
	return order, notes
}

// createTags creates the planned tags at rev, after checking that nothing
// released has uncommitted changes and that no tag exists yet.
func createTags(g git, p *plan, rev string) error {
	paths := []string{repo.ManifestFile}
	for _, t := range p.Create {
		paths = append(paths, t.Dir)
	}
	dirty, err := g.run(append([]string{"status", "--porcelain", "--"}, paths...)...)
	if err != nil {
		return err
	}
	if strings.TrimSpace(dirty) != "" {
		return fmt.Errorf("uncommitted changes in the modules to release; commit them first:\n%s", dirty)
	}
	for _, t := range p.Create {
		// No -f: git refuses a tag that already exists, so a race with
		// another release run cannot move a published tag.
		if _, err := g.run("tag", "-a", "-m", t.Dir+" "+t.Version, t.Name, rev); err != nil {
			return fmt.Errorf("creating %s: %w", t.Name, err)
		}
	}
	return nil
}

// git runs git in a repository.
type git struct {
	ctx context.Context // the lifetime of the command run
	dir string
}

func (g git) run(args ...string) (string, error) {
	cmd := exec.CommandContext(g.ctx, "git", append([]string{"-C", g.dir}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// tags returns the release tags (those under go/src/) of the repository.
func (g git) tags() (map[string]bool, error) {
	out, err := g.run("tag", "--list", repo.TagPrefix+"*")
	if err != nil {
		return nil, err
	}
	tags := map[string]bool{}
	for _, l := range strings.Fields(out) {
		tags[l] = true
	}
	return tags, nil
}

// nestedIn returns the module directories inside dir (fault/retry is inside
// fault): their files belong to them, not to dir.
func nestedIn(dir string, dirs []string) []string {
	var nested []string
	for _, d := range dirs {
		if strings.HasPrefix(d, dir+"/") {
			nested = append(nested, d)
		}
	}
	return nested
}

// codeChangedSince returns the Go files and go.mod of the module in dir
// (leaving out the nested modules) that differ between tag and HEAD: what a
// module built against dir's tree sees that the release tag does not have.
func (g git) codeChangedSince(tag, dir string, nested []string) ([]string, error) {
	args := []string{"diff", "--name-only", tag, "HEAD", "--", dir}
	for _, n := range nested {
		args = append(args, ":(exclude)"+n)
	}
	out, err := g.run(args...)
	if err != nil {
		return nil, err
	}
	var code []string
	for _, f := range strings.Fields(out) {
		if strings.HasSuffix(f, ".go") || path.Base(f) == "go.mod" || path.Base(f) == "go.sum" {
			code = append(code, f)
		}
	}
	return code, nil
}

// changedSince reports whether the files of the module in dir (leaving out
// the nested modules) differ between tag and HEAD.
func (g git) changedSince(tag, dir string, nested []string) (bool, error) {
	args := []string{"diff", "--name-only", tag, "HEAD", "--", dir}
	for _, n := range nested {
		args = append(args, ":(exclude)"+n)
	}
	out, err := g.run(args...)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) != "", nil
}

// ChangelogFile is the name of each module's changelog (Keep a Changelog).
const ChangelogFile = "CHANGELOG.md"

// changelogHas checks that dir/CHANGELOG.md has a "## [X.Y.Z]" section (an
// optional " - date" after it) for version vX.Y.Z.
func changelogHas(root, dir, version string) error {
	p := filepath.Join(root, filepath.FromSlash(dir), ChangelogFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("module %s: version %s has no changelog entry: %s/%s is missing (Keep a Changelog format, a section \"## [%s]\")", dir, version, dir, ChangelogFile, strings.TrimPrefix(version, "v"))
	}
	want := "## [" + strings.TrimPrefix(version, "v") + "]"
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == want || strings.HasPrefix(l, want+" ") {
			return nil
		}
	}
	return fmt.Errorf("module %s: version %s has no changelog entry: add a section \"%s - YYYY-MM-DD\" to %s/%s (move the [Unreleased] notes there)", dir, version, want, dir, ChangelogFile)
}

// syncGoMod sets the in-repo requirements of dir/go.mod to the manifest
// versions and returns what it changed ("path vOld -> vNew").
func syncGoMod(root, dir string, man *repo.Manifest) ([]string, error) {
	p := filepath.Join(root, filepath.FromSlash(dir), "go.mod")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(p, data, nil)
	if err != nil {
		return nil, err
	}
	var changes []string
	for _, r := range f.Require {
		dep, ok := repo.DirOf(r.Mod.Path)
		if !ok {
			continue
		}
		mv, ok := man.Version(dep)
		if !ok || mv == r.Mod.Version {
			continue
		}
		changes = append(changes, fmt.Sprintf("%s %s -> %s", r.Mod.Path, r.Mod.Version, mv))
		if err := f.AddRequire(r.Mod.Path, mv); err != nil {
			return nil, err
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	out, err := f.Format()
	if err != nil {
		return nil, err
	}
	return changes, os.WriteFile(p, out, 0o644)
}

// openSection moves the notes under "## [Unreleased]" in dir's changelog to
// a new section for version, dated date, leaving [Unreleased] empty.
func openSection(root, dir, version, date string) error {
	p := filepath.Join(root, filepath.FromSlash(dir), ChangelogFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		// A new module: its first release, described by its package doc.
		data = []byte(newChangelog(root, dir))
	} else if err != nil {
		return fmt.Errorf("module %s: %w", dir, err)
	}
	text := string(data)
	const head = "## [Unreleased]"
	i := strings.Index(text, head+"\n")
	if i < 0 {
		return fmt.Errorf("module %s: %s/%s has no %q heading to take the %s notes from", dir, dir, ChangelogFile, head, version)
	}
	bodyStart := i + len(head) + 1
	bodyEnd := len(text)
	if j := strings.Index(text[bodyStart:], "\n## ["); j >= 0 {
		bodyEnd = bodyStart + j + 1
	}
	body := strings.TrimSpace(text[bodyStart:bodyEnd])
	if body == "" {
		return fmt.Errorf("module %s: version %s has no changelog section and [Unreleased] in %s/%s is empty: write what changed there", dir, version, dir, ChangelogFile)
	}
	section := fmt.Sprintf("%s\n\n## [%s] - %s\n\n%s\n\n", head, strings.TrimPrefix(version, "v"), date, body)
	return os.WriteFile(p, []byte(text[:i]+section+text[bodyEnd:]), 0o644)
}

// newChangelog returns the changelog of a module that has none yet: a
// header and, under [Unreleased], its first release, described by the
// synopsis of its package doc (doc.go).
func newChangelog(root, dir string) string {
	synopsis := ""
	if f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, filepath.FromSlash(dir), "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly); err == nil && f.Doc != nil {
		synopsis = " " + (&doc.Package{}).Synopsis(f.Doc.Text())
	}
	return "# Changelog\n\nAll notable changes to `" + repo.ModulePath(dir) + "` are recorded\nhere. The format follows [Keep a Changelog](https://keepachangelog.com/en/1.1.0/)\nand the module follows [Semantic Versioning](https://semver.org/spec/v2.0.0.html):\na release is the tag `" + repo.TagPrefix + dir + "/vX.Y.Z`, its version is the module's line\nin `versions.yaml`, and `make release` refuses a version that has no\nsection here. While the major version is 0, a minor version may break the\nAPI; `api.txt` lists the exported API of the version it names.\n\n## [Unreleased]\n\n### Added\n\n- First release." + synopsis + "\n"
}
