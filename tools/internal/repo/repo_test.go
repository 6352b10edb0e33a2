package repo_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseManifest(t *testing.T) {
	m, err := repo.ParseManifest([]byte("# comment\nmodules:\n  functional: v0.1.0\n  fault/retry: v1.2.3-rc.1 # note\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Dirs(), " "); got != "functional fault/retry" {
		t.Errorf("dirs %q", got)
	}
	if v, ok := m.Version("fault/retry"); !ok || v != "v1.2.3-rc.1" {
		t.Errorf("version %q %v", v, ok)
	}
	if _, ok := m.Version("nope"); ok {
		t.Error("version of an unlisted module")
	}
}

func TestParseManifestRejects(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"not semver":      {"modules:\n  functional: 1.0.0\n", "not a semantic version"},
		"short version":   {"modules:\n  functional: v1.0\n", "not a semantic version"},
		"build metadata":  {"modules:\n  functional: v1.0.0+x\n", "not a semantic version"},
		"duplicate":       {"modules:\n  functional: v0.1.0\n  functional: v0.2.0\n", "listed twice"},
		"unclean dir":     {"modules:\n  fault/../x: v0.1.0\n", "clean relative path"},
		"flow style":      {"modules: {functional: v0.1.0}\n", "one per line"},
		"unknown key":     {"modules:\n  functional: v0.1.0\nextra: 1\n", "extra"},
		"empty":           {"modules: {}\n", "no modules"},
		"not a mapping":   {"modules: [functional]\n", "must be a mapping"},
		"nested mapping":  {"modules:\n  functional:\n    version: v0.1.0\n", "entry must be"},
		"four-space list": {"modules:\n    functional: v0.1.0\n", "one per line"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := repo.ParseManifest([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.1.0": true, "v1.2.3-rc.1": true, "v10.0.0": true,
		"v1.2": false, "v1": false, "1.2.3": false, "v1.2.3+meta": false, "": false, "v01.2.3": false,
	} {
		if got := repo.ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestFindRootAndPaths(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{repo.ManifestFile, "go.work"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deep := filepath.Join(root, "fault", "retry")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := repo.FindRoot(deep)
	if err != nil || got != root {
		t.Fatalf("FindRoot = %q, %v; want %q", got, err, root)
	}
	if _, err := repo.FindRoot(t.TempDir()); err == nil {
		t.Error("FindRoot found a root where there is none")
	}
	if p := repo.ModulePath("fault/retry"); p != "github.com/authcorp/libs/go/src/fault/retry" {
		t.Errorf("ModulePath = %q", p)
	}
	if d, ok := repo.DirOf("github.com/authcorp/libs/go/src/fault/retry"); !ok || d != "fault/retry" {
		t.Errorf("DirOf = %q, %v", d, ok)
	}
	if _, ok := repo.DirOf("github.com/other/x"); ok {
		t.Error("DirOf accepted an outside path")
	}
}

func TestParseRoot(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{repo.ManifestFile, "go.work"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args     []string
		dir      string
		code     int
		wantText string
	}{
		{[]string{"-root", root}, root, 0, ""},
		{[]string{"-root", root, "extra"}, "", 2, `tool: unexpected arguments ["extra"]`},
		{[]string{"-nosuchflag"}, "", 2, "-nosuchflag"},
		{[]string{"-root", t.TempDir()}, "", 1, "is not the repository root"},
	} {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		var out strings.Builder
		fs.SetOutput(&out)
		dir, code := repo.ParseRoot(fs, repo.RootFlag(fs), tc.args)
		if dir != tc.dir || code != tc.code || !strings.Contains(out.String(), tc.wantText) || (code != 0) == (out.Len() == 0) {
			t.Errorf("ParseRoot(%q) = %q, %d, output %q; want %q, %d, output with %q", tc.args, dir, code, out.String(), tc.dir, tc.code, tc.wantText)
		}
	}
}

func TestReadManifestOfTheRepository(t *testing.T) {
	root, err := repo.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := repo.ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Modules) < 14 {
		t.Errorf("%d modules in the manifest, want at least the 14 first library modules", len(m.Modules))
	}
	for _, e := range m.Modules {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(e.Dir), "go.mod")); err != nil {
			t.Errorf("manifest entry %s: %v", e.Dir, err)
		}
	}
}
