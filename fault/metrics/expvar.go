package metrics

import (
	"errors"
	"expvar"
	"fmt"
	"sync"
)

// ErrPublished is returned by Publish when the expvar name is taken.
var ErrPublished = errors.New("metrics: expvar name already published")

// publishMu serialises Publish so that the check for a taken name and the
// publication cannot interleave between two Publish calls.
var publishMu sync.Mutex

// Publish exposes the Recorder's Snapshot as the expvar variable name (served
// as JSON on /debug/vars by the expvar package's handler), computed afresh
// on every read. It returns an error wrapping ErrPublished, instead of the
// panic of expvar.Publish, when the name is already taken, and an error for
// an empty name. expvar offers no way to unpublish: publish once per process.
func (r *Recorder) Publish(name string) (err error) {
	if name == "" {
		return fmt.Errorf("%w: Publish(%q): the expvar name must not be empty", ErrInvalidOption, name)
	}
	publishMu.Lock()
	defer publishMu.Unlock()
	if expvar.Get(name) != nil {
		return fmt.Errorf("%w: %q", ErrPublished, name)
	}
	defer func() {
		// Someone published the name between Get and Publish without
		// going through this function.
		if recover() != nil {
			err = fmt.Errorf("%w: %q", ErrPublished, name)
		}
	}()
	expvar.Publish(name, expvar.Func(func() any { return r.Snapshot() }))
	return nil
}
