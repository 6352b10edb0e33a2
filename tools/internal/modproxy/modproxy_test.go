package modproxy_test

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/tools/internal/modproxy"
	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newRepo lays out a git repository with two modules, functional (tagged
// v0.1.0, then changed) and fault requiring it.
func newRepo(t *testing.T) string {
	t.Helper()
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	root := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "git", append([]string{"-C", root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	git("config", "user.email", "t@example.com")
	git("config", "user.name", "t")
	write("versions.yaml", "modules:\n  functional: v0.1.0\n  fault: v0.1.0\n")
	write("go.work", "go 1.25.0\n")
	write("functional/go.mod", "module "+repo.ModulePath("functional")+"\n\ngo 1.25.0\n")
	write("functional/f.go", "package functional\n\n// V is the first version.\nconst V = 1\n")
	write("fault/go.mod", "module "+repo.ModulePath("fault")+"\n\ngo 1.25.0\n\nrequire "+repo.ModulePath("functional")+" v0.1.0\n\nreplace "+repo.ModulePath("functional")+" => ../functional\n")
	write("fault/fault.go", "package fault\n")
	git("add", "-A")
	git("commit", "-q", "-m", "v0.1.0")
	git("tag", "go/src/functional/v0.1.0")
	write("functional/f.go", "package functional\n\n// V is the second version.\nconst V = 2\n")
	write("versions.yaml", "modules:\n  functional: v0.2.0\n  fault: v0.1.0\n")
	git("commit", "-q", "-am", "v0.2.0")
	return root
}

// A version that is tagged comes from its tag even when the manifest still
// names it and the tree has changed since.
func TestTaggedVersionComesFromTheTag(t *testing.T) {
	root := newRepo(t)
	if err := os.WriteFile(filepath.Join(root, "versions.yaml"), []byte("modules:\n  functional: v0.1.0\n  fault: v0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := modproxy.Build(t.Context(), root, out, modproxy.Options{Tags: true}); err != nil {
		t.Fatal(err)
	}
	fn := repo.ModulePath("functional")
	if got := zipFile(t, filepath.Join(out, filepath.FromSlash(fn), "@v", "v0.1.0.zip"), fn+"@v0.1.0/f.go"); !strings.Contains(got, "first version") {
		t.Errorf("v0.1.0 zip has %q, want the tagged file", got)
	}
}

func zipFile(t *testing.T, zipPath, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
	t.Fatalf("%s has no %s", zipPath, name)
	return ""
}

func TestBuildServesTagsTheManifestAndExtras(t *testing.T) {
	root := newRepo(t)
	out := filepath.Join(t.TempDir(), "proxy")
	p, err := modproxy.Build(t.Context(), root, out, modproxy.Options{
		Tags:  true,
		Extra: []modproxy.Version{{Dir: "fault", Version: "v0.1.1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := repo.ModulePath("functional")
	vdir := filepath.Join(out, filepath.FromSlash(fn), "@v")
	if list, _ := os.ReadFile(filepath.Join(vdir, "list")); string(list) != "v0.1.0\nv0.2.0\n" {
		t.Fatalf("functional list %q", list)
	}
	// The tag's files, not the tree's: what the public proxy serves.
	if got := zipFile(t, filepath.Join(vdir, "v0.1.0.zip"), fn+"@v0.1.0/f.go"); !strings.Contains(got, "first version") {
		t.Errorf("v0.1.0 zip from the tag has %q", got)
	}
	if got := zipFile(t, filepath.Join(vdir, "v0.2.0.zip"), fn+"@v0.2.0/f.go"); !strings.Contains(got, "second version") {
		t.Errorf("v0.2.0 zip from the tree has %q", got)
	}
	var info struct{ Version string }
	data, _ := os.ReadFile(filepath.Join(vdir, "v0.1.0.info"))
	if err := json.Unmarshal(data, &info); err != nil || info.Version != "v0.1.0" {
		t.Errorf("info %s: %v", data, err)
	}
	if !p.Has(repo.ModulePath("fault"), "v0.1.1") || !strings.HasPrefix(p.Sums[fn+"@v0.2.0"], "h1:") {
		t.Errorf("versions %v sums %v", p.Versions, p.Sums)
	}
	man, err := repo.ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if problems := p.Check(man); len(problems) != 0 {
		t.Errorf("problems in a sound graph: %v", problems)
	}
}

// fault requires functional v0.1.0; without the tag, no release provides it.
func TestCheckNamesAnUnreleasedRequirement(t *testing.T) {
	root := newRepo(t)
	p, err := modproxy.Build(t.Context(), root, t.TempDir(), modproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	man, _ := repo.ReadManifest(root)
	problems := p.Check(man)
	want := "fault v0.1.0 requires functional v0.1.0, which is not released: there is no tag go/src/functional/v0.1.0 and versions.yaml releases functional at v0.2.0"
	if len(problems) != 1 || !strings.HasPrefix(problems[0], want) {
		t.Fatalf("problems %q, want one starting %q", problems, want)
	}
}

func TestBuildRefusesUnknownModulesAndBadVersions(t *testing.T) {
	root := newRepo(t)
	_, err := modproxy.Build(t.Context(), root, t.TempDir(), modproxy.Options{Extra: []modproxy.Version{
		{Dir: "nope", Version: "v0.1.0"},
		{Dir: "fault", Version: "1.0"},
	}})
	if err == nil || !strings.Contains(err.Error(), "nope is not a module of versions.yaml") || !strings.Contains(err.Error(), `"1.0" is not a semantic version`) {
		t.Fatalf("err = %v", err)
	}
}
