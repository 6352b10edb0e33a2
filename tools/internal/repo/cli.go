package repo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
)

// Main runs a command's run function with the program's arguments and
// standard streams, under a context that an interrupt cancels, and exits
// with the code it returns.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// RootFlag defines the -root flag the tools share on fs.
func RootFlag(fs *flag.FlagSet) *string {
	return fs.String("root", "", "repository root (default: the nearest directory above the working directory holding "+ManifestFile+" and go.work)")
}

// ResolveRoot returns root, or, when it is empty, the repository root found
// from the working directory.
func ResolveRoot(root string) (string, error) {
	if root == "" {
		return FindRoot(".")
	}
	if !isFile(filepath.Join(root, ManifestFile)) || !isFile(filepath.Join(root, "go.work")) {
		return "", fmt.Errorf("%s is not the repository root: it lacks %s or go.work", root, ManifestFile)
	}
	return root, nil
}

// ParseRoot parses args into fs, which has the -root flag of RootFlag, and
// returns the repository root (see ResolveRoot). Problems are reported on
// fs.Output(), prefixed with fs.Name(), and code is the exit status to
// return: 2 for bad flags or positional arguments, 1 when the root cannot be
// resolved; it is 0 when dir is good.
func ParseRoot(fs *flag.FlagSet, root *string, args []string) (dir string, code int) {
	if err := fs.Parse(args); err != nil {
		return "", 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return "", 2
	}
	dir, err := ResolveRoot(*root)
	if err != nil {
		fmt.Fprintln(fs.Output(), fs.Name()+":", err)
		return "", 1
	}
	return dir, 0
}
