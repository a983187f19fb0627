package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/compare"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// compareFormats are the renderings of a comparison, by --format name,
// with the file each is written to under --out.
var compareFormats = []struct {
	name, file string
	render     func(compare.Result, io.Writer) error
}{
	{"text", "compare.txt", compare.Result.Text},
	{"markdown", "compare.md", compare.Result.Markdown},
	{"json", "compare.json", compare.Result.JSON},
}

// historyDirs collects repeated --history flags, oldest first.
type historyDirs []string

func (h *historyDirs) String() string { return strings.Join(*h, ",") }
func (h *historyDirs) Set(dir string) error {
	*h = append(*h, dir)
	return nil
}

// matrixCompare is "ptvmlab matrix compare BASE NEW": what regressed, was
// fixed, flaked, moved in time or in the bench from one run to the next.
// It exits 1 when anything regressed. A --history directory that is BASE
// or NEW counts once, as BASE or NEW. With --out it writes compare.txt,
// compare.md and compare.json there, and NEW's matrix reports with every
// cell's history strip.
func matrixCompare(args []string, stdout io.Writer) error {
	var history historyDirs
	var format, out string
	opts := compare.Opts{BootTime: compare.DefaultBootTime, TestTime: compare.DefaultTestTime, Bench: compare.DefaultBench}
	fs := flag.NewFlagSet("matrix compare", flag.ContinueOnError)
	fs.Var(&history, "history", "an earlier run directory, for flake counts and history strips; repeat it, oldest first")
	fs.StringVar(&format, "format", "text", "what to print: text, markdown (for $GITHUB_STEP_SUMMARY) or json")
	fs.StringVar(&out, "out", "", "directory for compare.txt, compare.md, compare.json and NEW's matrix reports with history")
	fs.Var(&opts.BootTime, "time-threshold", "a boot time change to report: both the percentage and the duration, e.g. 50%+5s")
	fs.Var(&opts.TestTime, "test-time-threshold", "a test time change to report, e.g. 50%+1s")
	fs.Var(&opts.Bench, "bench-threshold", "a bench median move to report for rows without a spread (an older bench.json), e.g. 25%")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 2 {
		return usagef("matrix compare: %d run directories given: name two, BASE and NEW, e.g. ptvmlab matrix compare nightly-41 nightly-42", len(dirs))
	}
	render := -1
	for i, f := range compareFormats {
		if f.name == format {
			render = i
		}
	}
	if render < 0 {
		return usagef("matrix compare: --format %q: choose text, markdown or json", format)
	}
	base, err := loadRun(dirs[0], "")
	if err != nil {
		return err
	}
	newRun, err := loadRun(dirs[1], "")
	if err != nil {
		return err
	}
	var older []compare.Side
	for _, dir := range history {
		if c := filepath.Clean(dir); c == filepath.Clean(dirs[0]) || c == filepath.Clean(dirs[1]) {
			continue // BASE or NEW, listed with the history as a workflow may: count it once
		}
		s, err := loadRun(dir, "--history ")
		if err != nil {
			return err
		}
		older = append(older, s)
	}
	res := compare.Compare(base, newRun, older, opts)
	if err := compareFormats[render].render(res, stdout); err != nil {
		return err
	}
	if out != "" {
		if err := writeCompare(out, res, newRun); err != nil {
			return err
		}
		if format == "text" {
			fmt.Fprintf(stdout, "\nreports in %s (compare.txt, compare.md, compare.json, index.html)\n", out)
		}
	}
	if res.Regressed() {
		return exitError{code: exitFailed}
	}
	return nil
}

// parseInterspersed parses fs from args with its flags before, between
// or after the positional arguments, which it returns. After "--" every
// argument is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// loadRun reads a run directory; what it lacks is a usage error naming the
// file and the fix.
func loadRun(dir, flagName string) (compare.Side, error) {
	s, err := compare.Load(dir)
	if err != nil {
		return s, usagef("matrix compare: %s%v; give run directories written by ptvmlab matrix (or ptvmlab bench)", flagName, err)
	}
	return s, nil
}

// writeCompare writes the three renderings into out, each atomically, and
// NEW's matrix reports (index.html, summary.md, results.json, junit.xml)
// with the history strips and NEW's bench, when NEW has boots.
func writeCompare(out string, res compare.Result, newRun compare.Side) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usagef("matrix compare: --out %s: %v: give a directory ptvmlab can create", out, err)
	}
	for _, f := range compareFormats {
		var b bytes.Buffer
		if err := f.render(res, &b); err != nil {
			return err
		}
		if err := cache.WriteFileAtomic(filepath.Join(out, f.file), b.Bytes(), 0o644); err != nil {
			return exitError{code: exitInfra, err: fmt.Errorf("matrix compare: --out %s: writing %s: %w", out, f.file, err)}
		}
	}
	if len(newRun.Run.Boots) == 0 {
		return nil // a bench alone: no matrix to draw
	}
	if err := report.WriteMatrixWith(out, newRun.Run, report.Extras{History: res.History, Bench: newRun.Bench}); err != nil {
		return exitError{code: exitInfra, err: fmt.Errorf("matrix compare: --out %s: writing NEW's matrix reports: %w", out, err)}
	}
	return nil
}
