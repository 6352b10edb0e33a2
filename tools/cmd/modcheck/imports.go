package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/authcorp/libs/go/src/tools/internal/repo"
)

// listedPackage is the part of `go list -json` output modcheck reads.
type listedPackage struct {
	ImportPath   string
	ForTest      string
	Standard     bool
	Module       *struct{ Path string }
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
	DepsErrors   []*struct{ Err string }
}

// goList lists the packages of the module in dir and everything they and
// their tests import, as that module alone builds them (GOWORK=off: the
// versions a consumer of the module gets).
func goList(ctx context.Context, dir string, env []string) ([]*listedPackage, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps", "-test", "-json=ImportPath,ForTest,Standard,Module,Imports,TestImports,XTestImports,Error,DepsErrors", "./...")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []*listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		p := new(listedPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// checkImports checks the real import graph of every library module.
func (c *checker) checkImports(ctx context.Context) {
	type result struct {
		pkgs []*listedPackage
		err  error
	}
	var dirs []string
	for _, r := range c.rules {
		if c.mods[r.Dir] != nil { // a module without a readable go.mod was reported already
			dirs = append(dirs, r.Dir)
		}
	}
	results := make([]result, len(dirs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, d := range dirs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pkgs, err := goList(ctx, filepath.Join(c.root, filepath.FromSlash(d)), c.env)
			results[i] = result{pkgs, err}
		}()
	}
	wg.Wait()
	for i, d := range dirs {
		if results[i].err != nil {
			c.add(d, "%v", results[i].err)
			continue
		}
		c.checkModuleImports(c.byDir[d], results[i].pkgs)
	}
}

// checkModuleImports applies r to the packages go list reported for r's
// module.
func (c *checker) checkModuleImports(r *rule, pkgs []*listedPackage) {
	own := repo.ModulePath(r.Dir)
	// info maps an import path to what go list knows about it; test
	// variants ("p [q.test]") are folded into p.
	info := map[string]*listedPackage{}
	for _, p := range pkgs {
		path, _, _ := strings.Cut(p.ImportPath, " ")
		if _, ok := info[path]; !ok || p.ForTest == "" {
			info[path] = p
		}
	}
	seenErr := map[string]bool{}
	// Load errors of the module's test packages ("p [p.test]", "p_test
	// [p.test]"): a test import no requirement provides shows up there.
	for _, p := range pkgs {
		if p.ForTest != "" && p.Module != nil && p.Module.Path == own && p.Error != nil && !seenErr[p.Error.Err] {
			seenErr[p.Error.Err] = true
			c.add(r.Dir, "package %s: %s", p.ImportPath, p.Error.Err)
		}
	}
	for _, p := range pkgs {
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") || p.Module == nil || p.Module.Path != own {
			continue
		}
		c.packages++
		if p.Error != nil && !seenErr[p.Error.Err] {
			seenErr[p.Error.Err] = true
			c.add(r.Dir, "package %s: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			if !seenErr[e.Err] {
				seenErr[e.Err] = true
				c.add(r.Dir, "package %s: dependency: %s", p.ImportPath, e.Err)
			}
		}
		for _, imp := range p.Imports {
			c.checkImport(r, p.ImportPath, imp, info, false)
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if imp == p.ImportPath || slices.Contains(p.Imports, imp) {
				continue // the package itself, or already checked as a non-test import
			}
			c.checkImport(r, p.ImportPath, imp, info, true)
		}
		// An import that cannot be loaded (no requirement provides it, say).
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if q := info[imp]; q != nil && q.Error != nil && !seenErr[q.Error.Err] {
				seenErr[q.Error.Err] = true
				c.add(r.Dir, "package %s imports %s: %s", p.ImportPath, imp, q.Error.Err)
			}
		}
	}
}

// checkImport checks one import of package from (in r's module).
func (c *checker) checkImport(r *rule, from, imp string, info map[string]*listedPackage, test bool) {
	where := "imports"
	if test {
		where = "imports in its tests"
	}
	p := info[imp]
	if imp == "C" || (p != nil && p.Standard) || (p == nil && !strings.Contains(strings.Split(imp, "/")[0], ".")) {
		return // standard library
	}
	if _, ok := repo.DirOf(imp); ok {
		dir := c.moduleDirOf(imp, p)
		if dir == r.Dir {
			return // its own package
		}
		if dir == "" {
			c.add(r.Dir, "package %s %s %s, which belongs to no library module of this repository", from, where, imp)
			return
		}
		if isInternal(imp) {
			c.add(r.Dir, "package %s %s %s, an internal package of module %s: internal packages are never shared across modules", from, where, imp, dir)
			return
		}
		if slices.Contains(r.Imports, dir) || (test && c.allowedInTests(r, dir)) {
			return
		}
		to := c.byDir[dir]
		var why string
		switch {
		case r.Kind == pattern && to.Kind == pattern:
			why = "a pattern module never imports another pattern module (docs/ARCHITECTURE.md)"
		case r.Kind == pattern && to.Kind == composer:
			why = "a pattern module never imports another pattern module, nor the executor that composes them all (docs/ARCHITECTURE.md)"
		case r.Dir == "fault" && to.Kind != library:
			why = "the contract module fault never imports a pattern (docs/ARCHITECTURE.md)"
		case test:
			why = fmt.Sprintf("its tests may import %s", c.describeTestImports(r))
		default:
			why = fmt.Sprintf("the module table lets %s import %s", r.Dir, describe(r.Imports, "no other module of this repository"))
		}
		c.add(r.Dir, "package %s %s %s (module %s): %s", from, where, imp, dir, why)
		return
	}
	// Third party.
	if matchAny(r.ThirdParty, imp) {
		return
	}
	if test && (matchAny(r.TestThirdParty, imp) || matchAny(testOnlyThirdParty, imp)) {
		return
	}
	switch {
	case !test && (matchAny(testOnlyThirdParty, imp) || matchAny(r.TestThirdParty, imp)):
		c.add(r.Dir, "package %s %s %s, which is test-only: import it from _test.go files only", from, where, imp)
	default:
		allowed := slices.Clone(r.ThirdParty)
		if test {
			allowed = slices.Concat(allowed, r.TestThirdParty, testOnlyThirdParty)
		}
		c.add(r.Dir, "package %s %s third-party package %s, which the module table does not allow in %s (allowed: %s)", from, where, imp, r.Dir, describe(allowed, "none"))
	}
}

// allowedInTests reports whether r's tests may import module dir: when the
// table lists it, or else when it breaks neither module rule that holds for
// tests too (a pattern never imports another pattern, nor the executor that
// brings them all; the contract imports no pattern) and makes no cycle with
// the table's own edges (functional's tests cannot use fault, which imports
// functional).
func (c *checker) allowedInTests(r *rule, dir string) bool {
	if slices.Contains(r.TestImports, dir) {
		return true
	}
	to := c.byDir[dir]
	if to == nil {
		return false
	}
	if to.Kind != library && (r.Kind != library || r.Dir == "fault") {
		return false
	}
	return !c.mayReach(dir, r.Dir)
}

// mayReach reports whether module from may (per the table, non-test)
// import module to, directly or through other modules.
func (c *checker) mayReach(from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(d string) bool {
		if d == to {
			return true
		}
		if seen[d] {
			return false
		}
		seen[d] = true
		r := c.byDir[d]
		if r == nil {
			return false
		}
		return slices.ContainsFunc(r.Imports, walk)
	}
	return walk(from)
}

func (c *checker) describeTestImports(r *rule) string {
	var ok []string
	for _, o := range c.rules {
		if o.Dir != r.Dir && (slices.Contains(r.Imports, o.Dir) || c.allowedInTests(r, o.Dir)) {
			ok = append(ok, o.Dir)
		}
	}
	return describe(ok, "no other module of this repository")
}

// moduleDirOf returns the directory of the library module that holds
// package imp: from go list when it knows, else the longest module
// directory that prefixes it.
func (c *checker) moduleDirOf(imp string, p *listedPackage) string {
	if p != nil && p.Module != nil {
		if d, ok := repo.DirOf(p.Module.Path); ok && c.byDir[d] != nil {
			return d
		}
	}
	best := ""
	for _, r := range c.rules {
		m := repo.ModulePath(r.Dir)
		if (imp == m || strings.HasPrefix(imp, m+"/")) && len(r.Dir) > len(best) {
			best = r.Dir
		}
	}
	return best
}

func isInternal(imp string) bool {
	return strings.HasSuffix(imp, "/internal") || strings.Contains(imp, "/internal/")
}

// matchAny reports whether imp matches one of the patterns: an exact path,
// or "p/..." for p and every path below it.
func matchAny(patterns []string, imp string) bool {
	for _, pat := range patterns {
		if base, ok := strings.CutSuffix(pat, "/..."); ok {
			if imp == base || strings.HasPrefix(imp, base+"/") {
				return true
			}
		} else if imp == pat {
			return true
		}
	}
	return false
}

func describe(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}
