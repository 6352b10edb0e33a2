package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
)

// programModule is the module path of the generated module holding the
// programs; it is local to the build directory.
const programModule = "readmecheck.local/programs"

// build writes each program into a package of a temporary module, with a
// go.work that uses it and every module of root's go.work, and builds them
// all. It returns the temporary directory (for the caller to remove), and
// the go command's output, with the build directory's paths turned into
// README positions, when the build fails.
func build(ctx context.Context, root string, programs []block) (string, string, error) {
	work, err := os.MkdirTemp("", "readmecheck-")
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return work, "", err
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return work, "", err
	}
	goLine := "1.25.0"
	if wf.Go != nil {
		goLine = wf.Go.Version
	}
	var gw strings.Builder
	fmt.Fprintf(&gw, "go %s\n\nuse (\n\t./programs\n", goLine)
	for _, u := range wf.Use {
		p := u.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, filepath.FromSlash(p))
		}
		fmt.Fprintf(&gw, "\t%s\n", filepath.ToSlash(p))
	}
	gw.WriteString(")\n")
	files := map[string]string{
		"go.work":         gw.String(),
		"programs/go.mod": fmt.Sprintf("module %s\n\ngo %s\n", programModule, goLine),
	}
	// go.work.sum records checksums of modules only the workspace needs;
	// copy it so that the build needs nothing new.
	if sum, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
		files["go.work.sum"] = string(sum)
	}
	for i, p := range programs {
		dir := fmt.Sprintf("programs/p%02d_%s", i+1, sanitize(p.File))
		files[dir+"/main.go"] = fmt.Sprintf("//line %s:%d\n%s", filepath.ToSlash(filepath.Join(root, filepath.FromSlash(p.File))), p.Line, p.Code)
	}
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return work, "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return work, "", err
		}
	}
	// -o a directory: one binary per program, linked, as `go build` of
	// each README program would make.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(work, "bin")+string(filepath.Separator), "./...")
	cmd.Dir = filepath.Join(work, "programs")
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(work, "go.work"), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return work, relativize(string(out), root), err
	}
	return work, "", nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// sanitize turns a README path into a directory name.
func sanitize(file string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(strings.TrimSuffix(file, ".md"), "_"), "_")
}

// relativize shortens root's absolute paths in the go command's output to
// repository-relative ones.
func relativize(out, root string) string {
	return strings.ReplaceAll(out, filepath.ToSlash(root)+"/", "")
}
