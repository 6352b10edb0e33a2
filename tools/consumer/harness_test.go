package consumer_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/mod/semver"

	"github.com/authcorp/libs/go/src/tools/internal/modproxy"
	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

var tmpRoot string

func TestMain(m *testing.M) {
	var err error
	if tmpRoot, err = os.MkdirTemp("", "fault-consumer-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		// The module cache is read-only, as the go command leaves it.
		_ = filepath.WalkDir(tmpRoot, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		_ = os.RemoveAll(tmpRoot)
		os.Exit(code)
	}))
}

// world is a proxy built from a repository and the environment a consumer
// resolves through it.
type world struct {
	root  string
	man   *repo.Manifest
	px    *modproxy.Proxy
	env   []string
	gosum []byte // the library modules' go.sum lines: third-party hashes
	// Problems of the published graph (Proxy.Check), in a form a release
	// manager can act on; empty when a consumer can resolve everything.
	problems []string
	// next is the extra version of fault/retry the proxy serves: the
	// current tree as the next patch version.
	next string
}

var (
	current     *world
	errCurrent  error
	currentOnce sync.Once
)

// retryDir is the module published at an extra version, for the test of
// minimal version selection.
const retryDir = "fault/retry"

// repoWorld returns the world of the repository's current tree, built once.
func repoWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("consumer tests build a module proxy and fresh modules; skipped with -short")
	}
	currentOnce.Do(func() {
		root, err := repo.FindRoot("..")
		if err != nil {
			errCurrent = err
			return
		}
		man, err := repo.ReadManifest(root)
		if err != nil {
			errCurrent = err
			return
		}
		v, _ := man.Version(retryDir)
		next := bumpPatch(v)
		current, errCurrent = newWorld(context.Background(), root, filepath.Join(tmpRoot, "current"),
			modproxy.Options{Tags: true, Extra: []modproxy.Version{{Dir: retryDir, Version: next}}})
		if current != nil {
			current.next = next
		}
	})
	if errCurrent != nil {
		t.Fatal(errCurrent)
	}
	current.requireResolvable(t)
	return current
}

func bumpPatch(v string) string {
	var a, b, c int
	if _, err := fmt.Sscanf(semver.Canonical(v), "v%d.%d.%d", &a, &b, &c); err != nil {
		panic("not a semantic version: " + v)
	}
	return fmt.Sprintf("v%d.%d.%d", a, b, c+1)
}

// newWorld builds a proxy for the repository at root into dir.
func newWorld(ctx context.Context, root, dir string, opts modproxy.Options) (*world, error) {
	man, err := repo.ReadManifest(root)
	if err != nil {
		return nil, err
	}
	px, err := modproxy.Build(ctx, root, filepath.Join(dir, "proxy"), opts)
	if err != nil {
		return nil, err
	}
	w := &world{root: root, man: man, px: px, problems: px.Check(man)}
	hostCache, err := goEnv(ctx, "GOMODCACHE")
	if err != nil {
		return nil, err
	}
	upstream, err := goEnv(ctx, "GOPROXY")
	if err != nil {
		return nil, err
	}
	// Only the authcorp modules are in the file proxy; third-party modules
	// come from the local module cache, whose download directory is a proxy
	// too, then from the usual proxy. An authcorp version the file proxy
	// lacks could fall through to those: verifyAuthcorp catches that.
	goproxy := px.URL() + ",file://" + filepath.ToSlash(filepath.Join(hostCache, "cache", "download"))
	if upstream != "" && upstream != "off" {
		goproxy += "," + upstream
	} else {
		goproxy += ",off"
	}
	w.env = append(cleanEnv(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod -trimpath", // -trimpath: third-party packages compiled once, whatever the module cache's path
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		"GOPROXY="+goproxy,
		"GONOSUMDB=github.com/authcorp", // not in the public checksum database; checked against the proxy instead
		"GOPRIVATE=", "GONOPROXY=",      // never fetched directly from version control
		"GOTOOLCHAIN=local",
	)
	for _, d := range man.Dirs() {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d), "go.sum"))
		if err != nil {
			continue // a module without dependencies has no go.sum
		}
		w.gosum = append(w.gosum, data...)
	}
	w.gosum = dedupLines(w.gosum)
	return w, nil
}

// cleanEnv is the environment without the Go settings the consumer sets.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOWORK", "GOFLAGS", "GOMODCACHE", "GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GONOPROXY", "GOINSECURE", "GOTOOLCHAIN":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func dedupLines(data []byte) []byte {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return []byte(strings.Join(slices.Compact(lines), "\n") + "\n")
}

// requireResolvable fails the test with the release manager's message when
// the published graph has a requirement no release provides.
func (w *world) requireResolvable(t *testing.T) {
	t.Helper()
	if len(w.problems) > 0 {
		t.Fatal(w.graphMessage())
	}
}

func (w *world) graphMessage() string {
	return "the released module graph is broken: a service cannot resolve it.\n  " + strings.Join(w.problems, "\n  ")
}

// consumer is a fresh module outside the repository.
type consumer struct {
	t         *testing.T
	w         *world
	dir       string
	builtMods []string // modules providing the program's packages
}

// newConsumer writes a module requiring the given authcorp modules (by
// directory) at the given versions, with main.go, and resolves it.
func (w *world) newConsumer(t *testing.T, requires map[string]string, mainGo string) *consumer {
	t.Helper()
	c := &consumer{t: t, w: w, dir: t.TempDir()}
	var gomod strings.Builder
	gomod.WriteString("module example.com/service\n\ngo 1.25.0\n\nrequire (\n")
	dirs := make([]string, 0, len(requires))
	for d := range requires {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		fmt.Fprintf(&gomod, "\t%s %s\n", repo.ModulePath(d), requires[d])
	}
	gomod.WriteString(")\n")
	c.write("go.mod", gomod.String())
	c.write("go.sum", string(w.gosum))
	c.write("main.go", mainGo)
	// Loading the program's packages resolves what it needs (-mod=mod
	// adds the missing requirements), downloading only the modules that
	// provide them: faster than go mod tidy, which fetches every test
	// dependency too.
	out := c.goCmd("list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}", ".")
	c.builtMods = slices.Compact(slices.Sorted(slices.Values(strings.Fields(out))))
	c.verifyAuthcorp()
	return c
}

func (c *consumer) write(name, content string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// goCmd runs the go command in the consumer and returns its standard output.
func (c *consumer) goCmd(args ...string) string {
	c.t.Helper()
	out, err := c.tryGo(args...)
	if err != nil {
		msg := fmt.Sprintf("go %s in a consumer module: %v\n%s", strings.Join(args, " "), err, out)
		if len(c.w.problems) > 0 {
			msg += "\n" + c.w.graphMessage()
		}
		c.t.Fatal(msg)
	}
	return out
}

func (c *consumer) tryGo(args ...string) (string, error) {
	cmd := exec.CommandContext(c.t.Context(), "go", args...)
	cmd.Dir = c.dir
	cmd.Env = c.w.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// modules returns `go list -m all`: the module graph, path -> version.
func (c *consumer) modules() map[string]string {
	c.t.Helper()
	mods := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(c.goCmd("list", "-m", "all")), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			mods[f[0]] = f[1]
		}
	}
	return mods
}

// built returns the modules that provide the packages the program builds.
func (c *consumer) built() []string { return c.builtMods }

// run builds and runs the program and returns its output.
func (c *consumer) run() string {
	c.t.Helper()
	bin := filepath.Join(c.dir, "service")
	c.goCmd("build", "-o", bin, ".")
	cmd := exec.CommandContext(c.t.Context(), bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("the consumer program failed: %v\n%s", err, out)
	}
	return string(out)
}

// verifyAuthcorp checks that every authcorp module the consumer resolved
// came from the file proxy: it is published there, and the hash go.sum
// recorded for it is the proxy zip's.
func (c *consumer) verifyAuthcorp() {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "go.sum"))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || !strings.HasPrefix(f[0], repo.ModulePrefix) || strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		want, ok := c.w.px.Sums[f[0]+"@"+f[1]]
		switch {
		case !ok:
			c.t.Errorf("%s %s was resolved, but the file proxy does not publish it: it came from elsewhere", f[0], f[1])
		case want != f[2]:
			c.t.Errorf("%s %s has hash %s, the file proxy's zip has %s: it came from elsewhere", f[0], f[1], f[2], want)
		}
	}
}
