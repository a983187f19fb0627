package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// writeRun writes a results.json of boots into a new directory under
// parent and returns it.
func writeRun(t *testing.T, parent, name string, boots ...report.Boot) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(report.Run{Boots: boots})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func compareBoot(status, skipexit string) report.Boot {
	return report.Boot{Cell: "7.3/auto/x86_64/default", Status: status, DurationS: 40, Tests: []report.Test{
		{Name: "probe", Status: "pass"}, {Name: "skipexit", Status: skipexit, Diagnostic: []string{"want 42 | got -38"}}}}
}

// TestCompareExit: exit 1 when anything regressed, after printing the
// comparison; 0 when nothing did; flags go before or after the two runs.
func TestCompareExit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	good := writeRun(t, root, "good", compareBoot("passed", "pass"))
	bad := writeRun(t, root, "bad", compareBoot("failed", "fail"))
	good2 := writeRun(t, root, "good2", compareBoot("passed", "pass"))
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"a regression", []string{good, bad}, exitFailed, []string{"REGRESSED: 1 cell, 1 test", "7.3/auto/x86_64/default skipexit: pass → fail"}},
		{"a fix", []string{bad, good}, exitPassed, []string{"no regressions; 2 fixes"}},
		{"nothing changed", []string{good, good2}, exitPassed, []string{"no regressions\n"}},
		{"markdown, flag after the runs", []string{good, bad, "--format", "markdown"}, exitFailed, []string{"### Regressions", `want 42 \| got -38`}},
		{"json, flag before", []string{"--format=json", good, bad}, exitFailed, []string{`"regressed": true`}},
		{"history", []string{"--history", bad, "--history", good2, good, bad, "--format", "json"}, exitFailed, []string{`"runs": [`, `"status": "failed"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			err := matrixCompare(tc.args, &stdout)
			if code, msg := exitCode(err, false); code != tc.code || msg != "" {
				t.Errorf("exit %d %q, want %d and nothing more to print (err %v)", code, msg, tc.code, err)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout has no %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

// TestCompareHistoryNamesBase: a --history directory that is BASE (as the
// nightly workflow passes every earlier night, the newest being BASE)
// counts once.
func TestCompareHistoryNamesBase(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	older := writeRun(t, root, "older", compareBoot("passed", "pass"))
	base := writeRun(t, root, "base", compareBoot("passed", "pass"))
	newDir := writeRun(t, root, "new", compareBoot("passed", "pass"))
	var stdout bytes.Buffer
	if err := matrixCompare([]string{"--history", older, "--history", base + "/", "--format", "json", base, newDir}, &stdout); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Runs []string `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if want := []string{older, base, newDir}; !slices.Equal(res.Runs, want) {
		t.Errorf("runs %q, want %q", res.Runs, want)
	}
}

// TestCompareOut: --out holds the three renderings and NEW's matrix
// reports; stdout is the chosen format.
func TestCompareOut(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	old := writeRun(t, root, "old", compareBoot("failed", "fail"))
	base := writeRun(t, root, "base", compareBoot("passed", "pass"))
	newDir := writeRun(t, root, "new", compareBoot("passed", "pass"))
	out := filepath.Join(root, "cmp")
	var stdout bytes.Buffer
	if err := matrixCompare([]string{"--history", old, "--out", out, "--format", "json", base, newDir}, &stdout); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Regressed bool                     `json:"regressed"`
		History   map[string][]report.Mark `json:"history"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not the JSON asked for: %v\n%s", err, stdout.String())
	}
	if res.Regressed || len(res.History["7.3/auto/x86_64/default"]) != 3 {
		t.Errorf("regressed %v, history %v", res.Regressed, res.History)
	}
	for _, f := range []string{"compare.txt", "compare.md", "compare.json", "index.html", "summary.md", "results.json", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("--out has no %s: %v", f, err)
		}
	}
	js, _ := os.ReadFile(filepath.Join(out, "compare.json"))
	if !bytes.Equal(js, stdout.Bytes()) {
		t.Errorf("compare.json differs from what was printed")
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestCompareUsage: bad usage is exit 2 with one line naming the thing and
// the fix.
func TestCompareUsage(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	good := writeRun(t, root, "good", compareBoot("passed", "pass"))
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no runs", nil, "matrix compare: 0 run directories given: name two, BASE and NEW"},
		{"one run", []string{good}, "1 run directories given: name two"},
		{"three runs", []string{good, good, good}, "3 run directories given"},
		{"no results.json", []string{empty, good}, "matrix compare: " + empty + "/results.json: no such file; give run directories written by ptvmlab matrix"},
		{"no such NEW", []string{good, filepath.Join(root, "nope")}, "nope/results.json: no such file"},
		{"a history that is not a run", []string{"--history", empty, good, good}, "matrix compare: --history " + empty + "/results.json: no such file"},
		{"a format not known", []string{"--format", "html", good, good}, `matrix compare: --format "html": choose text, markdown or json`},
		{"a threshold not understood", []string{"--time-threshold", "fast", good, good}, `threshold "fast": "fast" is neither a percentage nor one non-negative duration; write e.g. 50%+5s`},
		{"a flag not known", []string{"--fresh", good, good}, "matrix compare: flag provided but not defined: -fresh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			err := matrixCompare(tc.args, &stdout)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T), want a usage error", err, err)
			}
			code, msg := exitCode(err, false)
			if code != exitUsage || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d %q, want %d and one line containing %q", code, msg, exitUsage, tc.want)
			}
		})
	}
}
