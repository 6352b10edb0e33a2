// Package repo knows the shape of the fault monorepo that the tools share:
// the module path prefix, the version manifest (versions.yaml) and how to
// find the repository root.
package repo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/semver"
)

// ModulePrefix is the import path prefix of every module in the repository:
// the repository root is the go/src tree of github.com/authcorp/libs.
const ModulePrefix = "github.com/authcorp/libs/go/src/"

// TagPrefix is the prefix of every release tag: a module in directory dir is
// released as TagPrefix + dir + "/vX.Y.Z" (Go's rule for modules in
// subdirectories of a repository whose root is github.com/authcorp/libs).
const TagPrefix = "go/src/"

// ManifestFile is the name of the version manifest at the repository root.
const ManifestFile = "versions.yaml"

// ModulePath returns the module path of the module in directory dir
// (slash-separated, relative to the repository root).
func ModulePath(dir string) string { return ModulePrefix + dir }

// DirOf returns the repository directory of the in-repo module or package
// path p, and whether p is in the repository at all.
func DirOf(p string) (string, bool) {
	if !strings.HasPrefix(p, ModulePrefix) {
		return "", false
	}
	return strings.TrimPrefix(p, ModulePrefix), true
}

// Entry is one module of the manifest.
type Entry struct {
	Dir     string // module directory, e.g. "fault/retry"
	Version string // release version, e.g. "v0.1.0"
	Line    int    // line in the manifest, for messages
}

// Manifest is the parsed version manifest, in file order.
type Manifest struct {
	Modules []Entry
}

// Dirs returns the module directories in manifest order.
func (m *Manifest) Dirs() []string {
	dirs := make([]string, len(m.Modules))
	for i, e := range m.Modules {
		dirs[i] = e.Dir
	}
	return dirs
}

// Version returns the manifest version of the module in dir.
func (m *Manifest) Version(dir string) (string, bool) {
	for _, e := range m.Modules {
		if e.Dir == dir {
			return e.Version, true
		}
	}
	return "", false
}

// ReadManifest reads and validates root/versions.yaml.
func ReadManifest(root string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(root, ManifestFile))
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	return m, nil
}

// lineEntry is the one-entry-per-line form that the Makefile reads with awk:
// two spaces, the directory, a colon, a space, the version.
var lineEntry = regexp.MustCompile(`^  ([a-z0-9][a-z0-9._/-]*): (\S+)(\s+#.*)?\s*$`)

// ParseManifest parses a manifest of the form
//
//	modules:
//	  functional: v0.1.0
//	  fault/retry: v0.1.0
//
// It rejects unknown top-level keys, duplicate modules, versions that are not
// canonical semantic versions (vMAJOR.MINOR.PATCH, optionally with a
// pre-release), and entries that are not written one per line in the form
// the Makefile reads.
func ParseManifest(data []byte) (*Manifest, error) {
	var doc struct {
		Modules yaml.Node `yaml:"modules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Modules.Kind != yaml.MappingNode {
		return nil, errors.New(`"modules" must be a mapping of module directory to version`)
	}
	m := &Manifest{}
	seen := map[string]bool{}
	var errs []error
	for i := 0; i+1 < len(doc.Modules.Content); i += 2 {
		k, v := doc.Modules.Content[i], doc.Modules.Content[i+1]
		e := Entry{Dir: k.Value, Version: v.Value, Line: k.Line}
		switch {
		case k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("line %d: entry must be `<dir>: vX.Y.Z`", k.Line))
			continue
		case seen[e.Dir]:
			errs = append(errs, fmt.Errorf("line %d: module %q listed twice", e.Line, e.Dir))
		case !ValidVersion(e.Version):
			errs = append(errs, fmt.Errorf("line %d: module %s: version %q is not a semantic version vMAJOR.MINOR.PATCH", e.Line, e.Dir, e.Version))
		case e.Dir != filepath.ToSlash(filepath.Clean(e.Dir)) || strings.HasPrefix(e.Dir, "../") || e.Dir == "." || filepath.IsAbs(e.Dir):
			errs = append(errs, fmt.Errorf("line %d: module directory %q must be a clean relative path", e.Line, e.Dir))
		}
		seen[e.Dir] = true
		m.Modules = append(m.Modules, e)
	}
	// The Makefile reads the module list with a line-oriented awk script;
	// make sure it sees exactly the modules that YAML sees.
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if mm := lineEntry.FindStringSubmatch(sc.Text()); mm != nil {
			lines = append(lines, mm[1])
		}
	}
	if strings.Join(lines, " ") != strings.Join(m.Dirs(), " ") {
		errs = append(errs, fmt.Errorf("entries must be written one per line as `  <dir>: vX.Y.Z` (the Makefile reads them so); line form gives %v, YAML gives %v", lines, m.Dirs()))
	}
	if len(m.Modules) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no modules listed"))
	}
	return m, errors.Join(errs...)
}

// ValidVersion reports whether v is a full semantic version with a leading
// "v" (vMAJOR.MINOR.PATCH with an optional pre-release), the only form a Go
// module release tag may take. Build metadata ("+meta") is refused because
// the go command ignores it.
func ValidVersion(v string) bool {
	return semver.IsValid(v) && semver.Canonical(v) == v
}

// FindRoot returns the repository root: the nearest directory at or above
// start that holds both versions.yaml and go.work.
func FindRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, ManifestFile)) && isFile(filepath.Join(dir, "go.work")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no directory at or above %s holds %s and go.work", start, ManifestFile)
		}
		dir = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
