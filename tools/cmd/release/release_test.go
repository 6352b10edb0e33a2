package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeRepo is a temporary git repository laid out like the monorepo.
type fakeRepo struct {
	t    *testing.T
	root string
}

// newFakeRepo creates a git repository with a manifest listing mods in the
// given order (dir -> version) and one go.mod per module requiring the given
// in-repo modules at v0.1.0, and commits it.
func newFakeRepo(t *testing.T, manifest [][2]string, requires map[string][]string) *fakeRepo {
	t.Helper()
	// Keep the user's and the system's git configuration (signing, hooks,
	// default branch) out of the test.
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	r := &fakeRepo{t: t, root: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "release-test@example.com")
	r.git("config", "user.name", "release test")
	var m strings.Builder
	m.WriteString("modules:\n")
	for _, e := range manifest {
		m.WriteString("  " + e[0] + ": " + e[1] + "\n")
		var gm strings.Builder
		gm.WriteString("module github.com/authcorp/libs/go/src/" + e[0] + "\n\ngo 1.25.0\n")
		for _, dep := range requires[e[0]] {
			gm.WriteString("\nrequire github.com/authcorp/libs/go/src/" + dep + " v0.1.0\n")
		}
		r.write(e[0]+"/go.mod", gm.String())
		r.write(e[0]+"/CHANGELOG.md", changelog(e[1]))
	}
	r.write("versions.yaml", m.String())
	r.write("go.work", "go 1.25.0\n")
	r.commit("initial")
	return r
}

func (r *fakeRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *fakeRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.CommandContext(r.t.Context(), "git", append([]string{"-C", r.root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (r *fakeRepo) commit(msg string) {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// release runs the command in the fake repository.
func (r *fakeRepo) release(args ...string) (code int, stdout, stderr string) {
	r.t.Helper()
	var o, e bytes.Buffer
	code = run(r.t.Context(), append([]string{"-root", r.root}, args...), &o, &e)
	return code, o.String(), e.String()
}

func lines(s string) []string {
	return strings.Fields(s)
}

// The layout used by most tests: manifest order deliberately differs from
// dependency order.
var (
	layout = [][2]string{
		{"fault/retry", "v0.1.0"},
		{"fault", "v0.1.0"},
		{"functional", "v0.1.0"},
		{"apperrors", "v0.1.0"},
	}
	layoutRequires = map[string][]string{
		"fault/retry": {"fault", "functional"},
		"fault":       {"functional", "apperrors"},
	}
)

func TestDryRunPrintsTagsInDependencyOrder(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	code, out, errOut := r.release()
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	want := []string{
		"go/src/functional/v0.1.0",
		"go/src/apperrors/v0.1.0",
		"go/src/fault/v0.1.0",
		"go/src/fault/retry/v0.1.0",
	}
	if got := lines(out); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("tags:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(errOut, "dry run") {
		t.Errorf("stderr does not say it was a dry run:\n%s", errOut)
	}
	if tags := r.git("tag", "--list"); tags != "" {
		t.Fatalf("dry run created tags: %s", tags)
	}
}

func TestCreateTagsThenNothingLeft(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	code, out, errOut := r.release("-create")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "created go/src/fault/retry/v0.1.0") || !strings.Contains(errOut, "git push origin") {
		t.Fatalf("unexpected output:\n%s\n%s", out, errOut)
	}
	tags := lines(r.git("tag", "--list"))
	if len(tags) != 4 {
		t.Fatalf("created tags %v, want 4", tags)
	}
	// Annotated, at HEAD.
	if typ := strings.TrimSpace(r.git("cat-file", "-t", "go/src/fault/v0.1.0")); typ != "tag" {
		t.Errorf("tag object type %q, want an annotated tag", typ)
	}
	head := r.git("rev-parse", "HEAD")
	if at := r.git("rev-parse", "go/src/fault/v0.1.0^{commit}"); at != head {
		t.Errorf("tag points at %s, want HEAD %s", at, head)
	}

	code, out, errOut = r.release()
	if code != 0 || out != "" || !strings.Contains(errOut, "nothing to tag") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestOnlyBumpedModulesAreTagged(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	// Change fault/retry and bump it; change fault without bumping it.
	r.write("fault/retry/retry.go", "package retry\n")
	r.write("fault/fault.go", "package fault\n")
	r.write("versions.yaml", strings.Replace(r.read("versions.yaml"), "fault/retry: v0.1.0", "fault/retry: v0.2.0", 1))
	r.write("fault/retry/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.commit("retry: new feature")

	code, out, errOut := r.release()
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if got := lines(out); len(got) != 1 || got[0] != "go/src/fault/retry/v0.2.0" {
		t.Fatalf("tags %v, want only go/src/fault/retry/v0.2.0", got)
	}
	// fault changed without a bump: said, but no refusal. Its nested module
	// fault/retry changing does not count as a change of fault...
	if !strings.Contains(errOut, "fault changed since go/src/fault/v0.1.0") {
		t.Errorf("no note about the unbumped change in fault:\n%s", errOut)
	}
	// ...and functional did not change at all.
	if strings.Contains(errOut, "functional changed") {
		t.Errorf("functional reported as changed:\n%s", errOut)
	}
}

func TestNestedModuleChangeIsNotAChangeOfTheParent(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	r.write("fault/retry/retry.go", "package retry\n")
	r.commit("retry: change")
	_, _, errOut := r.release()
	if strings.Contains(errOut, "note: fault changed") {
		t.Errorf("a change in fault/retry was reported as a change of fault:\n%s", errOut)
	}
	if !strings.Contains(errOut, "fault/retry changed") {
		t.Errorf("the change in fault/retry was not reported:\n%s", errOut)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name     string
		manifest [][2]string
		requires map[string][]string
		setup    func(r *fakeRepo)
		want     string
	}{
		{
			name:     "version without patch",
			manifest: [][2]string{{"functional", "v0.1"}},
			want:     `version "v0.1" is not a semantic version`,
		},
		{
			name:     "version without v",
			manifest: [][2]string{{"functional", "0.1.0"}},
			want:     `version "0.1.0" is not a semantic version`,
		},
		{
			name:     "build metadata",
			manifest: [][2]string{{"functional", "v0.1.0+build.1"}},
			want:     "is not a semantic version",
		},
		{
			name:     "major version 2 without /v2 path",
			manifest: [][2]string{{"functional", "v2.0.0"}},
			want:     "module functional: version v2.0.0",
		},
		{
			name:     "lower than released",
			manifest: [][2]string{{"functional", "v0.1.0"}},
			setup: func(r *fakeRepo) {
				r.git("tag", "go/src/functional/v0.3.0")
			},
			want: "manifest version v0.1.0 is lower than the released v0.3.0",
		},
		{
			name:     "requirement never tagged",
			manifest: [][2]string{{"functional", "v0.2.0"}, {"fault", "v0.1.0"}},
			requires: map[string][]string{"fault": {"functional"}}, // at v0.1.0
			want:     "module fault requires functional v0.1.0, but tag go/src/functional/v0.1.0 neither exists nor is about to be created",
		},
		{
			name:     "duplicate module",
			manifest: [][2]string{{"functional", "v0.1.0"}, {"functional", "v0.2.0"}},
			want:     "listed twice",
		},
		{
			name:     "wrong module path",
			manifest: [][2]string{{"functional", "v0.1.0"}},
			setup: func(r *fakeRepo) {
				r.write("functional/go.mod", "module example.com/functional\n\ngo 1.25.0\n")
				r.commit("wrong path")
			},
			want: "go.mod must declare module github.com/authcorp/libs/go/src/functional",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeRepo(t, tt.manifest, tt.requires)
			if tt.setup != nil {
				tt.setup(r)
			}
			code, out, errOut := r.release("-create")
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
			}
			if !strings.Contains(errOut, "refusing") || !strings.Contains(errOut, tt.want) {
				t.Fatalf("stderr does not refuse with %q:\n%s", tt.want, errOut)
			}
			if tags := lines(r.git("tag", "--list")); len(tags) > 1 {
				t.Fatalf("tags were created despite the refusal: %v", tags)
			}
		})
	}
}

func TestRequirementOnTaggedVersionIsFine(t *testing.T) {
	// fault requires functional v0.1.0, which is tagged; functional itself
	// moves on to v0.2.0 in the same release.
	r := newFakeRepo(t, [][2]string{{"functional", "v0.1.0"}, {"fault", "v0.1.0"}}, map[string][]string{"fault": {"functional"}})
	r.git("tag", "go/src/functional/v0.1.0")
	r.write("versions.yaml", "modules:\n  functional: v0.2.0\n  fault: v0.1.0\n")
	r.write("functional/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.commit("bump functional")
	code, out, errOut := r.release()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if got := strings.Join(lines(out), " "); got != "go/src/functional/v0.2.0 go/src/fault/v0.1.0" {
		t.Fatalf("tags %q", got)
	}
}

func TestRequirementCycleIsTaggedTogether(t *testing.T) {
	// health's tests use shutdown and shutdown's tests use health: a module
	// cycle, which Go allows. Both are tagged in one run.
	r := newFakeRepo(t,
		[][2]string{{"fault/shutdown", "v0.1.0"}, {"fault/health", "v0.1.0"}, {"fault", "v0.1.0"}},
		map[string][]string{"fault/health": {"fault", "fault/shutdown"}, "fault/shutdown": {"fault", "fault/health"}})
	code, out, errOut := r.release()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if got := strings.Join(lines(out), " "); got != "go/src/fault/v0.1.0 go/src/fault/shutdown/v0.1.0 go/src/fault/health/v0.1.0" {
		t.Fatalf("tags %q", got)
	}
	if !strings.Contains(errOut, "fault/shutdown, fault/health form a cycle") {
		t.Errorf("no note about the cycle:\n%s", errOut)
	}
	// If one of them is already released at the version the other requires,
	// only the other is tagged.
	r.git("tag", "go/src/fault/v0.1.0")
	r.git("tag", "go/src/fault/health/v0.1.0")
	if _, out, _ := r.release(); strings.TrimSpace(out) != "go/src/fault/shutdown/v0.1.0" {
		t.Fatalf("with health released: tags %q", out)
	}
}

func TestCreateRefusesDirtyTree(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	r.write("fault/uncommitted.go", "package fault\n")
	code, _, errOut := r.release("-create")
	if code != 1 || !strings.Contains(errOut, "uncommitted changes") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if tags := r.git("tag", "--list"); tags != "" {
		t.Fatalf("tags created from a dirty tree: %s", tags)
	}
}

func TestCreateNeverMovesAnExistingTag(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	p, err := makePlan(r.root, git{ctx: r.t.Context(), dir: r.root})
	if err != nil {
		t.Fatal(err)
	}
	// Another release run tags fault at an older commit between plan and
	// create.
	r.write("later.txt", "x\n")
	r.commit("later")
	r.git("tag", "go/src/fault/v0.1.0", "HEAD~1")
	before := r.git("rev-parse", "go/src/fault/v0.1.0")
	err = createTags(git{ctx: r.t.Context(), dir: r.root}, p, "HEAD")
	if err == nil || !strings.Contains(err.Error(), "creating go/src/fault/v0.1.0") {
		t.Fatalf("createTags over an existing tag: err = %v", err)
	}
	if after := r.git("rev-parse", "go/src/fault/v0.1.0"); after != before {
		t.Fatalf("existing tag moved from %s to %s", before, after)
	}
}

func TestUsageErrors(t *testing.T) {
	var o, e bytes.Buffer
	if code := run(t.Context(), []string{"-nope"}, &o, &e); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := run(t.Context(), []string{"extra"}, &o, &e); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	if code := run(t.Context(), []string{"-root", t.TempDir()}, &o, &e); code != 1 {
		t.Errorf("root without manifest: exit %d, want 1", code)
	}
}

func (r *fakeRepo) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// changelog returns a CHANGELOG.md with a section for each version.
func changelog(versions ...string) string {
	var b strings.Builder
	b.WriteString("# Changelog\n\n## [Unreleased]\n")
	for _, v := range versions {
		b.WriteString("\n## [" + strings.TrimPrefix(v, "v") + "] - 2026-01-02\n\n### Added\n\n- Something.\n")
	}
	return b.String()
}

func TestRefusesAVersionWithoutAChangelogEntry(t *testing.T) {
	r := newFakeRepo(t, layout, layoutRequires)
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	// fault/retry moves to v0.2.0; its changelog still ends at 0.1.0.
	r.write("versions.yaml", strings.Replace(r.read("versions.yaml"), "fault/retry: v0.1.0", "fault/retry: v0.2.0", 1))
	r.write("fault/retry/CHANGELOG.md", changelog("v0.1.0")+"\n## [Unreleased]\n\n- Not a release section: [0.2.0] only in text.\n")
	r.commit("retry: bump without changelog")
	code, _, errOut := r.release("-create")
	if code != 1 || !strings.Contains(errOut, `module fault/retry: version v0.2.0 has no changelog entry: add a section "## [0.2.0] - YYYY-MM-DD" to fault/retry/CHANGELOG.md`) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if tags := lines(r.git("tag", "--list", "go/src/fault/retry/v0.2.0")); len(tags) != 0 {
		t.Fatalf("tagged without a changelog entry: %v", tags)
	}
	// A missing file is named too.
	if err := os.Remove(filepath.Join(r.root, "fault", "retry", "CHANGELOG.md")); err != nil {
		t.Fatal(err)
	}
	r.commit("retry: no changelog")
	if code, _, errOut := r.release(); code != 1 || !strings.Contains(errOut, "fault/retry/CHANGELOG.md is missing") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	// With the section, the release goes ahead.
	r.write("fault/retry/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.commit("retry: changelog")
	if code, out, errOut := r.release(); code != 0 || strings.TrimSpace(out) != "go/src/fault/retry/v0.2.0" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// addReplace gives dir/go.mod a replace line to dep's directory, as every
// module in the repository has.
func (r *fakeRepo) addReplace(dir, dep string) {
	r.t.Helper()
	rel, err := filepath.Rel(filepath.Join(r.root, dir), filepath.Join(r.root, dep))
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(dir+"/go.mod", r.read(dir+"/go.mod")+"\nreplace github.com/authcorp/libs/go/src/"+dep+" => "+filepath.ToSlash(rel)+"\n")
}

// A module built inside the repository against a dependency's newer tree
// (through its replace line) but requiring an older version would reach
// services with a dependency it was not built with.
func TestRefusesARequirementOlderThanTheReplacedTree(t *testing.T) {
	r := newFakeRepo(t, [][2]string{{"functional", "v0.1.0"}, {"fault", "v0.1.0"}}, map[string][]string{"fault": {"functional"}})
	r.addReplace("fault", "functional")
	r.commit("replace")
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	// functional moves to v0.2.0; fault changes too but still requires
	// functional v0.1.0.
	r.write("versions.yaml", "modules:\n  functional: v0.2.0\n  fault: v0.2.0\n")
	r.write("functional/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.write("fault/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.write("functional/new.go", "package functional\n\nfunc New() {}\n")
	r.commit("functional: new API; fault uses it")
	code, _, errOut := r.release()
	want := "module fault requires functional v0.1.0, but its replace line builds it inside the repository against the tree of functional, which the manifest releases as v0.2.0: a service would get functional v0.1.0, which fault v0.2.0 was not built with; require functional v0.2.0 in fault/go.mod"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}

	// release -sync fixes the requirement; then the release goes ahead.
	code, out, errOut := r.release("-sync")
	if code != 0 || !strings.Contains(out, "fault/go.mod: github.com/authcorp/libs/go/src/functional v0.1.0 -> v0.2.0") {
		t.Fatalf("-sync: exit %d\n%s\n%s", code, out, errOut)
	}
	if gm := r.read("fault/go.mod"); !strings.Contains(gm, "require github.com/authcorp/libs/go/src/functional v0.2.0") || !strings.Contains(gm, "replace github.com/authcorp/libs/go/src/functional => ../functional") {
		t.Fatalf("fault/go.mod after -sync:\n%s", gm)
	}
	r.commit("sync requirements")
	if code, out, errOut := r.release(); code != 0 || strings.Join(lines(out), " ") != "go/src/functional/v0.2.0 go/src/fault/v0.2.0" {
		t.Fatalf("after -sync: exit %d, stdout %q\n%s", code, out, errOut)
	}
}

// A module released against a dependency's tree whose code changed since the
// dependency's release would reach services without those changes.
func TestRefusesAReleaseBuiltAgainstUnreleasedCode(t *testing.T) {
	r := newFakeRepo(t, [][2]string{{"functional", "v0.1.0"}, {"fault", "v0.1.0"}}, map[string][]string{"fault": {"functional"}})
	r.addReplace("fault", "functional")
	r.commit("replace")
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	r.write("functional/new.go", "package functional\n\nfunc New() {}\n")
	r.write("functional/README.md", "docs\n")
	r.write("versions.yaml", "modules:\n  functional: v0.1.0\n  fault: v0.2.0\n")
	r.write("fault/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.commit("functional changes without a bump; fault released")
	code, _, errOut := r.release()
	want := "module fault requires functional v0.1.0, but its replace line builds it inside the repository against the tree of functional, whose code changed since go/src/functional/v0.1.0 (functional/new.go)"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

// Without a replace line nothing hides the requirement: a requirement on a
// version that is tagged is what the module was built with.
func TestRequirementWithoutReplaceIsTakenAtItsWord(t *testing.T) {
	r := newFakeRepo(t, [][2]string{{"functional", "v0.1.0"}, {"fault", "v0.1.0"}}, map[string][]string{"fault": {"functional"}})
	if code, _, errOut := r.release("-create"); code != 0 {
		t.Fatal(errOut)
	}
	r.write("versions.yaml", "modules:\n  functional: v0.2.0\n  fault: v0.2.0\n")
	r.write("functional/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.write("fault/CHANGELOG.md", changelog("v0.2.0", "v0.1.0"))
	r.commit("both move")
	if code, _, errOut := r.release(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

func TestChangelogMovesUnreleasedNotes(t *testing.T) {
	r := newFakeRepo(t, [][2]string{{"functional", "v0.2.0"}, {"apperrors", "v0.2.0"}, {"fault", "v0.1.0"}}, nil)
	r.write("functional/CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- New.\n\n## [0.1.0] - 2026-01-02\n\n- First.\n")
	r.write("apperrors/CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-01-02\n\n- First.\n")
	code, out, errOut := r.release("-changelog")
	if code != 1 || !strings.Contains(out, "functional/CHANGELOG.md: [Unreleased] notes are now ## [0.2.0]") ||
		!strings.Contains(errOut, "module apperrors: version v0.2.0 has no changelog section and [Unreleased] in apperrors/CHANGELOG.md is empty") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	got := r.read("functional/CHANGELOG.md")
	if !strings.Contains(got, "## [Unreleased]\n\n## [0.2.0] - ") || !strings.Contains(got, "### Added\n\n- New.\n\n## [0.1.0] - 2026-01-02") {
		t.Fatalf("functional/CHANGELOG.md:\n%s", got)
	}
	if err := changelogHas(r.root, "functional", "v0.2.0"); err != nil {
		t.Fatal(err)
	}
}

func TestChangelogStartsANewModulesChangelog(t *testing.T) {
	r := newFakeRepo(t, [][2]string{{"functional", "v0.1.0"}}, nil)
	if err := os.Remove(filepath.Join(r.root, "functional", "CHANGELOG.md")); err != nil {
		t.Fatal(err)
	}
	r.write("functional/doc.go", "// Package functional provides Result. More text.\npackage functional\n")
	if code, out, errOut := r.release("-changelog"); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	got := r.read("functional/CHANGELOG.md")
	if !strings.Contains(got, "## [Unreleased]\n\n## [0.1.0] - ") || !strings.Contains(got, "### Added\n\n- First release. Package functional provides Result.\n") {
		t.Fatalf("CHANGELOG.md:\n%s", got)
	}
}
