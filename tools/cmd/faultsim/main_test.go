package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPrintDefault(t *testing.T) {
	code, out, _ := runArgs(t, "-print-default")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := faultsim.ParseScenario([]byte(out)); err != nil {
		t.Errorf("-print-default printed a scenario that does not parse: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name": "b", "rate": 10, "deadline": "1s", "server": {"capacity": 1},
		"phases": [{"name": "p", "duration": "1s", "latency": {"p50": "1ms"}, "errorRate": 2}], "policy": {"name": "x"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-scenario", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"-scenario", bad}, "phases[0].errorRate: 2 must be a fraction in [0, 1]"},
		{[]string{"-strategies", "none,hystrix"}, `unknown strategy "hystrix"`},
		{[]string{"-scenario", "jitter", "-html", filepath.Join(dir, "x.html")}, "no HTML report"},
		{[]string{"-scenario", "jitter", "-clients", "ten"}, `"ten" is not a number`},
		{[]string{"-scenario", "jitter", "-clients", "5000"}, "Clients: 5000"},
		// Each experiment is reached by its name (a strategy it does not
		// know proves the dispatch without running it).
		{[]string{"-scenario", "retry-storm", "-strategies", "hystrix"}, "hystrix"},
	} {
		code, _, errs := runArgs(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errs, c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	code, _, errs := runArgs(t, "-h")
	if code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	for _, want := range []string{"-scenario", "-strategies", "-seed", "-html", "-json", "-print-default", "amplification", "recovery"} {
		if !strings.Contains(errs, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

// TestJitter runs the experiment from the command line; in a synctest bubble
// the retry module's waits take no real time.
func TestJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "jitter.json")
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"-scenario", "jitter", "-clients", "5,40", "-runs", "4", "-json", path}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), "decorrelated jitter") || !strings.Contains(out.String(), "wrote "+path) {
			t.Errorf("output:\n%s", out.String())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var res faultsim.JitterResult
		if err := json.Unmarshal(data, &res); err != nil || len(res.Rows) != 5 || res.Runs != 4 {
			t.Errorf("the JSON file: %v %+v", err, res)
		}
	})
}

// TestScenarioRun plays a tiny scenario through the command (real loopback
// server, so real time: about one second): the table, the report files, and
// exit status 1 naming the expectation that failed.
func TestScenarioRun(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "tiny.json")
	if err := os.WriteFile(sc, []byte(`{"name": "tiny", "rate": 80, "deadline": "300ms", "server": {"capacity": 8},
		"phases": [{"name": "up", "duration": "300ms", "latency": {"p50": "2ms"}}, {"name": "down", "duration": "300ms", "outage": true}],
		"policy": {"name": "dep", "circuitBreaker": {"failureThreshold": 3, "timeout": "1s"}},
		"expectations": ["fault.down.amplification <= 1", "fault.up.success_rate >= 200%"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	html, js := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.json")
	code, out, errs := runArgs(t, "-scenario", sc, "-strategies", "fault", "-seed", "3", "-html", html, "-json", js)
	if code != 1 || !strings.Contains(errs, "1 expectation(s) failed: fault.up.success_rate >= 200%") {
		t.Errorf("exit %d, stderr %q; want 1 and the failed expectation named", code, errs)
	}
	for _, want := range []string{`scenario "tiny", seed 3`, "(compressed: an incident", "overall", "PASS  fault.down.amplification <= 1", "FAIL  fault.up.success_rate", "wrote " + html, "wall time"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "[1/1 fault] down") {
		t.Errorf("no progress line for a non-terminal stderr: %q", errs)
	}
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("HTML report: %v", err)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep faultsim.Report
	if err := json.Unmarshal(data, &rep); err != nil || rep.Passed || len(rep.Strategies) != 1 {
		t.Errorf("JSON report: %v passed=%v", err, rep.Passed)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}
