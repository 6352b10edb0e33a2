package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// block is one fenced code block tagged go in a README.
type block struct {
	File string // repository-relative, slash-separated
	Line int    // 1-based line of the block's first content line
	Code string // the block's content, fence indentation removed
}

// packageClause matches a package clause at the start of a line (after
// comments and blank lines it is the first code a Go file has).
var packageClause = regexp.MustCompile(`(?m)^package\s+(\w+)\s*(//.*)?$`)

// funcMain matches the declaration of func main.
var funcMain = regexp.MustCompile(`(?m)^func\s+main\s*\(\s*\)`)

func (b block) pkg() string {
	m := packageClause.FindStringSubmatch(b.Code)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b block) isProgram() bool { return b.pkg() == "main" }

// problem says what is wrong with the block, or "" when nothing is.
func (b block) problem() string {
	hasMain := funcMain.MatchString(b.Code)
	switch p := b.pkg(); {
	case p == "main" && !hasMain:
		return "package main without func main: make it a complete program or drop the package clause to show a fragment"
	case p != "" && p != "main":
		return "package " + p + ": only complete programs (package main) carry a package clause; drop it to show a fragment"
	case p == "" && hasMain:
		return "func main without a package clause: add `package main` and its imports to make it a complete program that builds, or show only the body"
	}
	return ""
}

// skipDir reports whether a directory holds no README to check: hidden and
// underscore directories, testdata, vendor, the build output in bin/.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "bin" || name == "node_modules"
}

// findBlocks returns the go blocks of every README.md under root, in file
// order.
func findBlocks(root string) ([]block, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != root && skipDir(e.Name()) {
			return filepath.SkipDir
		}
		if !e.IsDir() && e.Name() == "README.md" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []block
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return nil, err
		}
		out = append(out, parseBlocks(filepath.ToSlash(rel), data)...)
	}
	return out, nil
}

// parseBlocks returns the fenced code blocks tagged go (```go, ~~~go, with
// any indentation, as in a list item) of a Markdown file.
func parseBlocks(name string, data []byte) []block {
	var out []block
	var cur *block
	var fence, indent string
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t")
		if fence == "" {
			for _, f := range []string{"```", "~~~"} {
				if strings.HasPrefix(trimmed, f) {
					fence = f
					for strings.HasPrefix(trimmed[len(fence):], f[:1]) {
						fence += f[:1]
					}
					indent = line[:len(line)-len(trimmed)]
					info := strings.Fields(strings.TrimSpace(trimmed[len(fence):]))
					if len(info) > 0 && info[0] == "go" {
						cur = &block{File: name, Line: n + 1}
						body.Reset()
					}
					break
				}
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "" {
			if cur != nil {
				cur.Code = body.String()
				out = append(out, *cur)
				cur = nil
			}
			fence = ""
			continue
		}
		if cur != nil {
			body.WriteString(strings.TrimPrefix(line, indent))
			body.WriteByte('\n')
		}
	}
	return out
}
