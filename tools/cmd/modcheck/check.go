package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// problem is one broken rule, attributed to a module directory (or to a
// repository file such as go.work).
type problem struct {
	Where string
	Msg   string
}

func (p problem) String() string { return p.Where + ": " + p.Msg }

// checker checks one repository against a rules table.
type checker struct {
	root  string
	rules []rule
	env   []string
	byDir map[string]*rule

	mods     map[string]*modfile.File // parsed go.mod by module dir (library modules and tools)
	goDirect string                   // the go directive every module must have (go.work's)
	problems []problem
	packages int // library packages whose imports were checked
}

func (c *checker) add(where, format string, args ...any) {
	c.problems = append(c.problems, problem{Where: where, Msg: fmt.Sprintf(format, args...)})
}

// check runs every check on the repository at root and returns the
// problems found, and how many packages' imports it checked. env is added to
// the environment of the go commands it runs.
func check(ctx context.Context, root string, rules []rule, env ...string) ([]problem, int) {
	c := &checker{root: root, rules: rules, env: env, byDir: map[string]*rule{}, mods: map[string]*modfile.File{}}
	for i := range rules {
		c.byDir[rules[i].Dir] = &rules[i]
	}
	c.checkTable()
	c.checkManifest()
	c.checkWork()
	c.checkModuleFiles()
	c.checkGoModFilesAreKnown()
	c.checkDependabot()
	c.checkDocTables()
	c.checkNoLatest()
	c.checkActionsPinned()
	c.checkImports(ctx)
	return c.problems, c.packages
}

// checkTable catches mistakes in the rules table itself.
func (c *checker) checkTable() {
	for _, r := range c.rules {
		for _, d := range slices.Concat(r.Imports, r.TestImports) {
			if c.byDir[d] == nil {
				c.add("modcheck rules", "module %s lists unknown module %q", r.Dir, d)
			}
		}
	}
}

func (c *checker) checkManifest() {
	m, err := repo.ReadManifest(c.root)
	if err != nil {
		c.add(repo.ManifestFile, "%v", err)
		if m == nil {
			return
		}
	}
	listed := map[string]bool{}
	for _, e := range m.Modules {
		listed[e.Dir] = true
		switch r := c.byDir[e.Dir]; {
		case r == nil:
			c.add(repo.ManifestFile, "line %d: %s is not a library module in the module table (add it to the rules table in tools/cmd/modcheck/rules.go)", e.Line, e.Dir)
		case r.TestOnly:
			c.add(repo.ManifestFile, "line %d: %s holds only tests and is never released: remove its entry", e.Line, e.Dir)
		}
	}
	for _, r := range c.rules {
		if !listed[r.Dir] && !r.TestOnly {
			c.add(repo.ManifestFile, "module %s has no version entry (add `  %s: v0.1.0`)", r.Dir, r.Dir)
		}
	}
}

func (c *checker) checkWork() {
	const name = "go.work"
	data, err := os.ReadFile(filepath.Join(c.root, name))
	if err != nil {
		c.add(name, "%v", err)
		return
	}
	w, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		c.add(name, "%v", err)
		return
	}
	if w.Go == nil {
		c.add(name, "no go directive")
	} else {
		c.goDirect = w.Go.Version
	}
	if w.Toolchain != nil {
		c.add(name, "has a toolchain line (%s); the repository builds with the go directive alone", w.Toolchain.Name)
	}
	used := map[string]bool{}
	for _, u := range w.Use {
		d := path.Clean(filepath.ToSlash(u.Path))
		used[d] = true
		switch {
		case d == toolsDir:
			c.add(name, "uses ./%s: tools stays out of the workspace so that its pinned tool dependencies never raise the library modules' build list", toolsDir)
		case c.byDir[d] == nil:
			c.add(name, "uses %s, which is not a library module in the module table (tools/cmd/modcheck/rules.go)", u.Path)
		}
	}
	for _, r := range c.rules {
		if !used[r.Dir] {
			c.add(r.Dir, "not in go.work (add ./%s to its use block)", r.Dir)
		}
	}
}

// checkModuleFiles checks each module's go.mod, README.md and doc.go.
func (c *checker) checkModuleFiles() {
	dirs := []string{}
	for _, r := range c.rules {
		dirs = append(dirs, r.Dir)
	}
	dirs = append(dirs, toolsDir)
	for _, d := range dirs {
		f, err := c.readGoMod(d)
		if err != nil {
			c.add(d, "%v", err)
			continue
		}
		c.mods[d] = f
		want := repo.ModulePath(d)
		if f.Module == nil || f.Module.Mod.Path != want {
			c.add(d, "go.mod must declare module %s", want)
		}
		switch {
		case f.Go == nil:
			c.add(d, "go.mod has no go directive (want go %s, as in go.work)", c.goDirect)
		case c.goDirect != "" && f.Go.Version != c.goDirect:
			c.add(d, "go.mod says go %s, go.work says go %s: every module has the same go directive", f.Go.Version, c.goDirect)
		}
		if f.Toolchain != nil {
			c.add(d, "go.mod has a toolchain line (%s); remove it", f.Toolchain.Name)
		}
		if d == toolsDir {
			continue
		}
		for _, file := range []string{"README.md", "doc.go"} {
			if fi, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(d), file)); err != nil || !fi.Mode().IsRegular() {
				c.add(d, "has no %s", file)
			}
		}
	}
	for _, d := range dirs {
		if f := c.mods[d]; f != nil {
			c.checkReplaces(d, f)
		}
	}
}

func (c *checker) readGoMod(dir string) (*modfile.File, error) {
	p := filepath.Join(c.root, filepath.FromSlash(dir), "go.mod")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("no go.mod: %w", err)
	}
	return modfile.Parse(p, data, nil)
}

// inRepoRequires returns the in-repo module dirs that f requires.
func (c *checker) inRepoRequires(where string, f *modfile.File) []string {
	var out []string
	for _, r := range f.Require {
		d, ok := repo.DirOf(r.Mod.Path)
		if !ok {
			continue
		}
		if c.byDir[d] == nil {
			c.add(where, "requires %s, which is not a library module of this repository", r.Mod.Path)
			continue
		}
		out = append(out, d)
	}
	return out
}

// checkReplaces checks that dir's go.mod has a replace line to the right
// relative directory for every in-repo module in its requirement graph, so
// that it builds alone (GOWORK=off) against the code in this checkout.
func (c *checker) checkReplaces(dir string, f *modfile.File) {
	need := map[string]bool{}
	queue := c.inRepoRequires(dir, f)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if need[d] || d == dir {
			continue // seen, or the module itself (a requirement cycle)
		}
		need[d] = true
		if g := c.mods[d]; g != nil {
			for _, r := range g.Require {
				if dd, ok := repo.DirOf(r.Mod.Path); ok && c.byDir[dd] != nil {
					queue = append(queue, dd)
				}
			}
		}
	}
	replaced := map[string]string{}
	for _, r := range f.Replace {
		if d, ok := repo.DirOf(r.Old.Path); ok {
			replaced[d] = r.New.Path
		}
	}
	for _, d := range sortedKeys(need) {
		rel, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(d))
		if err != nil {
			c.add(dir, "%v", err)
			continue
		}
		want := filepath.ToSlash(rel)
		if !strings.HasPrefix(want, ".") {
			want = "./" + want
		}
		got, ok := replaced[d]
		switch {
		case !ok:
			c.add(dir, "go.mod has no replace line for %s, which is in its requirement graph (add: replace %s => %s)", repo.ModulePath(d), repo.ModulePath(d), want)
		case path.Join(dir, got) != d:
			c.add(dir, "go.mod replaces %s with %s, want %s", repo.ModulePath(d), got, want)
		}
	}
}

// checkGoModFilesAreKnown finds every go.mod in the tree: each must be a
// module of the rules table (or tools), so a new module cannot skip the rules.
func (c *checker) checkGoModFilesAreKnown() {
	err := filepath.WalkDir(c.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != c.root && skipDir(e.Name()) {
			return filepath.SkipDir
		}
		if e.IsDir() || e.Name() != "go.mod" {
			return nil
		}
		rel, err := filepath.Rel(c.root, filepath.Dir(p))
		if err != nil {
			return err
		}
		d := filepath.ToSlash(rel)
		if d != toolsDir && c.byDir[d] == nil {
			c.add(d, "has a go.mod but is not in the module table: add it to the rules table in tools/cmd/modcheck/rules.go, versions.yaml, go.work and .github/dependabot.yml (docs/ARCHITECTURE.md, \"Adding a module\")")
		}
		return nil
	})
	if err != nil {
		c.add(".", "walking the tree: %v", err)
	}
}

// skipDir reports whether a directory is outside the module tree: hidden and
// underscore directories, testdata, vendor, and the build output in bin/.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "bin" || name == "node_modules"
}

// checkDependabot wants one gomod entry whose directories list every module
// (tools included) exactly once, so that one schedule, label and grouping
// covers them all and a new module is one more line, and a github-actions
// entry.
func (c *checker) checkDependabot() {
	const name = ".github/dependabot.yml"
	data, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(name)))
	if err != nil {
		c.add(name, "%v", err)
		return
	}
	var cfg struct {
		Version int `yaml:"version"`
		Updates []struct {
			Ecosystem   string   `yaml:"package-ecosystem"`
			Directory   string   `yaml:"directory"`
			Directories []string `yaml:"directories"`
		} `yaml:"updates"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		c.add(name, "%v", err)
		return
	}
	if cfg.Version != 2 {
		c.add(name, "version is %d, want 2", cfg.Version)
	}
	gomod := map[string]bool{}
	entries, actions := 0, false
	for _, u := range cfg.Updates {
		switch u.Ecosystem {
		case "gomod":
			entries++
			ds := u.Directories
			if u.Directory != "" {
				ds = append(ds, u.Directory)
			}
			if entries > 1 {
				c.add(name, "gomod entry %d (%s): want one gomod entry; move its directories into the first entry's directories list", entries, strings.Join(ds, " "))
			} else if u.Directory != "" {
				c.add(name, "the gomod entry has directory: %s; list every module under directories: instead", u.Directory)
			}
			for _, d := range ds {
				d = strings.Trim(path.Clean("/"+d), "/")
				if gomod[d] {
					c.add(name, "directory /%s is listed more than once", d)
				}
				gomod[d] = true
				if d != toolsDir && c.byDir[d] == nil {
					c.add(name, "gomod directory /%s is not a module of this repository", d)
				}
			}
		case "github-actions":
			actions = true
		}
	}
	for _, r := range c.rules {
		if !gomod[r.Dir] {
			c.add(r.Dir, "directory /%s is not in the directories of the gomod entry in %s", r.Dir, name)
		}
	}
	if !gomod[toolsDir] {
		c.add(toolsDir, "directory /%s is not in the directories of the gomod entry in %s", toolsDir, name)
	}
	if !actions {
		c.add(name, "no github-actions entry")
	}
}

// docTables are the documents whose module tables must list every library
// module: the rules (docs/ARCHITECTURE.md) and the tour (README.md).
var docTables = []string{"docs/ARCHITECTURE.md", "README.md"}

// checkDocTables wants a row for every library module in the module table
// of each of docTables: a table line whose first cell is the module's
// directory in backquotes, linked or not ("| `fault/retry` |" or
// "| [`fault/retry`](fault/retry) |").
func (c *checker) checkDocTables() {
	for _, name := range docTables {
		data, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(name)))
		if err != nil {
			c.add(name, "%v", err)
			continue
		}
		rows := map[string]bool{}
		for _, l := range strings.Split(string(data), "\n") {
			if m := docTableRow.FindStringSubmatch(l); m != nil {
				rows[m[1]] = true
			}
		}
		for _, r := range c.rules {
			if !rows[r.Dir] && !r.TestOnly {
				c.add(r.Dir, "no row in the module table of %s (docs/ARCHITECTURE.md, \"Adding a module\")", name)
			}
		}
	}
}

// docTableRow matches a module table row and captures the directory in its
// first cell.
var docTableRow = regexp.MustCompile("^\\| \\[?`([a-z0-9/]+)`(?:\\]\\([^)]*\\))? \\|")

// checkNoLatest makes sure nothing in the repository installs or requires a
// floating version: every tool and dependency is pinned.
func (c *checker) checkNoLatest() {
	needle := []byte("@" + "latest") // spelled so that this file passes its own check
	err := filepath.WalkDir(c.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != c.root && (e.Name() == ".git" || e.Name() == "bin" || e.Name() == ".cache" || e.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return nil // binary
		}
		for i, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, needle) {
				rel, _ := filepath.Rel(c.root, p)
				c.add(filepath.ToSlash(rel), "line %d uses %s: pin an exact version instead", i+1, needle)
			}
		}
		return nil
	})
	if err != nil {
		c.add(".", "scanning for floating versions: %v", err)
	}
}

// usesLine is a workflow step's `uses: owner/repo[/path]@ref` with an
// optional trailing comment.
var usesLine = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*([^\s@#]+)@(\S+)\s*(#.*)?$`)

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkActionsPinned makes sure every action a workflow uses is pinned by
// commit SHA, with the version it is in a comment (`@<sha> # v5.0.0`), so
// that a moved tag cannot change what CI runs and dependabot can still
// propose updates.
func (c *checker) checkActionsPinned() {
	dir := filepath.Join(c.root, ".github", "workflows")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // no workflows
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yml") || strings.HasSuffix(e.Name(), ".yaml")) {
			continue
		}
		name := ".github/workflows/" + e.Name()
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			c.add(name, "%v", err)
			continue
		}
		for i, l := range strings.Split(string(data), "\n") {
			m := usesLine.FindStringSubmatch(l)
			if m == nil || strings.HasPrefix(m[1], "./") || strings.HasPrefix(m[1], "docker://") {
				continue
			}
			switch {
			case !fullSHA.MatchString(m[2]):
				c.add(name, "line %d uses %s@%s: pin the action by its full commit SHA, with the version in a comment (%s@<sha> # %s)", i+1, m[1], m[2], m[1], m[2])
			case !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(m[3], "#")), "v"):
				c.add(name, "line %d pins %s by SHA without the version in a comment (# vX.Y.Z)", i+1, m[1])
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
