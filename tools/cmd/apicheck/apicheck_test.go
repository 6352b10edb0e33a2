package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixtureRepo lays out a repository with one module, lib, at version v
// holding the files of testdata/fixture/<src>.
func fixtureRepo(t *testing.T, src, v string) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "versions.yaml"), "modules:\n  lib: "+v+"\n")
	writeFile(t, filepath.Join(root, "go.work"), "go 1.25.0\n\nuse ./lib\n")
	copyFixture(t, src, filepath.Join(root, "lib"))
	return root
}

// copyFixture replaces dst's files with testdata/fixture/<src>.
func copyFixture(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dst, "internal")); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join("testdata", "fixture", src)
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func apicheck(t *testing.T, root string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("GOWORK", "off")
	var o, e bytes.Buffer
	code = run(t.Context(), append([]string{"-root", root}, args...), &o, &e)
	return code, o.String(), e.String()
}

const libPkg = "pkg github.com/authcorp/libs/go/src/lib, "

// The fixture's second version removes Hello and adds a method to Greeter:
// the check names the module and each name, and asks for v0.2.0.
func TestBreakingChangeWithoutBumpFails(t *testing.T) {
	root := fixtureRepo(t, "v1", "v0.1.0")
	if code, _, errOut := apicheck(t, root); code != 1 || !strings.Contains(errOut, "lib: no API listing lib/api.txt; run `make api`") {
		t.Fatalf("without a listing: exit %d, stderr:\n%s", code, errOut)
	}
	if code, out, errOut := apicheck(t, root, "-write"); code != 0 || !strings.Contains(out, "wrote lib/api.txt") {
		t.Fatalf("-write: exit %d\n%s\n%s", code, out, errOut)
	}
	listing := readFile(t, filepath.Join(root, "lib", "api.txt"))
	for _, want := range []string{
		"# github.com/authcorp/libs/go/src/lib v0.1.0\n",
		libPkg + "func Hello(string) string\n",
		libPkg + "type Greeter interface, Greet(string) string\n",
		libPkg + "type Config struct, Limit int\n",
		libPkg + "method (Config) Validate() error\n",
		libPkg + "const Max untyped int = 3\n",
	} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, "Secret") {
		t.Errorf("listing shows an internal package:\n%s", listing)
	}
	if code, _, errOut := apicheck(t, root); code != 0 {
		t.Fatalf("unchanged module: exit %d\n%s", code, errOut)
	}

	copyFixture(t, "v2", filepath.Join(root, "lib"))
	code, _, errOut := apicheck(t, root)
	if code != 1 {
		t.Fatalf("breaking change passed: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"apicheck: lib: the exported API changed since v0.1.0",
		"versions.yaml says v0.1.0; it needs a minor bump (at least v0.2.0)",
		"removed or changed: " + libPkg + "func Hello(string) string",
		"added to an interface others implement: " + libPkg + "type Greeter interface, Wave() string",
		"added: " + libPkg + "type Config struct, Verbose bool",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("message lacks %q:\n%s", want, errOut)
		}
	}
	// -write refuses too: the listing cannot be rewritten without the bump.
	if code, _, _ := apicheck(t, root, "-write"); code != 1 {
		t.Fatalf("-write without the bump: exit %d", code)
	}
	if got := readFile(t, filepath.Join(root, "lib", "api.txt")); got != listing {
		t.Fatal("-write rewrote the listing without the bump")
	}
	// A patch bump is not enough either.
	writeFile(t, filepath.Join(root, "versions.yaml"), "modules:\n  lib: v0.1.1\n")
	if code, _, errOut := apicheck(t, root); code != 1 || !strings.Contains(errOut, "says v0.1.1; it needs a minor bump") {
		t.Fatalf("patch bump: exit %d\n%s", code, errOut)
	}

	// The workflow: bump, then `make api`.
	writeFile(t, filepath.Join(root, "versions.yaml"), "modules:\n  lib: v0.2.0\n")
	if code, _, errOut := apicheck(t, root); code != 1 || !strings.Contains(errOut, "run `make api` to record the new listing") {
		t.Fatalf("bumped, listing not rewritten: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := apicheck(t, root, "-write"); code != 0 {
		t.Fatalf("-write after the bump: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := apicheck(t, root); code != 0 {
		t.Fatalf("after make api: exit %d\n%s", code, errOut)
	}
	if l := readFile(t, filepath.Join(root, "lib", "api.txt")); !strings.HasPrefix(l, "# github.com/authcorp/libs/go/src/lib v0.2.0\n") || strings.Contains(l, "Hello") {
		t.Fatalf("listing after make api:\n%s", l)
	}
}

// At v1 and beyond a breaking change needs a new major version; -bump makes
// the smallest sufficient bump and writes the listing in one step.
func TestBumpMakesTheSmallestSufficientBump(t *testing.T) {
	root := fixtureRepo(t, "v1", "v1.2.3")
	if code, _, errOut := apicheck(t, root, "-write"); code != 0 {
		t.Fatal(errOut)
	}
	copyFixture(t, "v2", filepath.Join(root, "lib"))
	if code, _, errOut := apicheck(t, root); code != 1 || !strings.Contains(errOut, "it needs a major bump (at least v2.0.0)") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	code, out, errOut := apicheck(t, root, "-bump")
	if code != 0 || !strings.Contains(out, "lib: v1.2.3 -> v2.0.0 in versions.yaml") {
		t.Fatalf("-bump: exit %d\n%s\n%s", code, out, errOut)
	}
	if m := readFile(t, filepath.Join(root, "versions.yaml")); m != "modules:\n  lib: v2.0.0\n" {
		t.Fatalf("versions.yaml after -bump:\n%s", m)
	}
	if code, _, errOut := apicheck(t, root); code != 0 {
		t.Fatalf("after -bump: exit %d\n%s", code, errOut)
	}
}

// The same API under a new version still needs `make api`, or a later
// change would be measured from the old version.
func TestVersionMovedWithoutAPIChange(t *testing.T) {
	root := fixtureRepo(t, "v1", "v0.1.0")
	if code, _, errOut := apicheck(t, root, "-write"); code != 0 {
		t.Fatal(errOut)
	}
	writeFile(t, filepath.Join(root, "versions.yaml"), "modules:\n  lib: v0.1.1\n")
	if code, _, errOut := apicheck(t, root); code != 1 || !strings.Contains(errOut, "lib/api.txt describes v0.1.0, versions.yaml says v0.1.1 (API unchanged)") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		d    diff
		v    string
		want level
	}{
		{diff{}, "v0.1.0", none},
		{diff{Added: []string{"a"}}, "v0.1.0", minor},
		{diff{Added: []string{"a"}}, "v1.1.0", minor},
		{diff{Removed: []string{"a"}}, "v0.1.0", minor},
		{diff{Removed: []string{"a"}}, "v1.1.0", major},
		{diff{Added: []string{"a"}, Incompatible: []string{"a"}}, "v1.0.0", major},
	}
	for _, tt := range tests {
		if got := required(tt.d, tt.v); got != tt.want {
			t.Errorf("required(%+v, %s) = %s, want %s", tt.d, tt.v, got, tt.want)
		}
	}
	for _, c := range [][3]string{{"v0.1.0", "v0.1.1", "patch"}, {"v0.1.0", "v0.2.0", "minor"}, {"v0.9.0", "v1.0.0", "major"}, {"v0.2.0", "v0.1.0", "none"}} {
		if got := bumpOf(c[0], c[1]).String(); got != c[2] {
			t.Errorf("bumpOf(%s, %s) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}

func TestSealedInterfaceMayGrow(t *testing.T) {
	old := []string{libPkg + "type S interface", libPkg + "type S interface, unexported methods", libPkg + "type G[T any] interface"}
	cur := append([]string{libPkg + "type S interface, M()", libPkg + "type G interface, N()"}, old...)
	d := compare(old, cur)
	if len(d.Incompatible) != 1 || d.Incompatible[0] != libPkg+"type G interface, N()" {
		t.Fatalf("incompatible = %v, want only the method added to the generic, unsealed G", d.Incompatible)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
