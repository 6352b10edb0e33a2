package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// ListingFile is the name of the API listing in each module's directory.
const ListingFile = "api.txt"

// listing is a committed API listing: the module's exported API at Version.
type listing struct {
	Module   string
	Version  string
	Features []string
}

func (l listing) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s %s\n", l.Module, l.Version)
	b.WriteString("# The exported API of the module at this version, one feature a line.\n")
	b.WriteString("# Written by `make api` (tools/cmd/apicheck) after a version bump in\n")
	b.WriteString("# versions.yaml; `make apicheck` compares the code against it. Do not edit.\n")
	for _, f := range l.Features {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func readListing(path string) (listing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return listing{}, err
	}
	var l listing
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			f := strings.Fields(strings.TrimPrefix(line, "#"))
			if !strings.HasPrefix(line, "# ") || len(f) != 2 || !semver.IsValid(f[1]) {
				return listing{}, fmt.Errorf("%s: first line must be `# <module path> <version>`, got %q", path, line)
			}
			l.Module, l.Version = f[0], f[1]
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		l.Features = append(l.Features, line)
	}
	if first {
		return listing{}, fmt.Errorf("%s: empty", path)
	}
	slices.Sort(l.Features)
	return l, sc.Err()
}

// level is a semantic-version bump.
type level int

const (
	none level = iota
	patch
	minor
	major
)

func (l level) String() string {
	return [...]string{"none", "patch", "minor", "major"}[l]
}

// bumpOf returns the bump from old to cur (none when cur is not higher).
func bumpOf(old, cur string) level {
	switch {
	case semver.Compare(cur, old) <= 0:
		return none
	case semver.Major(cur) != semver.Major(old):
		return major
	case semver.MajorMinor(cur) != semver.MajorMinor(old):
		return minor
	default:
		return patch
	}
}

// next returns the lowest version after v with bump l.
func next(v string, l level) string {
	var maj, mnr, pat int
	fmt.Sscanf(semver.Canonical(v), "v%d.%d.%d", &maj, &mnr, &pat) //nolint:errcheck // a canonical version always scans
	switch l {
	case major:
		return fmt.Sprintf("v%d.0.0", maj+1)
	case minor:
		return fmt.Sprintf("v%d.%d.0", maj, mnr+1)
	default:
		return fmt.Sprintf("v%d.%d.%d", maj, mnr, pat+1)
	}
}

// diff is the change between a listing and the code.
type diff struct {
	Removed      []string // features gone or changed (their old form)
	Added        []string // new features (and the new form of changed ones)
	Incompatible []string // added features that break existing users (a method added to an interface they may implement)
}

func (d diff) empty() bool { return len(d.Removed) == 0 && len(d.Added) == 0 }

func (d diff) breaking() bool { return len(d.Removed) > 0 || len(d.Incompatible) > 0 }

// compare returns what changed from old to cur (both sorted).
func compare(old, cur []string) diff {
	var d diff
	inOld := map[string]bool{}
	for _, f := range old {
		inOld[f] = true
	}
	inCur := map[string]bool{}
	for _, f := range cur {
		inCur[f] = true
	}
	for _, f := range old {
		if !inCur[f] {
			d.Removed = append(d.Removed, f)
		}
	}
	// Interfaces (by "pkg P, type Name") that existed, and which of them
	// were sealed by an unexported method.
	ifaces, sealed := interfaces(old)
	for _, f := range cur {
		if inOld[f] {
			continue
		}
		d.Added = append(d.Added, f)
		// "pkg P, type I interface, M(...)": a new method on an interface
		// that existed and that code outside the module could implement.
		if key, _, ok := strings.Cut(f, " interface, "); ok && ifaces[key] && !sealed[key] {
			d.Incompatible = append(d.Incompatible, f)
		}
	}
	return d
}

// required returns the bump that d needs from a module at version v: a
// breaking change needs a major bump (a minor one while the major version is
// 0), an addition a minor one.
func required(d diff, v string) level {
	switch {
	case d.breaking() && semver.Major(v) != "v0":
		return major
	case d.breaking() || len(d.Added) > 0:
		return minor
	default:
		return none
	}
}

// interfaces returns the interface types of a listing, keyed by
// "pkg P, type Name" (type parameters left out), and those that are sealed.
func interfaces(features []string) (all, sealed map[string]bool) {
	all, sealed = map[string]bool{}, map[string]bool{}
	for _, f := range features {
		if key, ok := strings.CutSuffix(f, " interface, unexported methods"); ok {
			sealed[key] = true
			continue
		}
		head, ok := strings.CutSuffix(f, " interface")
		if !ok || strings.Contains(head, " interface, ") {
			continue
		}
		if i := strings.Index(head, "["); i >= 0 {
			head = head[:i]
		}
		all[head] = true
	}
	return all, sealed
}
