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
