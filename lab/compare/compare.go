package compare

import (
	"slices"
	"sort"
	"strings"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/benchreport"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/ktap"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// Side is one run to compare: its label (the directory it was read from),
// its boot records and, when its directory had a bench.json, the bench.
type Side struct {
	Label string
	Run   report.Run
	Bench *benchreport.Report
}

// Opts are the thresholds a comparison uses. A zero Threshold means its
// default (DefaultBootTime, DefaultTestTime, DefaultBench).
type Opts struct {
	// BootTime: a cell's boot time (DurationS) that moved at least this
	// much, when the cell passed in both runs.
	BootTime Threshold `json:"boot_time"`
	// TestTime: a test's time that moved at least this much, when the test
	// passed in both runs and the guest timed it in both.
	TestTime Threshold `json:"test_time"`
	// Bench: how far a median must move when either row has no spread
	// (a bench.json from before the guest reported one).
	Bench Threshold `json:"bench"`
}

// withDefaults fills in the zero thresholds.
func (o Opts) withDefaults() Opts {
	if o.BootTime == (Threshold{}) {
		o.BootTime = DefaultBootTime
	}
	if o.TestTime == (Threshold{}) {
		o.TestTime = DefaultTestTime
	}
	if o.Bench == (Threshold{}) {
		o.Bench = DefaultBench
	}
	return o
}

// CellChange is a cell whose status differs between the runs.
type CellChange struct {
	Cell string `json:"cell"`
	// Base and New are the cell's status in each run; "" when the cell is
	// not in that run.
	Base string `json:"base"`
	New  string `json:"new"`
	// Title is the NEW record's title (why it did not pass), or BASE's
	// when the cell is not in NEW.
	Title string `json:"title,omitempty"`
	// Unreached counts the tests that passed in BASE and are not in NEW
	// because NEW's boot ended early (panic, timeout, infra). They are not
	// listed one by one: the cell's regression says why they are missing.
	Unreached int `json:"unreached,omitempty"`
}

// TestChange is a test whose status differs between the runs, keyed by
// its cell and its path ("top/sub").
type TestChange struct {
	Cell string `json:"cell"`
	Test string `json:"test"`
	// Base and New are the test's status in each run (pass, fail, skip,
	// xfail, todo, error: proto.Status); "" when it is not in that run.
	Base string `json:"base"`
	New  string `json:"new"`
	// Diagnostic are NEW's diagnostic lines for the test, or BASE's when
	// it is not in NEW.
	Diagnostic []string `json:"diagnostic,omitempty"`
	// Quarantine is why NEW's failure does not count (the test's lab.toml
	// quarantine reason); set only on Result.Quarantined.
	Quarantine string `json:"quarantine,omitempty"`
}

// FlakyCell is a cell that was flaky in NEW: it did not pass, ran again
// and passed. Not a regression.
type FlakyCell struct {
	Cell string `json:"cell"`
	Base string `json:"base"` // the cell's status in BASE; "" when not in it
	// Tries counts NEW's earlier tries, and Failed are the paths of the
	// tests that failed in any of them.
	Tries  int      `json:"tries"`
	Failed []string `json:"failed"`
}

// TimeChange is a boot or a test whose time moved beyond its threshold.
type TimeChange struct {
	Cell  string  `json:"cell"`
	Test  string  `json:"test,omitempty"` // "" for the cell's boot
	BaseS float64 `json:"base_s"`
	NewS  float64 `json:"new_s"`
}

// Slower reports whether NEW took longer.
func (t TimeChange) Slower() bool { return t.NewS > t.BaseS }

// Result is everything that changed from BASE to NEW. Lists are sorted by
// cell, then test.
type Result struct {
	Base string `json:"base"` // BASE's label
	New  string `json:"new"`  // NEW's label
	// Opts are the thresholds used, defaults filled in.
	Opts Opts `json:"thresholds"`

	// CellRegressions: cells that passed in BASE and are failed, panic,
	// timeout or infra in NEW, or not in NEW at all.
	CellRegressions []CellChange `json:"cell_regressions"`
	// TestRegressions: tests that passed in BASE and fail (or error) in
	// NEW, or are not in NEW though their cell is (pass→missing). A test
	// whose NEW failure is quarantined is in Quarantined instead; a parent
	// whose failure is only a listed subtest's is left out.
	TestRegressions []TestChange `json:"regressions"`
	// CellFixes and TestFixes: failed (panic, timeout, infra; fail,
	// error) in BASE, passed in NEW.
	CellFixes []CellChange `json:"cell_fixes"`
	TestFixes []TestChange `json:"fixes"`
	// Flaky: cells flaky in NEW. Not regressions.
	Flaky []FlakyCell `json:"flaky"`
	// Quarantined: every test failing in NEW with a quarantine reason,
	// whatever its BASE status. Not regressions.
	Quarantined []TestChange `json:"quarantined"`
	// NewCells and VanishedCells: cells in one run only (a cell that
	// passed in BASE and is not in NEW is a regression instead).
	NewCells      []CellChange `json:"new_cells"`
	VanishedCells []CellChange `json:"vanished_cells"`
	// NewTests and VanishedTests: tests in one run only, in a cell in
	// both (a test that passed in BASE and is not in NEW is a regression).
	NewTests      []TestChange `json:"new_tests"`
	VanishedTests []TestChange `json:"vanished_tests"`
	// Deselected: tests in BASE that NEW's boot did not run because its
	// command line's ptvmlab.tests= leaves them out (e.g. a matrix
	// flag-set cell that runs probe,uml only). A change of plan, not a
	// regression; listed by top-level test, the unit a selection names.
	Deselected []TestChange `json:"deselected"`
	// ChangedCells and ChangedTests: every other change of status, e.g.
	// pass→skip, failed→panic, passed→skipped.
	ChangedCells []CellChange `json:"changed_cells"`
	ChangedTests []TestChange `json:"changed_tests"`
	// BootTimes and TestTimes: times beyond Opts' thresholds.
	BootTimes []TimeChange `json:"boot_times"`
	TestTimes []TimeChange `json:"test_times"`
	// Bench compares the runs' bench.json; nil unless both had one.
	Bench *BenchComparison `json:"bench"`
	// Runs are the labels of the runs the history covers, oldest first:
	// the history runs, BASE, NEW.
	Runs []string `json:"runs"`
	// Flakes count, per test that flaked at least once, the runs in which
	// it did.
	Flakes []FlakeCount `json:"flakes"`
	// History maps every cell in any run to its status in each of Runs,
	// for the matrix page's history strip.
	History map[string][]report.Mark `json:"history"`
}

// Regressed reports whether anything regressed: a cell or a test that
// passed in BASE and does not in NEW.
func (r Result) Regressed() bool { return len(r.CellRegressions)+len(r.TestRegressions) > 0 }

// Compare says what changed from base to new, and, over history (older
// runs, oldest first) and the two, how often each test flaked.
func Compare(base, new Side, history []Side, o Opts) Result {
	r := Result{Base: base.Label, New: new.Label, Opts: o.withDefaults()}
	baseCells, newCells := cellsOf(base.Run), cellsOf(new.Run)
	for _, id := range unionKeys(baseCells, newCells) {
		b, inBase := baseCells[id]
		n, inNew := newCells[id]
		switch {
		case !inBase:
			r.NewCells = append(r.NewCells, CellChange{Cell: id, New: n.Status, Title: n.Title})
		case !inNew && cellOK(b.Status):
			r.CellRegressions = append(r.CellRegressions, CellChange{Cell: id, Base: b.Status, Title: "not in NEW"})
		case !inNew:
			r.VanishedCells = append(r.VanishedCells, CellChange{Cell: id, Base: b.Status, Title: b.Title})
		default:
			r.compareCell(id, b, n)
		}
	}
	r.Bench = compareBench(base.Bench, new.Bench, r.Opts.Bench)
	r.Runs, r.Flakes, r.History = flakeHistory(append(append(slices.Clip(history), base), new))
	return r
}

// compareCell compares a cell that is in both runs: its status, its tests
// and its times.
func (r *Result) compareCell(id string, b, n report.Boot) {
	c := CellChange{Cell: id, Base: b.Status, New: n.Status, Title: n.Title}
	regressed := false
	switch {
	case n.Status == report.Flaky:
		r.Flaky = append(r.Flaky, flakyCell(id, b.Status, n))
	case cellOK(b.Status) && !cellOK(n.Status):
		regressed = true
	case !cellOK(b.Status) && cellOK(n.Status):
		r.CellFixes = append(r.CellFixes, c)
	case b.Status != n.Status:
		r.ChangedCells = append(r.ChangedCells, c)
	}
	// A boot that did not run its tests to the end (a panic, a timeout,
	// infra, a skipped or interrupted cell) did not reach its later tests:
	// the cell's own entry stands for them.
	endedEarly := !reportedAll(n.Status)
	c.Unreached = r.compareTests(id, b.Tests, n.Tests, endedEarly, selected(n.Cmdline))
	if regressed {
		r.CellRegressions = append(r.CellRegressions, c)
	}
	if b.Status == string(boot.Passed) && n.Status == string(boot.Passed) && r.Opts.BootTime.Exceeded(b.DurationS, n.DurationS) {
		r.BootTimes = append(r.BootTimes, TimeChange{Cell: id, BaseS: b.DurationS, NewS: n.DurationS})
	}
}

// compareTests sorts each test of a cell in both runs into the result's
// lists, and returns how many that passed in BASE are missing from NEW
// when endedEarly (they are then not listed). chosen says whether NEW's
// boot selected a top-level test.
func (r *Result) compareTests(cell string, base, new []report.Test, endedEarly bool, chosen func(top string) bool) (unreached int) {
	bt, nt := testsOf(base), testsOf(new)
	var regressions, fixes []TestChange
	for _, path := range unionKeys(bt, nt) {
		x, inBase := bt[path]
		y, inNew := nt[path]
		c := TestChange{Cell: cell, Test: path, Base: x.Status, New: y.Status, Diagnostic: y.Diagnostic}
		if !inNew {
			c.Diagnostic = x.Diagnostic
		}
		switch {
		case inNew && y.Failed() && y.Quarantine != "":
			c.Quarantine = y.Quarantine
			r.Quarantined = append(r.Quarantined, c)
		case !inBase:
			r.NewTests = append(r.NewTests, c)
		case !inNew && !chosen(topOf(path)):
			if path == topOf(path) {
				r.Deselected = append(r.Deselected, c)
			}
		case !inNew && passing(x.Status) && endedEarly:
			unreached++
		case !inNew && passing(x.Status):
			regressions = append(regressions, c)
		case !inNew:
			r.VanishedTests = append(r.VanishedTests, c)
		case passing(x.Status) && y.Failed():
			regressions = append(regressions, c)
		case x.Failed() && passing(y.Status):
			fixes = append(fixes, c)
		case x.Status != y.Status:
			r.ChangedTests = append(r.ChangedTests, c)
		}
		if inBase && inNew && passing(x.Status) && passing(y.Status) && r.Opts.TestTime.Exceeded(x.DurationS, y.DurationS) {
			r.TestTimes = append(r.TestTimes, TimeChange{Cell: cell, Test: path, BaseS: x.DurationS, NewS: y.DurationS})
		}
	}
	r.TestRegressions = append(r.TestRegressions, leaves(regressions)...)
	r.TestFixes = append(r.TestFixes, leaves(fixes)...)
	return unreached
}

// selected reads a boot's command line for the tests it selected
// (ptvmlab.tests=) and says whether a top-level test is among them; a
// command line that selects none ran every test. A value the guest
// refused (another key's) does not matter here: the guest reported it.
func selected(cmdline []string) func(top string) bool {
	a, _ := proto.ParseArgs(cmdline)
	if len(a.Tests) == 0 {
		return func(string) bool { return true }
	}
	return func(top string) bool { return slices.Contains(a.Tests, top) }
}

// topOf is the top-level test of a path ("ptrace_vm/skipexit" →
// "ptrace_vm").
func topOf(path string) string {
	top, _, _ := strings.Cut(path, "/")
	return top
}

// leaves drops a test whose subtest is also listed: a parent fails because
// its subtest does, and one line says it.
func leaves(cs []TestChange) []TestChange {
	var out []TestChange
	for _, c := range cs {
		if !slices.ContainsFunc(cs, func(d TestChange) bool { return strings.HasPrefix(d.Test, c.Test+"/") }) {
			out = append(out, c)
		}
	}
	return out
}

// flakyCell is n's flakiness: its tries and the tests that failed in them.
func flakyCell(id, base string, n report.Boot) FlakyCell {
	f := FlakyCell{Cell: id, Base: base, Tries: len(n.Tries), Failed: []string{}}
	for _, t := range n.Tries {
		for _, p := range t.Failed {
			if !slices.Contains(f.Failed, p) {
				f.Failed = append(f.Failed, p)
			}
		}
	}
	sort.Strings(f.Failed)
	return f
}

// cellOK is a cell status that does not fail a run: passed, flaky (passed
// on a rerun) or quarantined (only quarantined tests failed).
func cellOK(status string) bool {
	return status == string(boot.Passed) || status == report.Flaky || status == report.Quarantined
}

// reportedAll is a cell status whose boot reported every test it ran to
// the end of its plan.
func reportedAll(status string) bool { return cellOK(status) || status == string(boot.Failed) }

func passing(status string) bool { return status == string(ktap.Pass) }

// CellID names a record: its matrix cell, or for a record from outside a
// matrix its suite name (version/series/arch).
func CellID(b report.Boot) string { return b.SuiteName() }

// cellsOf indexes a run's records by cell. A cell recorded twice (it
// should not be) keeps its last record.
func cellsOf(r report.Run) map[string]report.Boot {
	m := make(map[string]report.Boot, len(r.Boots))
	for _, b := range r.Boots {
		m[CellID(b)] = b
	}
	return m
}

// testsOf indexes tests and their subtests by path.
func testsOf(ts []report.Test) map[string]report.Test {
	m := map[string]report.Test{}
	for _, t := range report.Flatten(ts) {
		m[t.Name] = t
	}
	return m
}

// unionKeys is every key of a and b, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
