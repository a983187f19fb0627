package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/bisect"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/matrix"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// TestExitCode: one code per kind of failure, whatever the command.
func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		err         error
		interrupted bool
		want        int
	}{
		{"nil", nil, false, exitPassed},
		{"help", fmt.Errorf("parse: %w", flag.ErrHelp), false, exitPassed},
		{"usage", usagef("--arch: bad"), false, exitUsage},
		{"wrapped usage", fmt.Errorf("run: %w", usagef("bad")), false, exitUsage},
		{"patch does not apply", fmt.Errorf("build: %w", &patch.ApplyError{Patch: "1.patch", File: "a.c", Why: "hunk 1 FAILED"}), false, exitUsage},
		{"dropped symbol", fmt.Errorf("config: %w", &kconfig.DroppedError{}), false, exitUsage},
		{"bisect bad ref", &bisect.InputError{Err: errors.New("--good x: not a commit")}, false, exitUsage},
		{"failed boots", exitError{code: exitFailed}, false, exitFailed},
		{"infra", errors.New("qemu: no such file"), false, exitInfra},
		{"interrupted with any error", errors.New("make: signal: terminated"), true, exitInterrupted},
		{"interrupted, nil", nil, true, exitInterrupted},
		{"canceled", fmt.Errorf("build: %w", context.Canceled), false, exitInterrupted},
	} {
		if got, _ := exitCode(tc.err, tc.interrupted); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestRunExit: a run's records decide its code, interrupted first.
func TestRunExit(t *testing.T) {
	t.Parallel()
	run := func(statuses ...string) report.Run {
		var r report.Run
		for _, s := range statuses {
			r.Boots = append(r.Boots, report.Boot{Status: s})
		}
		return r
	}
	p, f, i, v, x, sk := string(boot.Passed), string(boot.Failed), string(boot.Infra), string(boot.Invalid), string(boot.Interrupted), matrix.Skipped
	for _, tc := range []struct {
		run  report.Run
		want int
	}{
		{run(p, p), exitPassed},
		{run(p, sk), exitPassed},
		{run(p, f), exitFailed},
		{run(string(boot.Timeout)), exitFailed},
		{run(f, i), exitInfra},
		{run(i, v), exitUsage},
		{run(v, x), exitInterrupted},
		{run(p, x), exitInterrupted},
	} {
		if got := runExit(tc.run); got != tc.want {
			t.Errorf("%v: exit %d, want %d", tc.run.Boots, got, tc.want)
		}
	}
}

// TestExitCodesDocumented: the README lists every exit code, and no other.
func TestExitCodesDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := regexp.MustCompile(`(?s)## Exit codes\n(.*?)\n## `).FindSubmatch(b)
	if sec == nil {
		t.Fatal("README.md has no \"## Exit codes\" section")
	}
	got := map[int]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `?(\\d+)`? \\|").FindAllSubmatch(sec[1], -1) {
		n, _ := strconv.Atoi(string(m[1]))
		got[n] = true
	}
	for _, c := range []int{exitPassed, exitFailed, exitUsage, exitInfra, exitInterrupted, bisect.Skip} {
		if !got[c] {
			t.Errorf("README's exit codes lack %d", c)
		}
		delete(got, c)
	}
	for c := range got {
		t.Errorf("README lists exit code %d, which no command returns", c)
	}
}

// TestMergeRefusesAnEmptyRun: a results.json of {} is not a shard's
// output (exit 2, one line), not a merge of nothing.
func TestMergeRefusesAnEmptyRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(dir+"/results.json", []byte("{}"), 0o644)
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"matrix", "merge", "--out", t.TempDir(), dir}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "holds no boots") {
		t.Errorf("exit %d, stderr %q; want 2 and \"holds no boots\"", code, stderr.String())
	}
}
