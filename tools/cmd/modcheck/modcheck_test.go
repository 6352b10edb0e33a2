package main

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// offline is the environment for go list in the fake repositories: they
// resolve every module through local replace lines, so nothing may come from
// the network.
var offline = []string{"GOPROXY=off", "GOFLAGS=-mod=readonly"}

// fakeRepo is a repository laid out as docs/ARCHITECTURE.md says, built
// from the rules table, with a package per module that imports exactly what
// the table allows. Tests break it in one way and expect modcheck to say so.
type fakeRepo map[string]string // file path (slash-separated) -> content

const thirdDir = "_third" // fake third-party modules, outside the module tree

// fakeThirdParty are local stand-ins for third-party modules: module path ->
// directory under _third and package paths within it.
var fakeThirdParty = map[string][]string{
	"github.com/sony/gobreaker/v2": {""},
	"github.com/google/go-cmp":     {"cmp"},
	"go.uber.org/goleak":           {""},
	"golang.org/x/sync":            {"semaphore", "errgroup"},
	"example.com/evil":             {""},
}

// fakeVersion is the version a fake module is required at.
func fakeVersion(modPath string) string {
	if strings.HasSuffix(modPath, "/v2") {
		return "v2.4.0"
	}
	return "v0.1.0"
}

func pkgName(importPath string) string {
	name := path.Base(importPath)
	if strings.HasPrefix(name, "v") && strings.Trim(name[1:], "0123456789") == "" {
		name = path.Base(path.Dir(importPath)) // .../gobreaker/v2
	}
	return strings.ReplaceAll(name, "-", "")
}

// closure returns the in-repo modules dir may reach through the table.
func closure(dir string) []string {
	var out []string
	var walk func(string)
	walk = func(d string) {
		for _, r := range rules {
			if r.Dir == d {
				for _, i := range r.Imports {
					if !slices.Contains(out, i) {
						out = append(out, i)
						walk(i)
					}
				}
			}
		}
	}
	walk(dir)
	return out
}

// requirements is what dir's go.mod requires, as go mod tidy writes it: the
// modules its packages and tests import, and everything their go.mod files
// require in turn (tests included, so a module whose tests run the executor
// brings the executor's requirements to whoever requires it).
func requirements(dir string) []string {
	var out []string
	var walk func(string)
	walk = func(d string) {
		for _, r := range rules {
			if r.Dir == d {
				for _, i := range slices.Concat(r.Imports, r.TestImports) {
					if i != dir && !slices.Contains(out, i) {
						out = append(out, i)
						walk(i)
					}
				}
			}
		}
	}
	walk(dir)
	return out
}

func newFakeRepo() fakeRepo {
	f := fakeRepo{}
	var manifest, work, dependabot, archTable, readmeTable strings.Builder
	archTable.WriteString("| dir | may import |\n| --- | --- |\n")
	readmeTable.WriteString("| dir | holds |\n| --- | --- |\n")
	manifest.WriteString("modules:\n")
	work.WriteString("go 1.25.0\n\nuse (\n")
	dependabot.WriteString("version: 2\nupdates:\n  - package-ecosystem: gomod\n    directories:\n")
	for _, r := range rules {
		if !r.TestOnly {
			manifest.WriteString("  " + r.Dir + ": v0.1.0\n")
		}
		work.WriteString("\t./" + r.Dir + "\n")
		archTable.WriteString("| `" + r.Dir + "` | ... |\n")
		readmeTable.WriteString("| [`" + r.Dir + "`](" + r.Dir + ") | ... |\n")
		dependabot.WriteString("      - /" + r.Dir + "\n")
		f[r.Dir+"/go.mod"] = "module " + repo.ModulePath(r.Dir) + "\n\ngo 1.25.0\n"
		for _, d := range requirements(r.Dir) {
			f.addRequire(r.Dir, repo.ModulePath(d), d)
		}
		var imports []string
		for _, d := range r.Imports {
			imports = append(imports, repo.ModulePath(d))
		}
		f[r.Dir+"/doc.go"] = goFile(pkgName(r.Dir), imports...)
		f[r.Dir+"/README.md"] = "# " + r.Dir + "\n"
	}
	work.WriteString(")\n")
	dependabot.WriteString("      - /tools\n")
	dependabot.WriteString("  - package-ecosystem: github-actions\n    directory: /\n")
	f[repo.ManifestFile] = manifest.String()
	f["docs/ARCHITECTURE.md"] = archTable.String()
	f["README.md"] = readmeTable.String()
	f["go.work"] = work.String()
	f[".github/dependabot.yml"] = dependabot.String()
	f[".github/workflows/ci.yml"] = "jobs:\n  test:\n    steps:\n" +
		"      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n" +
		"      - uses: ./.github/actions/local\n" +
		"      - name: setup\n        uses: actions/setup-go@44694675825211faa026b3c33043df3e48a5fa00 # v6.0.0\n"
	f["tools/go.mod"] = "module " + repo.ModulePath("tools") + "\n\ngo 1.25.0\n"
	f.addRequire("tools", repo.ModulePath("fault"), "fault")
	for _, d := range closure("fault") {
		f.addRequire("tools", repo.ModulePath(d), d)
	}
	for mod, pkgs := range fakeThirdParty {
		dir := thirdDir + "/" + strings.NewReplacer(".", "_", "/", "_").Replace(mod)
		f[dir+"/go.mod"] = "module " + mod + "\n\ngo 1.25.0\n"
		for _, p := range pkgs {
			f[path.Join(dir, p, "x.go")] = goFile(pkgName(path.Join(mod, p)))
		}
	}
	// What the table allows, used for real: a third-party package where it
	// is allowed, test-only packages in tests, faulthttp's tests on the
	// executor, a pattern's tests on fault/metrics.
	f.addImport("fault/circuitbreaker", "gobreaker.go", "github.com/sony/gobreaker/v2")
	f.addImport("fault/bulkhead", "semaphore.go", "golang.org/x/sync/semaphore")
	f.addImport("fault/bulkhead", "stress_test.go", "golang.org/x/sync/errgroup")
	f.addImport("fault/retry", "retry_test.go", "github.com/google/go-cmp/cmp", "go.uber.org/goleak")
	f.addImport("fault/shutdown", "shutdown_x_test.go", repo.ModulePath("fault/metrics"), repo.ModulePath("fault/shutdown"))
	f.addImport("fault/faulthttp", "faulthttp_test.go", repo.ModulePath("fault/executor"), repo.ModulePath("fault/retry"))
	f.addImport("fault/health", "health_x_test.go", repo.ModulePath("fault/health"), repo.ModulePath("fault/executor"))
	f.addImport("functional", "result_test.go", "go.uber.org/goleak")
	f.closeRequirements()
	return f
}

// closeRequirements makes every module require (with a replace line) what
// the in-repo modules it requires require, as go mod tidy would, so that a
// test import added above (health's tests on the executor) reaches the
// modules that require health.
func (f fakeRepo) closeRequirements() {
	required := func(dir string) []string {
		var out []string
		for _, line := range strings.Split(f[dir+"/go.mod"], "\n") {
			if dep, ok := strings.CutPrefix(line, "require "+repo.ModulePrefix); ok {
				out = append(out, strings.Fields(dep)[0])
			}
		}
		return out
	}
	for changed := true; changed; {
		changed = false
		for _, r := range rules {
			for _, d := range required(r.Dir) {
				for _, x := range required(d) {
					if x != r.Dir && !slices.Contains(required(r.Dir), x) {
						f.addRequire(r.Dir, repo.ModulePath(x), x)
						changed = true
					}
				}
			}
		}
	}
}

func goFile(pkg string, imports ...string) string {
	var b strings.Builder
	b.WriteString("// Package " + pkg + " is a stand-in.\npackage " + pkg + "\n")
	for _, i := range imports {
		b.WriteString("\nimport _ \"" + i + "\"\n")
	}
	return b.String()
}

// addRequire makes module dir require modPath, with a replace line to
// target (a repository-relative directory), unless it already does.
func (f fakeRepo) addRequire(dir, modPath, target string) {
	gomod := f[dir+"/go.mod"]
	if strings.Contains(gomod, "require "+modPath+" ") {
		return
	}
	rel, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(target))
	if err != nil {
		panic(err)
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	f[dir+"/go.mod"] = gomod + "\nrequire " + modPath + " " + fakeVersion(modPath) + "\n\nreplace " + modPath + " => " + rel + "\n"
}

// addImport writes file name in module dir (in the module's root package,
// or its external test package for an _x_test.go name) importing the given
// packages, and adds the module requirements they need.
func (f fakeRepo) addImport(dir, name string, imports ...string) {
	pkg := pkgName(dir)
	if strings.HasSuffix(name, "_x_test.go") {
		pkg += "_test"
	}
	f[dir+"/"+name] = "package " + pkg + "\n\nimport (\n\t_ \"" + strings.Join(imports, "\"\n\t_ \"") + "\"\n)\n"
	for _, imp := range imports {
		if _, ok := repo.DirOf(imp); ok {
			d := "" // the longest module directory holding imp
			for _, r := range rules {
				if (imp == repo.ModulePath(r.Dir) || strings.HasPrefix(imp, repo.ModulePath(r.Dir)+"/")) && len(r.Dir) > len(d) {
					d = r.Dir
				}
			}
			f.addRequire(dir, repo.ModulePath(d), d)
			for _, dd := range closure(d) {
				f.addRequire(dir, repo.ModulePath(dd), dd)
			}
			continue
		}
		for mod := range fakeThirdParty {
			if imp == mod || strings.HasPrefix(imp, mod+"/") {
				f.addRequire(dir, mod, thirdDir+"/"+strings.NewReplacer(".", "_", "/", "_").Replace(mod))
			}
		}
	}
}

// propagateThirdParty copies the fake third-party requirements (with their
// replace lines, which only the main module's go.mod can give) to every
// module that requires a module needing them, as the go command would need.
func (f fakeRepo) propagateThirdParty() {
	for changed := true; changed; {
		changed = false
		for _, r := range rules {
			for _, d := range closure(r.Dir) {
				for mod := range fakeThirdParty {
					if strings.Contains(f[d+"/go.mod"], "require "+mod+" ") && !strings.Contains(f[r.Dir+"/go.mod"], "require "+mod+" ") {
						f.addRequire(r.Dir, mod, thirdDir+"/"+strings.NewReplacer(".", "_", "/", "_").Replace(mod))
						changed = true
					}
				}
			}
		}
	}
}

func (f fakeRepo) write(t *testing.T) string {
	t.Helper()
	f.propagateThirdParty()
	root := t.TempDir()
	for name, content := range f {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFakeRepoPasses(t *testing.T) {
	t.Parallel()
	root := newFakeRepo().write(t)
	problems, pkgs := check(t.Context(), root, rules, offline...)
	for _, p := range problems {
		t.Errorf("unexpected problem: %s", p)
	}
	if pkgs < len(rules) {
		t.Errorf("checked %d packages, want at least one per module (%d)", pkgs, len(rules))
	}
}

func TestViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		breakIt func(f fakeRepo)
		want    []string // substrings of one problem line
	}{
		{
			name:    "pattern imports pattern",
			breakIt: func(f fakeRepo) { f.addImport("fault/retry", "bad.go", repo.ModulePath("fault/timeout")) },
			want:    []string{"fault/retry: package " + repo.ModulePath("fault/retry") + " imports " + repo.ModulePath("fault/timeout"), "a pattern module never imports another pattern module"},
		},
		{
			name: "contract imports pattern",
			breakIt: func(f fakeRepo) {
				f["fault/ratelimit/doc.go"] = goFile("ratelimit") // no import back to fault: no package cycle
				f.addImport("fault", "bad.go", repo.ModulePath("fault/ratelimit"))
			},
			want: []string{"fault: package " + repo.ModulePath("fault") + " imports " + repo.ModulePath("fault/ratelimit"), "the contract module fault never imports a pattern"},
		},
		{
			name: "contract imports executor",
			breakIt: func(f fakeRepo) {
				f["fault/executor/doc.go"] = goFile("executor")
				f.addImport("fault", "bad.go", repo.ModulePath("fault/executor"))
			},
			want: []string{"imports " + repo.ModulePath("fault/executor"), "the contract module fault never imports a pattern"},
		},
		{
			name:    "module imports an in-repo module its row does not list",
			breakIt: func(f fakeRepo) { f.addImport("fault/metrics", "bad.go", repo.ModulePath("apperrors")) },
			want:    []string{"fault/metrics: package " + repo.ModulePath("fault/metrics") + " imports " + repo.ModulePath("apperrors"), "lets fault/metrics import fault"},
		},
		{
			name:    "third-party package in the wrong module",
			breakIt: func(f fakeRepo) { f.addImport("fault/retry", "bad.go", "github.com/sony/gobreaker/v2") },
			want:    []string{"fault/retry: package " + repo.ModulePath("fault/retry") + " imports third-party package github.com/sony/gobreaker/v2", "does not allow in fault/retry"},
		},
		{
			name:    "unknown third-party package",
			breakIt: func(f fakeRepo) { f.addImport("fault/circuitbreaker", "bad.go", "example.com/evil") },
			want:    []string{"third-party package example.com/evil", "allowed: github.com/sony/gobreaker/v2"},
		},
		{
			name:    "x/sync outside the semaphore in non-test code",
			breakIt: func(f fakeRepo) { f.addImport("fault/bulkhead", "bad.go", "golang.org/x/sync/errgroup") },
			want:    []string{"fault/bulkhead", "golang.org/x/sync/errgroup, which is test-only"},
		},
		{
			name:    "test-only package in non-test code",
			breakIt: func(f fakeRepo) { f.addImport("fault/timeout", "bad.go", "github.com/google/go-cmp/cmp") },
			want:    []string{"fault/timeout: package " + repo.ModulePath("fault/timeout") + " imports github.com/google/go-cmp/cmp, which is test-only"},
		},
		{
			name:    "pattern test imports another pattern",
			breakIt: func(f fakeRepo) { f.addImport("fault/retry", "bad_x_test.go", repo.ModulePath("fault/circuitbreaker")) },
			want:    []string{"imports in its tests " + repo.ModulePath("fault/circuitbreaker"), "a pattern module never imports another pattern module"},
		},
		{
			name: "pattern test imports the executor",
			breakIt: func(f fakeRepo) {
				f["fault/executor/doc.go"] = goFile("executor") // no package import cycle
				f.addImport("fault/ratelimit", "bad_x_test.go", repo.ModulePath("fault/executor"))
			},
			want: []string{"fault/ratelimit: package " + repo.ModulePath("fault/ratelimit") + " imports in its tests " + repo.ModulePath("fault/executor"), "nor the executor that composes them all"},
		},
		{
			name: "contract test imports a pattern",
			breakIt: func(f fakeRepo) {
				f["fault/timeout/doc.go"] = goFile("timeout")
				f.addImport("fault", "bad_x_test.go", repo.ModulePath("fault/timeout"))
			},
			want: []string{"fault: package " + repo.ModulePath("fault") + " imports in its tests " + repo.ModulePath("fault/timeout"), "the contract module fault never imports a pattern"},
		},
		{
			name:    "foundation test imports a module that imports it",
			breakIt: func(f fakeRepo) { f.addImport("functional", "bad_x_test.go", repo.ModulePath("fault")) },
			want:    []string{"functional: package " + repo.ModulePath("functional") + " imports in its tests " + repo.ModulePath("fault"), "its tests may import apperrors"},
		},
		{
			name:    "test import that would make a module cycle",
			breakIt: func(f fakeRepo) { f.addImport("fault", "bad_x_test.go", repo.ModulePath("fault/metrics")) },
			want:    []string{"fault: package " + repo.ModulePath("fault") + " imports in its tests " + repo.ModulePath("fault/metrics"), "its tests may import functional, apperrors"},
		},
		{
			name:    "unknown third-party package in tests",
			breakIt: func(f fakeRepo) { f.addImport("fault/health", "bad_test.go", "example.com/evil") },
			want:    []string{"fault/health", "imports in its tests third-party package example.com/evil"},
		},
		{
			name: "cross-module internal package",
			breakIt: func(f fakeRepo) {
				f["fault/internal/clock/clock.go"] = goFile("clock")
				f.addImport("fault/retry", "bad.go", repo.ModulePath("fault/internal/clock"))
			},
			want: []string{"fault/retry: package " + repo.ModulePath("fault/retry") + " imports " + repo.ModulePath("fault/internal/clock"), "an internal package of module fault"},
		},
		{
			name: "missing transitive replace",
			breakIt: func(f fakeRepo) {
				f["fault/timeout/go.mod"] = strings.Replace(f["fault/timeout/go.mod"], "replace "+repo.ModulePath("apperrors")+" => ../../apperrors\n", "", 1)
			},
			want: []string{"fault/timeout: go.mod has no replace line for " + repo.ModulePath("apperrors")},
		},
		{
			name: "replace to the wrong directory",
			breakIt: func(f fakeRepo) {
				f["fault/health/go.mod"] = strings.Replace(f["fault/health/go.mod"], "=> ../../apperrors", "=> ../../functional", 1)
			},
			want: []string{"fault/health: go.mod replaces " + repo.ModulePath("apperrors") + " with ../../functional, want ../../apperrors"},
		},
		{
			name: "different go directive",
			breakIt: func(f fakeRepo) {
				f["fault/shutdown/go.mod"] = strings.Replace(f["fault/shutdown/go.mod"], "go 1.25.0", "go 1.24", 1)
			},
			want: []string{"fault/shutdown: go.mod says go 1.24, go.work says go 1.25.0"},
		},
		{
			name:    "toolchain line",
			breakIt: func(f fakeRepo) { f["apperrors/go.mod"] += "\ntoolchain go1.26.1\n" },
			want:    []string{"apperrors: go.mod has a toolchain line"},
		},
		{
			name:    "tools go directive differs",
			breakIt: func(f fakeRepo) { f["tools/go.mod"] = strings.Replace(f["tools/go.mod"], "go 1.25.0", "go 1.26.0", 1) },
			want:    []string{"tools: go.mod says go 1.26.0"},
		},
		{
			name:    "missing README",
			breakIt: func(f fakeRepo) { delete(f, "fault/timeout/README.md") },
			want:    []string{"fault/timeout: has no README.md"},
		},
		{
			name: "missing doc.go",
			breakIt: func(f fakeRepo) {
				f["fault/timeout/timeout.go"] = f["fault/timeout/doc.go"]
				delete(f, "fault/timeout/doc.go")
			},
			want: []string{"fault/timeout: has no doc.go"},
		},
		{
			name:    "module not in go.work",
			breakIt: func(f fakeRepo) { f["go.work"] = strings.Replace(f["go.work"], "\t./fault/health\n", "", 1) },
			want:    []string{"fault/health: not in go.work"},
		},
		{
			name:    "tools in go.work",
			breakIt: func(f fakeRepo) { f["go.work"] = strings.Replace(f["go.work"], "use (\n", "use (\n\t./tools\n", 1) },
			want:    []string{"go.work: uses ./tools"},
		},
		{
			name: "module missing from dependabot",
			breakIt: func(f fakeRepo) {
				f[".github/dependabot.yml"] = strings.Replace(f[".github/dependabot.yml"], "      - /fault/bulkhead\n", "", 1)
			},
			want: []string{"fault/bulkhead: directory /fault/bulkhead is not in the directories of the gomod entry in .github/dependabot.yml"},
		},
		{
			name: "tools missing from dependabot",
			breakIt: func(f fakeRepo) {
				f[".github/dependabot.yml"] = strings.Replace(f[".github/dependabot.yml"], "      - /tools\n", "      - /tool\n", 1)
			},
			want: []string{"tools: directory /tools is not in the directories"},
		},
		{
			name: "module listed twice in dependabot",
			breakIt: func(f fakeRepo) {
				f[".github/dependabot.yml"] = strings.Replace(f[".github/dependabot.yml"], "      - /tools\n", "      - /tools\n      - /fault/retry/\n", 1)
			},
			want: []string{".github/dependabot.yml: directory /fault/retry is listed more than once"},
		},
		{
			name: "a second gomod entry in dependabot",
			breakIt: func(f fakeRepo) {
				f[".github/dependabot.yml"] = strings.Replace(f[".github/dependabot.yml"], "      - /fault/bulkhead\n", "", 1) +
					"  - package-ecosystem: gomod\n    directory: /fault/bulkhead\n"
			},
			want: []string{".github/dependabot.yml: gomod entry 2 (/fault/bulkhead): want one gomod entry"},
		},
		{
			name: "dependabot directory outside the table",
			breakIt: func(f fakeRepo) {
				f[".github/dependabot.yml"] = strings.Replace(f[".github/dependabot.yml"], "      - /tools\n", "      - /tools\n      - /fault/extra\n", 1)
			},
			want: []string{".github/dependabot.yml: gomod directory /fault/extra is not a module of this repository"},
		},
		{
			name: "action pinned by tag",
			breakIt: func(f fakeRepo) {
				f[".github/workflows/ci.yml"] += "      - uses: actions/cache@v4.2.0\n"
			},
			want: []string{".github/workflows/ci.yml: line 8 uses actions/cache@v4.2.0: pin the action by its full commit SHA"},
		},
		{
			name: "action pinned by SHA without its version",
			breakIt: func(f fakeRepo) {
				f[".github/workflows/ci.yml"] = strings.Replace(f[".github/workflows/ci.yml"], " # v6.0.0", "", 1)
			},
			want: []string{".github/workflows/ci.yml: line 7 pins actions/setup-go by SHA without the version in a comment"},
		},
		{
			name: "module missing from the architecture table",
			breakIt: func(f fakeRepo) {
				f["docs/ARCHITECTURE.md"] = strings.Replace(f["docs/ARCHITECTURE.md"], "| `fault/timeout` |", "| fault/timeout |", 1)
			},
			want: []string{"fault/timeout: no row in the module table of docs/ARCHITECTURE.md"},
		},
		{
			name: "module missing from the README table",
			breakIt: func(f fakeRepo) {
				f["README.md"] = strings.Replace(f["README.md"], "| [`fault/health`](fault/health) | ... |\n", "", 1)
			},
			want: []string{"fault/health: no row in the module table of README.md"},
		},
		{
			name: "module missing from the manifest",
			breakIt: func(f fakeRepo) {
				f[repo.ManifestFile] = strings.Replace(f[repo.ManifestFile], "  fault/metrics: v0.1.0\n", "", 1)
			},
			want: []string{"versions.yaml: module fault/metrics has no version entry"},
		},
		{
			name: "test-only module in the manifest",
			breakIt: func(f fakeRepo) {
				f[repo.ManifestFile] += "  fault/admin/browsertest: v0.1.0\n"
			},
			want: []string{"versions.yaml", "fault/admin/browsertest holds only tests and is never released"},
		},
		{
			name: "manifest version not semver",
			breakIt: func(f fakeRepo) {
				f[repo.ManifestFile] = strings.Replace(f[repo.ManifestFile], "fault/metrics: v0.1.0", "fault/metrics: v0.1", 1)
			},
			want: []string{"versions.yaml", `version "v0.1" is not a semantic version`},
		},
		{
			name: "module outside the table",
			breakIt: func(f fakeRepo) {
				f["fault/extra/go.mod"] = "module " + repo.ModulePath("fault/extra") + "\n\ngo 1.25.0\n"
			},
			want: []string{"fault/extra: has a go.mod but is not in the module table"},
		},
		{
			name:    "floating version",
			breakIt: func(f fakeRepo) { f["Makefile"] = "tools:\n\tgo install example.com/tool" + "@" + "latest\n" },
			want:    []string{"Makefile: line 2 uses @" + "latest"},
		},
		{
			name: "test import without requirement",
			breakIt: func(f fakeRepo) {
				f["fault/health/bad_x_test.go"] = "package health_test\n\nimport _ \"example.com/evil\"\n"
			},
			want: []string{"fault/health: package " + repo.ModulePath("fault/health"), "imports example.com/evil: cannot find module providing package"},
		},
		{
			name: "untidy module: import without requirement",
			breakIt: func(f fakeRepo) {
				f["fault/metrics/bad.go"] = "package metrics\n\nimport _ \"example.com/evil\"\n"
			},
			want: []string{"fault/metrics: package " + repo.ModulePath("fault/metrics"), "example.com/evil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeRepo()
			tt.breakIt(f)
			root := f.write(t)
			problems, _ := check(t.Context(), root, rules, offline...)
			if len(problems) == 0 {
				t.Fatal("modcheck found no problem")
			}
			for _, p := range problems {
				line := p.String()
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(line, w)
				}
				if ok {
					return
				}
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			t.Fatalf("no problem line contains all of %q; got:\n%s", tt.want, strings.Join(got, "\n"))
		})
	}
}

// TestRealRepository is the acceptance test: the repository this file is in
// follows its own rules.
func TestRealRepository(t *testing.T) {
	t.Parallel()
	root, err := repo.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	problems, pkgs := check(t.Context(), root, rules)
	for _, p := range problems {
		t.Errorf("%s", p)
	}
	t.Logf("%d modules, %d packages checked", len(rules), pkgs)
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	good := newFakeRepo().write(t)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-root", good}, &out, &errOut); code != 0 {
		t.Fatalf("good repo: exit %d\n%s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "modcheck: ok:") {
		t.Errorf("good repo: stdout %q", out.String())
	}

	bad := newFakeRepo()
	bad.addImport("fault/retry", "bad.go", repo.ModulePath("fault/timeout"))
	out.Reset()
	errOut.Reset()
	if code := run(t.Context(), []string{"-root", bad.write(t)}, &out, &errOut); code != 1 {
		t.Fatalf("bad repo: exit %d", code)
	}
	if !strings.Contains(errOut.String(), "modcheck: fault/retry: package") || !strings.Contains(errOut.String(), "modcheck: FAIL: 1 problems") {
		t.Errorf("bad repo: stderr\n%s", errOut.String())
	}

	if code := run(t.Context(), []string{"extra"}, &out, &errOut); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}

func TestMatchAny(t *testing.T) {
	t.Parallel()
	pats := []string{"go.opentelemetry.io/otel", "go.opentelemetry.io/otel/metric/..."}
	for imp, want := range map[string]bool{
		"go.opentelemetry.io/otel":              true,
		"go.opentelemetry.io/otel/metric":       true,
		"go.opentelemetry.io/otel/metric/noop":  true,
		"go.opentelemetry.io/otel/sdk/metric":   false,
		"go.opentelemetry.io/otel/metricx":      false,
		"go.opentelemetry.io/otelx":             false,
		"go.opentelemetry.io/otel/trace":        false,
		"go.opentelemetry.io/otel/metric/../sd": true, // never produced by go list; documents prefix semantics
	} {
		if got := matchAny(pats, imp); got != want {
			t.Errorf("matchAny(%q) = %v, want %v", imp, got, want)
		}
	}
}

func TestRuleActionsArePinnedBySHA(t *testing.T) {
	f := newFakeRepo()
	f[".github/workflows/ci.yml"] = "jobs:\n  test:\n    steps:\n" +
		"      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n" +
		"      - uses: actions/setup-go@v6.0.0\n" +
		"      - uses: actions/cache@0400d5f644dc74513175e3cd8d07132dd4860809\n" +
		"      - uses: ./.github/actions/local\n"
	root := f.write(t)
	problems, _ := check(t.Context(), root, rules, offline...)
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		".github/workflows/ci.yml: line 5 uses actions/setup-go@v6.0.0: pin the action by its full commit SHA, with the version in a comment (actions/setup-go@<sha> # v6.0.0)",
		".github/workflows/ci.yml: line 6 pins actions/cache by SHA without the version in a comment (# vX.Y.Z)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
