package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// Skipped is the status of a cell that could not be run for a reason
// outside the lab: its kernel source names an unset variable.
const Skipped = "skipped"

// Runner runs the cells of a matrix.
type Runner struct {
	// Env is shared by every cell; Run sets its Builds and Boots when
	// they are nil.
	Env cell.Env
	// Out receives results.json, junit.xml, summary.md, index.html and
	// cells/<cell ID>/{console.log,results.raw}.
	Out string
	// Boots and MemoryMB bound the boots that run side by side.
	Boots    int
	MemoryMB int64
	// Fresh boots every cell even when a record with the same inputs is
	// kept from an earlier run.
	Fresh bool
	// Getenv reads the variables kernel sources name; nil is os.Getenv.
	Getenv func(string) string
	// Silence, when not zero, overrides the file's silence watchdog.
	Silence time.Duration
	// Fault is a ptvmlab.fault for every boot, and FaultFirstTry one for
	// each cell's first try only (proto.FaultFail+"NAME" plants a failing
	// test): the lab's own tests of compare and of retries.
	Fault, FaultFirstTry string
}

// Run runs cells (of f) and returns their records in cells' order. Cells
// run side by side: their builds one at a time (each make uses every CPU),
// their boots within the budget.
func (r Runner) Run(ctx context.Context, f File, cells []Cell) (report.Run, error) {
	start := time.Now()
	env := r.Env
	if env.Builds == nil {
		env.Builds = &sync.Mutex{}
	}
	if env.Boots == nil {
		env.Boots = cell.NewBudget(max(r.Boots, 1), max(r.MemoryMB, 768))
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	silence, err := f.BootSilence()
	if err != nil {
		return report.Run{}, err
	}
	if r.Silence != 0 {
		silence = r.Silence
	}
	timeout, err := f.BootTimeout()
	if err != nil {
		return report.Run{}, err
	}
	trees := &treeCache{getenv: getenv, c: env.Cache, got: map[string]*treeResult{}}
	recs := make([]report.Boot, len(cells))
	var wg sync.WaitGroup
	for i, c := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = r.runCell(ctx, env, f, trees, c, timeout, silence)
		}()
	}
	wg.Wait()
	return report.Run{Started: start.UTC(), TookS: time.Since(start).Seconds(), Boots: recs}, nil
}

func (r Runner) runCell(ctx context.Context, env cell.Env, f File, trees *treeCache, c Cell, timeout, silence time.Duration) report.Boot {
	rec := report.Boot{Cell: c.ID, Kernel: c.Kernel.Source, Series: seriesLabel(c.Series), Arch: c.Arch, UMLFlags: c.Flags}
	tree, err := trees.get(ctx, c.Kernel)
	switch {
	case ctx.Err() != nil:
		return interrupted(rec)
	case errors.Is(err, ErrUnset):
		rec.Status, rec.Title = Skipped, err.Error()
		return rec
	case err != nil:
		// The matrix file named a source that is not there or not a
		// kernel: its input, as --kernel is for run.
		rec.Status, rec.Title = string(boot.Invalid), err.Error()
		return rec
	}
	rec.Kernel, rec.Version, rec.Digest = tree.Spec.Raw, tree.Version, tree.Digest
	series, name, expect, err := cell.ResolveSeries(env.ModuleDir, tree, c.Series)
	if err != nil {
		rec.Status, rec.Title = string(boot.Invalid), err.Error()
		return rec
	}
	cc := cell.Cell{ID: c.ID, Tree: tree, Series: series, SeriesName: name, Arch: c.Arch, Expect: expect,
		Timeout: timeout, Silence: silence, Out: filepath.Join(r.Out, "cells", filepath.FromSlash(c.ID)),
		Reuse: !r.Fresh, Keep: true, Forget: r.Fresh}
	if c.Flags != "-" {
		cc.UMLBoots = c.Flags
	}
	var tries []report.Try
	out := r.try(ctx, env, cc, c, len(tries))
	quarantine(f, &out) // a cell whose only failures are quarantined is not run again
	for len(tries) < f.RetryCount() && retryable(out.Status) && ctx.Err() == nil {
		t, err := keepTry(out, cc.Out, len(tries)+1)
		if err != nil {
			slog.Error("cell's try not kept; not run again", "cell", c.ID, "err", err)
			break
		}
		tries = append(tries, t)
		slog.Info("cell did not pass; running it again", "cell", c.ID, "status", out.Status, "try", len(tries)+1)
		cc.Forget = true // the rerun's record replaces the kept try's
		out = r.try(ctx, env, cc, c, len(tries))
		quarantine(f, &out)
	}
	out.Tries = tries
	if len(tries) > 0 && (out.Status == string(boot.Passed) || out.Status == report.Quarantined) {
		out.Status, out.Title = report.Flaky, fmt.Sprintf("%s on try %d after %s: %s", out.Status, len(tries)+1, tries[0].Status, tries[0].Title)
	}
	return out
}

// retryable are the statuses of a boot worth a second try: the guest's
// verdicts. A build that broke or an input that does not fit would only
// fail the same way again.
func retryable(status string) bool {
	switch boot.Status(status) {
	case boot.Failed, boot.Panic, boot.Timeout:
		return true
	}
	return false
}

// keepTry moves a try's logs into out/try-N/ and returns what the report
// keeps of it.
func keepTry(rec report.Boot, out string, n int) (report.Try, error) {
	t := report.Try{Status: rec.Status, Title: rec.Title, DurationS: rec.DurationS}
	for _, tt := range report.Flatten(rec.Tests) {
		// The tests that failed themselves: a parent that failed through its
		// subtests is not listed again.
		if tt.Failed() && !hasFailed(tt.Subtests) {
			t.Failed = append(t.Failed, tt.Name)
		}
	}
	dir := filepath.Join(out, fmt.Sprintf("try-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, fmt.Errorf("keep try %d: %w", n, err)
	}
	logs := []*string{&rec.ConsoleLog, &rec.ResultsRaw}
	for i := range rec.Attempts {
		logs = append(logs, &rec.Attempts[i].ConsoleLog) // a KVM attempt's console.kvm.log
	}
	for _, p := range logs {
		if *p == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.Base(*p))
		err := os.Rename(*p, dst)
		if errors.Is(err, os.ErrNotExist) {
			*p = "" // a log the record names but that was never kept: nothing to move
			continue
		}
		if err != nil {
			return t, fmt.Errorf("keep try %d: %w", n, err)
		}
		*p = dst
	}
	t.ConsoleLog, t.ResultsRaw = rec.ConsoleLog, rec.ResultsRaw
	return t, nil
}

// quarantine marks rec's failed tests that f quarantines with the reason,
// and gives a cell whose only failures are quarantined tests the status
// report.Quarantined.
func quarantine(f File, rec *report.Boot) {
	if len(f.Quarantine) == 0 {
		return
	}
	all := markQuarantined(f, rec.Cell, "", rec.Tests)
	if all && rec.Status == string(boot.Failed) && strings.HasPrefix(rec.Title, boot.TestsFailed) {
		rec.Status, rec.Title = report.Quarantined, "only quarantined tests failed: "+strings.TrimPrefix(rec.Title, boot.TestsFailed)
	}
}

// markQuarantined sets Quarantine on the failed tests of ts (under prefix)
// that f quarantines in cell, and reports whether every failed test is
// covered: quarantined itself, or failed only through quarantined
// subtests.
func markQuarantined(f File, cell, prefix string, ts []report.Test) bool {
	all := true
	for i := range ts {
		t := &ts[i]
		path := prefix + t.Name
		subsCovered := markQuarantined(f, cell, path+"/", t.Subtests)
		if !t.Failed() {
			continue
		}
		if why := f.Quarantined(cell, path); why != "" {
			t.Quarantine = why
			continue
		}
		if subsCovered && hasFailed(t.Subtests) {
			continue
		}
		all = false
	}
	return all
}

func hasFailed(ts []report.Test) bool {
	for _, t := range ts {
		if t.Failed() {
			return true
		}
	}
	return false
}

// try runs cell c's try number n (0 is the first).
func (r Runner) try(ctx context.Context, env cell.Env, cc cell.Cell, c Cell, n int) report.Boot {
	cc.Cmdline = nil
	if len(c.Tests) > 0 {
		cc.Cmdline = append(cc.Cmdline, proto.ArgTests+"="+strings.Join(c.Tests, ","))
	}
	if r.Fault != "" {
		cc.Cmdline = append(cc.Cmdline, proto.ArgFault+"="+r.Fault)
	}
	if r.FaultFirstTry != "" && n == 0 {
		cc.Cmdline = append(cc.Cmdline, proto.ArgFault+"="+r.FaultFirstTry)
	}
	out, err := cell.Run(ctx, env, cc)
	switch {
	case ctx.Err() != nil:
		out = interrupted(out)
		if p := filepath.Join(cc.Out, "console.log"); fileExists(p) {
			out.ConsoleLog = p
		}
	case cell.IsInputError(err):
		out.Status, out.Title = string(boot.Invalid), err.Error()
	case err != nil:
		out.Status, out.Title = string(boot.Infra), err.Error()
		slog.Error("cell could not run", "cell", c.ID, "err", err)
	}
	if out.Cell == "" {
		out.Cell = c.ID
	}
	out.UMLFlags = c.Flags
	return out
}

// interrupted marks rec as ended by a signal (SIGINT or SIGTERM).
func interrupted(rec report.Boot) report.Boot {
	rec.Status, rec.Title, rec.Tests = string(boot.Interrupted), "interrupted (SIGINT or SIGTERM) before this boot ended", nil
	return rec
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// treeCache resolves each kernel source once for all its cells.
type treeCache struct {
	mu     sync.Mutex
	getenv func(string) string
	c      cache.Dir
	got    map[string]*treeResult
}

type treeResult struct {
	once sync.Once
	tree source.Tree
	err  error
}

func (t *treeCache) get(ctx context.Context, k Kernel) (source.Tree, error) {
	t.mu.Lock()
	res, ok := t.got[k.Name]
	if !ok {
		res = &treeResult{}
		t.got[k.Name] = res
	}
	t.mu.Unlock()
	res.once.Do(func() {
		raw, err := ExpandSource(k.Source, t.getenv)
		if err != nil {
			res.err = fmt.Errorf("kernel %s: %w", k.Name, err)
			return
		}
		spec, err := source.Parse(raw)
		if err != nil {
			res.err = fmt.Errorf("kernel %s: %w", k.Name, err)
			return
		}
		res.tree, res.err = source.Resolve(ctx, t.c, spec)
	})
	return res.tree, res.err
}
