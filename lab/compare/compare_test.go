package compare

import (
	"reflect"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/benchreport"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// Cells of a synthetic matrix.
const (
	c612 = "6.12/auto/x86_64/default"
	c73  = "7.3/auto/x86_64/default"
	c73i = "7.3/auto/i386/default"
)

// pass and fail are tests; ptraceVM is a parent with subtests, as the
// guest's nested results are.
func pass(name string, subs ...report.Test) report.Test {
	return report.Test{Name: name, Status: "pass", Subtests: subs}
}

func fail(name string, subs ...report.Test) report.Test {
	return report.Test{Name: name, Status: "fail", Diagnostic: []string{"want 42, got -38"}, Subtests: subs}
}

func cell(id, status string, tests ...report.Test) report.Boot {
	return report.Boot{Cell: id, Status: status, DurationS: 30, Tests: tests}
}

func run(boots ...report.Boot) report.Run { return report.Run{Boots: boots} }

// healthy is a cell whose three tests pass, skipexit under ptrace_vm.
func healthy(id string) report.Boot {
	return cell(id, "passed", pass("probe"), pass("ptrace_vm", pass("skipcall"), pass("skipexit")), pass("uml"))
}

func TestCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		base, new report.Run
		regressed bool
		check     func(t *testing.T, r Result)
	}{
		{
			name: "a planted SKIPEXIT regression: exactly that test, in both cells it broke",
			base: run(healthy(c612), healthy(c73), healthy(c73i)),
			new: run(healthy(c612),
				cell(c73, "failed", pass("probe"), fail("ptrace_vm", pass("skipcall"), fail("skipexit")), pass("uml")),
				cell(c73i, "failed", pass("probe"), fail("ptrace_vm", pass("skipcall"), fail("skipexit")), pass("uml"))),
			regressed: true,
			check: func(t *testing.T, r Result) {
				want := []TestChange{
					{Cell: c73i, Test: "ptrace_vm/skipexit", Base: "pass", New: "fail", Diagnostic: []string{"want 42, got -38"}},
					{Cell: c73, Test: "ptrace_vm/skipexit", Base: "pass", New: "fail", Diagnostic: []string{"want 42, got -38"}},
				}
				eq(t, "test regressions", r.TestRegressions, want)
				eq(t, "cell regressions", r.CellRegressions, []CellChange{
					{Cell: c73i, Base: "passed", New: "failed"}, {Cell: c73, Base: "passed", New: "failed"}})
				eq(t, "other changes", r.ChangedTests, []TestChange(nil))
			},
		},
		{
			name:      "pass→missing in a cell that still passed",
			base:      run(healthy(c612)),
			new:       run(cell(c612, "passed", pass("probe"), pass("ptrace_vm", pass("skipcall"), pass("skipexit")))),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "test regressions", r.TestRegressions, []TestChange{{Cell: c612, Test: "uml", Base: "pass", New: ""}})
				eq(t, "cell regressions", r.CellRegressions, []CellChange(nil))
			},
		},
		{
			name: "a test NEW's command line no longer selects is a change of plan, not a regression",
			base: run(healthy(c612)),
			new: run(func() report.Boot {
				b := cell(c612, "passed", pass("probe"), pass("uml"))
				b.Cmdline = []string{"console=ttyS0", "ptvmlab.tests=probe,uml"}
				return b
			}()),
			check: func(t *testing.T, r Result) {
				eq(t, "test regressions", r.TestRegressions, []TestChange(nil))
				eq(t, "deselected", r.Deselected, []TestChange{{Cell: c612, Test: "ptrace_vm", Base: "pass", New: ""}})
				eq(t, "vanished", r.VanishedTests, []TestChange(nil))
				eq(t, "headline", r.Headline(), "no regressions; 1 test no longer selected")
			},
		},
		{
			name: "a selected test that is missing is still a regression",
			base: run(healthy(c612)),
			new: run(func() report.Boot {
				b := cell(c612, "passed", pass("probe"))
				b.Cmdline = []string{"ptvmlab.tests=probe,uml"}
				return b
			}()),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "test regressions", r.TestRegressions, []TestChange{{Cell: c612, Test: "uml", Base: "pass", New: ""}})
				eq(t, "deselected", r.Deselected, []TestChange{{Cell: c612, Test: "ptrace_vm", Base: "pass", New: ""}})
			},
		},
		{
			name:      "a panic stands for the tests it did not reach",
			base:      run(healthy(c612)),
			new:       run(report.Boot{Cell: c612, Status: "panic", Title: "BUG: kernel NULL pointer dereference", Tests: []report.Test{pass("probe")}}),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "cell regressions", r.CellRegressions, []CellChange{{Cell: c612, Base: "passed", New: "panic",
					Title: "BUG: kernel NULL pointer dereference", Unreached: 4}})
				eq(t, "test regressions", r.TestRegressions, []TestChange(nil))
			},
		},
		{
			name:      "a flaky cell that now times out is a regression, its unreached tests counted on the cell",
			base:      run(func() report.Boot { b := healthy(c612); b.Status = report.Flaky; return b }()),
			new:       run(report.Boot{Cell: c612, Status: "timeout", Title: "no end after 5m0s", Tests: []report.Test{pass("probe")}}),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "cell regressions", r.CellRegressions, []CellChange{{Cell: c612, Base: "flaky", New: "timeout", Title: "no end after 5m0s", Unreached: 4}})
				eq(t, "test regressions", r.TestRegressions, []TestChange(nil))
			},
		},
		{
			name:      "a cell that passed and is now skipped is one regression, not one per test",
			base:      run(healthy(c612)),
			new:       run(report.Boot{Cell: c612, Status: "skipped", Title: "environment variable not set: PTVMLAB_LINUX_2_6_29"}),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "cell regressions", r.CellRegressions, []CellChange{{Cell: c612, Base: "passed", New: "skipped",
					Title: "environment variable not set: PTVMLAB_LINUX_2_6_29", Unreached: 5}})
				eq(t, "test regressions", r.TestRegressions, []TestChange(nil))
			},
		},
		{
			name: "a quarantined cell that now passes is a change, not a fix or a regression",
			base: run(cell(c612, report.Quarantined, pass("probe"), report.Test{Name: "uml", Status: "fail", Quarantine: "#12"})),
			new:  run(cell(c612, "passed", pass("probe"), pass("uml"))),
			check: func(t *testing.T, r Result) {
				eq(t, "cell fixes", r.CellFixes, []CellChange(nil))
				eq(t, "changed cells", r.ChangedCells, []CellChange{{Cell: c612, Base: report.Quarantined, New: "passed"}})
			},
		},
		{
			name: "a quarantined failure is listed, not a regression",
			base: run(healthy(c612)),
			new: run(cell(c612, report.Quarantined, pass("probe"), pass("ptrace_vm", pass("skipcall"), pass("skipexit")),
				report.Test{Name: "uml", Status: "fail", Quarantine: "UML hangs under TCG, #12"})),
			check: func(t *testing.T, r Result) {
				eq(t, "quarantined", r.Quarantined, []TestChange{{Cell: c612, Test: "uml", Base: "pass", New: "fail", Quarantine: "UML hangs under TCG, #12"}})
			},
		},
		{
			name: "a flaky cell is listed and counted, not a regression",
			base: run(healthy(c612)),
			new: run(func() report.Boot {
				b := healthy(c612)
				b.Status = report.Flaky
				b.Tries = []report.Try{{Status: "failed", Failed: []string{"ptrace_vm", "ptrace_vm/skipexit"}}}
				return b
			}()),
			check: func(t *testing.T, r Result) {
				eq(t, "flaky", r.Flaky, []FlakyCell{{Cell: c612, Base: "passed", Tries: 1, Failed: []string{"ptrace_vm", "ptrace_vm/skipexit"}}})
				eq(t, "flakes", r.Flakes, []FlakeCount{{Cell: c612, Test: "ptrace_vm", Flaky: 1, Runs: 2}, {Cell: c612, Test: "ptrace_vm/skipexit", Flaky: 1, Runs: 2}})
			},
		},
		{
			name:      "new and vanished cells; a passed cell gone is a regression",
			base:      run(healthy(c612), cell(c73, "failed", fail("probe"))),
			new:       run(healthy(c73i)),
			regressed: true,
			check: func(t *testing.T, r Result) {
				eq(t, "new", r.NewCells, []CellChange{{Cell: c73i, New: "passed"}})
				eq(t, "vanished", r.VanishedCells, []CellChange{{Cell: c73, Base: "failed"}})
				eq(t, "regressions", r.CellRegressions, []CellChange{{Cell: c612, Base: "passed", Title: "not in NEW"}})
				eq(t, "test regressions", r.TestRegressions, []TestChange(nil))
			},
		},
		{
			name: "fixes, new and vanished tests, other changes",
			base: run(cell(c612, "failed", pass("probe"), fail("ptrace_vm", fail("skipexit")), pass("uml"), fail("gone"))),
			new: run(cell(c612, "passed", pass("probe"), pass("ptrace_vm", pass("skipexit")),
				report.Test{Name: "uml", Status: "skip", Directive: "SKIP no UML"}, pass("added"))),
			check: func(t *testing.T, r Result) {
				eq(t, "cell fixes", r.CellFixes, []CellChange{{Cell: c612, Base: "failed", New: "passed"}})
				eq(t, "test fixes", r.TestFixes, []TestChange{{Cell: c612, Test: "ptrace_vm/skipexit", Base: "fail", New: "pass"}})
				eq(t, "new tests", r.NewTests, []TestChange{{Cell: c612, Test: "added", New: "pass"}})
				eq(t, "vanished tests", r.VanishedTests, []TestChange{{Cell: c612, Test: "gone", Base: "fail", Diagnostic: []string{"want 42, got -38"}}})
				eq(t, "changed tests", r.ChangedTests, []TestChange{{Cell: c612, Test: "uml", Base: "pass", New: "skip"}})
			},
		},
		{
			name: "nothing changed",
			base: run(healthy(c612), healthy(c73)),
			new:  run(healthy(c73), healthy(c612)),
			check: func(t *testing.T, r Result) {
				if r.Headline() != "no regressions" {
					t.Errorf("headline %q", r.Headline())
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Compare(Side{Label: "base", Run: tc.base}, Side{Label: "new", Run: tc.new}, nil, Opts{})
			if r.Regressed() != tc.regressed {
				t.Errorf("Regressed() = %v, want %v: %s", r.Regressed(), tc.regressed, r.Headline())
			}
			tc.check(t, r)
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestTimes: a boot or test time is reported when it moved by both the
// relative and the absolute threshold, on either side of the edge, in
// either direction.
func TestTimes(t *testing.T) {
	t.Parallel()
	timed := func(bootS, testS float64) report.Run {
		b := healthy(c612)
		b.DurationS = bootS
		b.Tests[0].DurationS = testS
		return run(b)
	}
	for _, tc := range []struct {
		name                    string
		baseBoot, newBoot       float64
		baseTest, newTest       float64
		wantBoot, wantTestMoved bool
	}{
		{"at both edges", 10, 15, 2, 3, true, true},
		{"just under the relative edge", 10, 14.9, 2, 2.9, false, false},
		{"relative met, absolute not", 4, 8.9, 0.5, 1.4, false, false},
		{"absolute met, relative not", 20, 29.9, 3, 4.4, false, false},
		{"faster counts too", 15, 10, 3, 2, true, true},
		{"no time taken is no change", 0, 100, 0, 5, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Compare(Side{Run: timed(tc.baseBoot, tc.baseTest)}, Side{Run: timed(tc.newBoot, tc.newTest)}, nil, Opts{})
			if got := len(r.BootTimes) == 1; got != tc.wantBoot {
				t.Errorf("boot %v → %v: reported %v, want %v", tc.baseBoot, tc.newBoot, r.BootTimes, tc.wantBoot)
			}
			if got := len(r.TestTimes) == 1; got != tc.wantTestMoved {
				t.Errorf("test %v → %v: reported %v, want %v", tc.baseTest, tc.newTest, r.TestTimes, tc.wantTestMoved)
			}
			if r.Regressed() {
				t.Errorf("a time change is not a regression")
			}
		})
	}
	// A threshold of the caller's own.
	r := Compare(Side{Run: timed(10, 1)}, Side{Run: timed(11, 1.1)}, nil, Opts{BootTime: Threshold{Rel: 0.1}, TestTime: Threshold{Rel: 0.1}})
	eq(t, "own thresholds", r.BootTimes, []TimeChange{{Cell: c612, BaseS: 10, NewS: 11}})
	eq(t, "own thresholds", r.TestTimes, []TimeChange{{Cell: c612, Test: "probe", BaseS: 1, NewS: 1.1}})
}

// TestBench: a median moved when the runs' ranges do not overlap; without
// a spread, when it moved by the relative threshold, and the result says
// how many rows were judged so.
func TestBench(t *testing.T) {
	t.Parallel()
	row := func(what string, med, lo, hi float64) benchreport.Row {
		return benchreport.Row{What: what, NsPerCall: med, NsMin: lo, NsMax: hi}
	}
	base := &benchreport.Report{Rows: []benchreport.Row{
		row("SKIPCALL", 1000, 950, 1100),
		row("PTRACE_SYSEMU", 1000, 950, 1100),
		row("PTRACE_SYSCALL", 2000, 1900, 2100),
		row("old, moved", 1000, 0, 0),
		row("old, steady", 1000, 0, 0),
		{What: "SKIPEXIT", Skipped: "this kernel has no PTRACE_VM tags"},
		row("only in BASE", 5, 4, 6),
	}}
	new := &benchreport.Report{Rows: []benchreport.Row{
		row("SKIPCALL", 1300, 1150, 1400),       // every run slower than BASE's slowest: moved
		row("PTRACE_SYSEMU", 1200, 1100, 1300),  // touches BASE's slowest: not moved
		row("PTRACE_SYSCALL", 1500, 1400, 1800), // every run faster: moved
		row("old, moved", 1250, 0, 0),           // +25%: moved by the fallback
		row("old, steady", 1240, 1200, 1300),    // +24%, BASE has no spread
		row("SKIPEXIT", 800, 700, 900),          // skipped in BASE: not compared
	}}
	r := Compare(Side{Bench: base}, Side{Bench: new}, nil, Opts{})
	want := &BenchComparison{Compared: 5, WithoutSpread: 2, Moved: []BenchMove{
		{What: "SKIPCALL", BaseNs: 1000, NewNs: 1300, BaseMin: 950, BaseMax: 1100, NewMin: 1150, NewMax: 1400, Rule: RuleSpread},
		{What: "PTRACE_SYSCALL", BaseNs: 2000, NewNs: 1500, BaseMin: 1900, BaseMax: 2100, NewMin: 1400, NewMax: 1800, Rule: RuleSpread},
		{What: "old, moved", BaseNs: 1000, NewNs: 1250, Rule: RuleRelative},
	}}
	eq(t, "bench", r.Bench, want)
	if r.Regressed() {
		t.Errorf("a bench move is not a regression")
	}
	if r := Compare(Side{Bench: base}, Side{}, nil, Opts{}); r.Bench != nil {
		t.Errorf("bench compared with only BASE's bench.json: %+v", r.Bench)
	}
}

// TestHistory: flakes are counted over the history, BASE and NEW, once per
// run however many tries failed; every cell has one mark per run.
func TestHistory(t *testing.T) {
	t.Parallel()
	flaky := func(id string, failed ...string) report.Boot {
		b := healthy(id)
		b.Status = report.Flaky
		for _, f := range failed {
			b.Tries = append(b.Tries, report.Try{Status: "failed", Failed: []string{f}})
		}
		return b
	}
	history := []Side{
		{Label: "n1", Run: run(healthy(c612), flaky(c73, "uml", "uml"))},
		{Label: "n2", Run: run(flaky(c612, "probe"))},
		{Label: "n3", Run: run(healthy(c612), flaky(c73, "uml"))},
	}
	base := Side{Label: "n4", Run: run(healthy(c612), cell(c73, "failed", fail("uml")))}
	new := Side{Label: "n5", Run: run(healthy(c612), flaky(c73, "uml", "probe"))}
	r := Compare(base, new, history, Opts{})
	eq(t, "runs", r.Runs, []string{"n1", "n2", "n3", "n4", "n5"})
	eq(t, "flakes", r.Flakes, []FlakeCount{
		{Cell: c612, Test: "probe", Flaky: 1, Runs: 5},
		{Cell: c73, Test: "probe", Flaky: 1, Runs: 5},
		{Cell: c73, Test: "uml", Flaky: 3, Runs: 5},
	})
	marks := func(statuses ...string) []report.Mark {
		var ms []report.Mark
		for i, s := range statuses {
			ms = append(ms, report.Mark{Run: r.Runs[i], Status: s})
		}
		return ms
	}
	eq(t, "history", r.History[c73], marks("flaky", "", "flaky", "failed", "flaky"))
	eq(t, "history", r.History[c612], marks("passed", "flaky", "passed", "passed", "passed"))
	if len(r.History) != 2 {
		t.Errorf("history of %d cells, want 2", len(r.History))
	}
	if r.Regressed() {
		t.Errorf("failed → flaky regressed: %s", r.Headline())
	}
}
