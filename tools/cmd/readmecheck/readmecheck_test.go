package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseBlocks(t *testing.T) {
	t.Parallel()
	md := "# x\n" + // 1
		"```go\n" + // 2
		"x := 1\n" + // 3
		"```\n" + // 4
		"```sh\n" + // 5
		"make test\n" + // 6
		"```\n" + // 7
		"- a list item:\n" + // 8
		"  ```go title\n" + // 9
		"  package main\n" + // 10
		"\n" + // 11
		"  func main() {}\n" + // 12
		"  ```\n" + // 13
		"~~~~go\n" + // 14
		"```\n" + // 15: not the end of a ~~~~ block
		"~~~~\n" + // 16
		"```\n" + // 17: untagged
		"package main\n" + // 18
		"```\n" // 19
	got := parseBlocks("README.md", []byte(md))
	want := []block{
		{File: "README.md", Line: 3, Code: "x := 1\n"},
		{File: "README.md", Line: 10, Code: "package main\n\nfunc main() {}\n"},
		{File: "README.md", Line: 15, Code: "```\n"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseBlocks:\n got %+v\nwant %+v", got, want)
	}
}

func TestRuleBlockIsProgramOrFragment(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code    string
		program bool
		problem string // substring; "" for none
	}{
		{code: "x := f()\n", program: false},
		{code: "import \"fmt\"\n\nfmt.Println(1)\n", program: false},
		{code: "// Package main is a program.\npackage main\n\nfunc main() {}\n", program: true},
		{code: "package main // a program\n\nfunc main() {}\n", program: true},
		{code: "package main\n\nfunc helper() {}\n", program: true, problem: "package main without func main"},
		{code: "package lib\n\nfunc F() {}\n", problem: "package lib: only complete programs"},
		{code: "import \"fmt\"\n\nfunc main() { fmt.Println() }\n", problem: "func main without a package clause"},
		{code: "s := \"package main\" // in a string, not a clause\n", program: false},
	} {
		b := block{File: "README.md", Line: 1, Code: tt.code}
		if got := b.isProgram(); got != tt.program {
			t.Errorf("%q: isProgram = %v, want %v", tt.code, got, tt.program)
		}
		p := b.problem()
		if (tt.problem == "") != (p == "") || !strings.Contains(p, tt.problem) {
			t.Errorf("%q: problem = %q, want one containing %q", tt.code, p, tt.problem)
		}
	}
}

// fakeRepo writes a repository root with one library module (example.com/lib)
// in go.work and the given files, and returns its directory.
func fakeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	all := map[string]string{
		"versions.yaml": "modules:\n  lib: v0.1.0\n",
		"go.work":       "go 1.25.0\n\nuse ./lib\n",
		"lib/go.mod":    "module example.com/lib\n\ngo 1.25.0\n",
		"lib/lib.go":    "// Package lib greets.\npackage lib\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
		// Not checked: hidden and testdata directories.
		".github/README.md":      "```go\npackage main\n\nbroken\n```\n",
		"lib/testdata/README.md": "```go\npackage main\n\nbroken\n```\n",
	}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
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

const goodProgram = "# lib\n\n```go\npackage main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/lib\"\n)\n\nfunc main() { fmt.Println(lib.Hello()) }\n```\n"

func TestGoodProgramsBuild(t *testing.T) {
	t.Setenv("GOPROXY", "off") // everything resolves inside the work tree
	root := fakeRepo(t, map[string]string{
		"README.md":     goodProgram,
		"lib/README.md": "# lib\n\n```go\ns := lib.Hello() // a fragment\n```\n",
	})
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-root", root}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if want := "readmecheck: ok: 1 programs build, 1 fragments, in 2 READMEs\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
}

// A program that does not compile is reported at its README line, whatever
// directory the README is in.
func TestRuleBrokenProgramNamesREADMEAndLine(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	root := fakeRepo(t, map[string]string{
		"README.md": goodProgram,
		"lib/README.md": "# lib\n\n" + // 1, 2
			"Some text.\n\n" + // 3, 4
			"```go\n" + // 5
			"package main\n\n" + // 6, 7
			"import \"example.com/lib\"\n\n" + // 8, 9
			"func main() {\n" + // 10
			"\tlib.Goodbye()\n" + // 11
			"}\n```\n",
	})
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-root", root}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{"lib/README.md:11:", "Goodbye", "readmecheck: FAIL: 1 problems"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestRuleFragmentThatLooksLikeAProgram(t *testing.T) {
	t.Parallel()
	root := fakeRepo(t, map[string]string{
		"README.md": "```go\nimport \"fmt\"\n\nfunc main() { fmt.Println() }\n```\n",
	})
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-root", root}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "readmecheck: README.md:2: func main without a package clause"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
}

func TestRuleProgramIsGofmtFormatted(t *testing.T) {
	t.Parallel()
	root := fakeRepo(t, map[string]string{
		"README.md": "```go\npackage main\n\nfunc main() {\n    println()\n}\n```\n",
	})
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"-root", root}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "readmecheck: README.md:2: the program is not gofmt-formatted"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"extra"}, &out, &errOut); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	if code := run(t.Context(), []string{"-root", t.TempDir()}, &out, &errOut); code != 1 {
		t.Errorf("not a repository root: exit %d, want 1", code)
	}
}
