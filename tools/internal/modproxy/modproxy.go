// Package modproxy writes a file-system Go module proxy (the layout that
// GOPROXY=file:///dir reads: <module>/@v/list, .info, .mod and .zip) for the
// library modules of the repository, exactly as the public proxy would serve
// them for the go/src/<dir>/vX.Y.Z release tags: each zip is built with
// golang.org/x/mod/zip from the module's files at a git revision or in the
// working tree, nested modules left out.
//
// It serves the release tool (release -proxy DIR) and the consumer tests,
// which resolve fresh modules outside the repository through such a proxy
// only, as a service that depends on the released modules does.
package modproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// Version is one module version to publish.
type Version struct {
	Dir     string // module directory, e.g. "fault/retry"
	Version string // e.g. "v0.1.1"
	// Rev is the git revision whose files make the version (a commit or a
	// tag); "" takes the working tree as it is, uncommitted changes
	// included.
	Rev string
}

func (v Version) String() string { return v.Dir + "@" + v.Version }

// Options says what to publish besides each module at its versions.yaml
// version.
type Options struct {
	// Rev is the git revision whose files make the versions.yaml versions;
	// "" takes the working tree.
	Rev string
	// Tags also publishes every release tag (go/src/<dir>/vX.Y.Z) from the
	// tagged files, as the public proxy serves them.
	Tags bool
	// Extra lists more versions, for tests: e.g. the working tree of
	// fault/retry as its next patch version.
	Extra []Version
}

// Proxy is a written proxy.
type Proxy struct {
	Dir      string              // the proxy's directory
	Versions map[string][]string // module path -> versions published, sorted
	Sums     map[string]string   // "path@version" -> h1: hash of its zip (as go.sum has it)
}

// URL returns the GOPROXY value that reads the proxy.
func (p *Proxy) URL() string { return "file://" + filepath.ToSlash(p.Dir) }

// Has reports whether the proxy has module path at version.
func (p *Proxy) Has(path, version string) bool {
	return slices.Contains(p.Versions[path], version)
}

// Build writes a proxy into dir (created if needed; versions already there
// are replaced) for the repository at root.
func Build(ctx context.Context, root, dir string, opts Options) (*Proxy, error) {
	man, err := repo.ReadManifest(root)
	if err != nil {
		return nil, err
	}
	// Tags first: a version that is tagged is served from its tag, as the
	// public proxy serves it, even when the tree has changed since.
	var want []Version
	if opts.Tags {
		tags, err := releaseTags(ctx, root, man.Dirs())
		if err != nil {
			return nil, err
		}
		want = append(want, tags...)
	}
	for _, e := range man.Modules {
		want = append(want, Version{Dir: e.Dir, Version: e.Version, Rev: opts.Rev})
	}
	want = append(want, opts.Extra...)

	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Dir: abs, Versions: map[string][]string{}, Sums: map[string]string{}}
	seen := map[string]bool{}
	var errs []error
	for _, v := range want {
		if _, ok := man.Version(v.Dir); !ok {
			errs = append(errs, fmt.Errorf("%s: %s is not a module of %s", v, v.Dir, repo.ManifestFile))
			continue
		}
		if !repo.ValidVersion(v.Version) {
			errs = append(errs, fmt.Errorf("%s: %q is not a semantic version", v, v.Version))
			continue
		}
		if seen[v.String()] {
			continue // published already: a tagged version comes from its tag
		}
		seen[v.String()] = true
		if err := p.write(ctx, root, v, man.Dirs()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for path, vs := range p.Versions {
		semver.Sort(vs)
		list := strings.Join(vs, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(p.versionDir(path), "list"), []byte(list), 0o644); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Proxy) versionDir(path string) string {
	esc, _ := module.EscapePath(path) // paths come from repo.ModulePath: always valid
	return filepath.Join(p.Dir, filepath.FromSlash(esc), "@v")
}

// write publishes one version: .mod, .zip and .info.
func (p *Proxy) write(ctx context.Context, root string, v Version, dirs []string) error {
	path := repo.ModulePath(v.Dir)
	mv := module.Version{Path: path, Version: v.Version}
	if err := module.Check(path, v.Version); err != nil {
		return err
	}
	gomod, stamp, err := readGoMod(ctx, root, v)
	if err != nil {
		return err
	}
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return fmt.Errorf("go.mod: %w", err)
	}
	if f.Module == nil || f.Module.Mod.Path != path {
		return fmt.Errorf("go.mod does not declare module %s", path)
	}
	vdir := p.versionDir(path)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	esc, err := module.EscapeVersion(v.Version)
	if err != nil {
		return err
	}
	base := filepath.Join(vdir, esc)

	var zbuf bytes.Buffer
	if v.Rev == "" {
		err = zip.CreateFromDir(&zbuf, mv, filepath.Join(root, filepath.FromSlash(v.Dir)))
	} else {
		err = createFromGit(ctx, &zbuf, mv, root, v.Rev, v.Dir)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".zip", zbuf.Bytes(), 0o644); err != nil {
		return err
	}
	sum, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
	if err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{v.Version, stamp.UTC()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	if !p.Has(path, v.Version) {
		p.Versions[path] = append(p.Versions[path], v.Version)
	}
	p.Sums[path+"@"+v.Version] = sum
	return nil
}

// readGoMod returns the version's go.mod and the time to publish it with.
func readGoMod(ctx context.Context, root string, v Version) ([]byte, time.Time, error) {
	if v.Rev == "" {
		p := filepath.Join(root, filepath.FromSlash(v.Dir), "go.mod")
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, time.Time{}, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, time.Time{}, err
		}
		return data, fi.ModTime(), nil
	}
	sub, err := gitSubdir(ctx, root, v.Dir)
	if err != nil {
		return nil, time.Time{}, err
	}
	data, err := git(ctx, root, "show", v.Rev+":"+sub+"/go.mod")
	if err != nil {
		return nil, time.Time{}, err
	}
	when, err := git(ctx, root, "log", "-1", "--format=%cI", v.Rev)
	if err != nil {
		return nil, time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(when)))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("commit time of %s: %w", v.Rev, err)
	}
	return data, t, nil
}

// createFromGit zips the module in dir at rev, as the go command would from
// the tag (git archive: ignored files left out).
func createFromGit(ctx context.Context, w *bytes.Buffer, mv module.Version, root, rev, dir string) error {
	top, err := git(ctx, root, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	sub, err := gitSubdir(ctx, root, dir)
	if err != nil {
		return err
	}
	return zip.CreateFromVCS(w, mv, strings.TrimSpace(string(top)), rev, sub)
}

// gitSubdir returns dir (relative to the repository root) relative to the
// top of the git work tree, which may lie above the root.
func gitSubdir(ctx context.Context, root, dir string) (string, error) {
	prefix, err := git(ctx, root, "rev-parse", "--show-prefix")
	if err != nil {
		return "", err
	}
	// The prefix is "" at the top of the work tree, else "dir/".
	return strings.TrimSpace(string(prefix)) + dir, nil
}

// releaseTags returns the versions that the repository's release tags name.
func releaseTags(ctx context.Context, root string, dirs []string) ([]Version, error) {
	out, err := git(ctx, root, "tag", "--list", repo.TagPrefix+"*")
	if err != nil {
		return nil, err
	}
	var vs []Version
	for _, t := range strings.Fields(string(out)) {
		rest := strings.TrimPrefix(t, repo.TagPrefix)
		i := strings.LastIndex(rest, "/")
		if i < 0 {
			continue
		}
		dir, v := rest[:i], rest[i+1:]
		if !slices.Contains(dirs, dir) || !repo.ValidVersion(v) {
			continue
		}
		vs = append(vs, Version{Dir: dir, Version: v, Rev: t})
	}
	return vs, nil
}

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// Check verifies the published graph as a consumer resolves it: every
// in-repo requirement of every published version (replace lines do not reach
// consumers) names a version the proxy has. It returns one problem per
// missing requirement, in a form a release manager can act on.
func (p *Proxy) Check(man *repo.Manifest) []string {
	var out []string
	paths := make([]string, 0, len(p.Versions))
	for path := range p.Versions {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		for _, v := range p.Versions[path] {
			esc, _ := module.EscapeVersion(v)
			data, err := os.ReadFile(filepath.Join(p.versionDir(path), esc+".mod"))
			if err != nil {
				out = append(out, err.Error())
				continue
			}
			f, err := modfile.ParseLax("go.mod", data, nil)
			if err != nil {
				out = append(out, fmt.Sprintf("%s@%s: go.mod: %v", path, v, err))
				continue
			}
			dir, _ := repo.DirOf(path)
			for _, r := range f.Require {
				dep, ok := repo.DirOf(r.Mod.Path)
				if !ok || p.Has(r.Mod.Path, r.Mod.Version) {
					continue
				}
				mv, _ := man.Version(dep)
				msg := fmt.Sprintf("%s %s requires %s %s, which is not released: there is no tag %s%s/%s and versions.yaml releases %s at %s. A service that depends on %s %s cannot build. Require a released version of %s in %s/go.mod (its replace line hides the problem inside the repository), or release %s %s first.",
					dir, v, dep, r.Mod.Version, repo.TagPrefix, dep, r.Mod.Version, dep, mv, dir, v, dep, dir, dep, r.Mod.Version)
				if mv == "" {
					msg = fmt.Sprintf("%s %s requires %s %s, but %s is not a module of versions.yaml.", dir, v, dep, r.Mod.Version, dep)
				}
				out = append(out, msg)
			}
		}
	}
	return out
}
