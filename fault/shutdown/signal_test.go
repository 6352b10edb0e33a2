//go:build unix

package shutdown_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/shutdown"
)

const childEnv = "FAULT_SHUTDOWN_SIGNAL_CHILD"

// runChild is the program the subprocess test runs: a main that waits for
// SIGTERM the recommended way and reports its shutdown on stdout.
func runChild(mode string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	m, err := shutdown.New(shutdown.WithHookTimeout(time.Minute))
	if err != nil {
		fmt.Println("new:", err)
		stop()
		os.Exit(3) //nolint:gocritic // stop ran by hand just above

	}
	_ = m.AddHook(shutdown.Hook{Name: "db", Run: func(ctx context.Context) error {
		fmt.Println("hook started")
		if mode == "force" {
			select {} // a hook that never returns: only a second signal gets us out
		}
		return nil
	}})
	done, _ := m.Tracker().Track()
	go func() {
		<-m.Tracker().Context().Done() // never: the work finishes first
	}()
	fmt.Println("ready")
	go func() {
		<-ctx.Done()
		done() // the in-flight work finishes once the signal arrived
	}()
	res, err := m.Wait(ctx)
	fmt.Printf("finished reason=%q abandoned=%d err=%v\n", res.Reason, res.Abandoned, err)
	os.Exit(0)
}

// A real SIGTERM, in a subprocess (the test binary run again): the service
// drains, runs its hooks and exits 0; a second SIGTERM forces exit 1.
func TestSignalSubprocess(t *testing.T) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
		return
	}
	for _, tc := range []struct {
		mode     string
		signals  int
		wantCode int
		want     []string
	}{
		{"graceful", 1, 0, []string{"ready", "hook started", "finished reason="}},
		{"force", 2, shutdown.ForceExitCode, []string{"ready", "hook started"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // watchdog
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSignalSubprocess$")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.mode)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			output := make(chan string)
			go func() {
				defer close(output)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					output <- sc.Text()
				}
			}()
			sent := 0
			sigterm := func() {
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Error(err)
				}
				sent++
			}
			var lines []string
			var again <-chan time.Time
		read:
			for {
				select {
				case line, ok := <-output:
					if !ok {
						break read
					}
					lines = append(lines, line)
					if line == "ready" || (line == "hook started" && sent < tc.signals) {
						sigterm()
					}
					if line == "hook started" && tc.mode == "force" {
						// The first SIGTERM may have come before Wait
						// listened, in the instant after it checked its
						// context: signal.NotifyContext alone caught it,
						// and Wait has seen one signal so far. Go on
						// signalling until the forced exit.
						tick := time.NewTicker(50 * time.Millisecond)
						defer tick.Stop()
						again = tick.C
					}
				case <-again:
					sigterm()
				}
			}
			err = cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.wantCode, strings.Join(lines, "\n"))
			}
			if len(lines) != len(tc.want) {
				t.Fatalf("output %q, want lines starting %q", lines, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
				}
			}
			if tc.mode == "graceful" && !strings.Contains(lines[2], "abandoned=0 err=<nil>") ||
				tc.mode == "graceful" && !strings.Contains(lines[2], "terminated") && !strings.Contains(lines[2], "signal received") {
				t.Errorf("result line %q", lines[2])
			}
		})
	}
}

// In-process: a second signal while the sequence runs (here started by
// Shutdown: the first signal Wait sees does not force) cancels what is still
// running and calls the exit function (injected here); Wait then returns the
// forced result.
func TestSecondSignalForcesExit(t *testing.T) {
	var exitCode atomic.Int32
	exitCode.Store(-1)
	hookStarted := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	m, err := shutdown.New(shutdown.WithSignals(syscall.SIGUSR1), shutdown.WithExitFunc(func(code int) { exitCode.Store(int32(code)) }))
	if err != nil {
		t.Fatal(err)
	}
	_ = m.AddHook(shutdown.Hook{Name: "later", Run: func(context.Context) error { return nil }})
	_ = m.AddHook(shutdown.Hook{Name: "stuck", Timeout: time.Hour, Run: func(context.Context) error {
		close(hookStarted)
		<-release
		return nil
	}})
	type out struct {
		res shutdown.Result
		err error
	}
	got := make(chan out, 1)
	// A signal sent before Wait installs its handler would kill the process,
	// so hold SIGUSR1 with our own channel too for the whole test.
	hold := make(chan os.Signal, 2)
	signal.Notify(hold, syscall.SIGUSR1)
	defer signal.Stop(hold)
	go func() {
		r, err := m.Wait(context.Background())
		got <- out{r, err}
	}()
	go func() { _, _ = m.Shutdown(context.Background()) }()
	<-hookStarted
	// Signal until Wait (whose handler may not be installed yet) forces the
	// exit; the outcome doesn't depend on timing, only the number of tries.
	for exitCode.Load() == -1 {
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-hold
		select {
		case o := <-got:
			got <- o
		case <-time.After(10 * time.Millisecond):
		}
	}
	o := <-got
	if exitCode.Load() != shutdown.ForceExitCode {
		t.Errorf("exit code %d, want %d", exitCode.Load(), shutdown.ForceExitCode)
	}
	if !o.res.Forced || !errors.Is(o.err, shutdown.ErrForced) || o.res.Reason != "Shutdown called" {
		t.Errorf("result %+v err %v", o.res, o.err)
	}
	if !errors.Is(o.err, shutdown.ErrHookTimeout) { // "later" was skipped
		t.Errorf("err %v, want the skipped hook reported", o.err)
	}
}

// msgHandler sends the message of every log record to a channel.
type msgHandler struct{ msgs chan<- string }

func (h msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h msgHandler) Handle(_ context.Context, r slog.Record) error {
	h.msgs <- r.Message
	return nil
}
func (h msgHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h msgHandler) WithGroup(string) slog.Handler      { return h }

// doneProbe is a context that reports when Done is first called: Wait calls
// it once its signal handler is installed.
type doneProbe struct {
	context.Context
	once   sync.Once
	called chan struct{}
}

func (c *doneProbe) Done() <-chan struct{} {
	c.once.Do(func() { close(c.called) })
	return c.Context.Done()
}

// One signal, caught both by signal.NotifyContext (whose context, handed to
// Wait, starts the sequence) and by Wait's own handler, is one signal: it
// must not force the exit. It used to, whenever Wait saw the context end
// before the signal itself. Here the context ends first for certain, while
// Wait listens, then the signal comes once; a second one forces the exit.
// A context that had ended before Wait was called counts as the first
// signal (Wait cannot know whether a signal it never saw ended it).
func TestOneSignalSeenTwiceDoesNotForceExit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		endedBefore bool // the context ended before Wait was called
		firstForces bool
	}{
		{"context ends while Wait listens", false, false},
		{"context ended before Wait", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var exitCode atomic.Int32
			exitCode.Store(-1)
			msgs := make(chan string, 64)
			m, err := shutdown.New(
				shutdown.WithSignals(syscall.SIGUSR2),
				shutdown.WithExitFunc(func(code int) { exitCode.Store(int32(code)) }),
				shutdown.WithLogger(slog.New(msgHandler{msgs})),
			)
			if err != nil {
				t.Fatal(err)
			}
			hookStarted := make(chan struct{})
			_ = m.AddHook(shutdown.Hook{Name: "slow", Timeout: time.Hour, Run: func(ctx context.Context) error {
				close(hookStarted)
				<-ctx.Done() // until a forced exit cancels it
				return ctx.Err()
			}})
			// Our own handler for the whole test, so that no SIGUSR2 kills
			// the process whatever Wait's state.
			hold := make(chan os.Signal, 4)
			signal.Notify(hold, syscall.SIGUSR2)
			defer signal.Stop(hold)

			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx := &doneProbe{Context: parent, called: make(chan struct{})}
			if tc.endedBefore {
				cancel()
			}
			type out struct {
				res shutdown.Result
				err error
			}
			got := make(chan out, 1)
			go func() {
				r, err := m.Wait(ctx)
				got <- out{r, err}
			}()
			<-ctx.called // Wait listens
			cancel()
			<-hookStarted

			watchdog := time.NewTimer(10 * time.Second)
			defer watchdog.Stop()
			// signalSeen sends SIGUSR2 and waits for Wait to log what it
			// made of it.
			signalSeen := func() string {
				t.Helper()
				_ = syscall.Kill(os.Getpid(), syscall.SIGUSR2)
				<-hold
				for {
					select {
					case msg := <-msgs:
						if strings.Contains(msg, "signal") {
							return msg
						}
					case <-watchdog.C:
						t.Fatal("Wait did not react to the signal")
					}
				}
			}
			msg := signalSeen()
			if !tc.firstForces {
				if code := exitCode.Load(); code != -1 || strings.Contains(msg, "forcing") {
					t.Fatalf("the first signal forced the exit (code %d, log %q)", code, msg)
				}
				msg = signalSeen()
			}
			if !strings.Contains(msg, "forcing") {
				t.Fatalf("log %q, want a forced exit", msg)
			}
			o := <-got // Wait returns after calling the exit function
			if code := exitCode.Load(); code != shutdown.ForceExitCode {
				t.Errorf("exit code %d, want %d", code, shutdown.ForceExitCode)
			}
			if !o.res.Forced || !errors.Is(o.err, shutdown.ErrForced) || !strings.HasPrefix(o.res.Reason, "context done") {
				t.Errorf("result %+v err %v", o.res, o.err)
			}
		})
	}
}
