package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// maxDiagLines bounds the diagnostic lines shown per test in text, and
// maxDiagChars the diagnostic text per Markdown table cell: a crashed
// test can log pages.
const (
	maxDiagLines = 6
	maxDiagChars = 300
)

// Headline is the result in one line: what regressed, or that nothing did,
// and how many of the other changes there are.
func (r Result) Headline() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(len(r.CellFixes)+len(r.TestFixes), "fix", "fixes")
	add(len(r.Flaky), "flaky cell", "flaky cells")
	add(len(r.Quarantined), "quarantined failure", "quarantined failures")
	add(len(r.NewCells)+len(r.NewTests), "new cell or test", "new cells and tests")
	add(len(r.VanishedCells)+len(r.VanishedTests), "vanished cell or test", "vanished cells and tests")
	add(len(r.Deselected), "test no longer selected", "tests no longer selected")
	add(len(r.BootTimes)+len(r.TestTimes), "time change", "time changes")
	if r.Bench != nil {
		add(len(r.Bench.Moved), "bench move", "bench moves")
	}
	head := "no regressions"
	if r.Regressed() {
		head = fmt.Sprintf("REGRESSED: %d %s, %d %s", len(r.CellRegressions), plural(len(r.CellRegressions), "cell", "cells"),
			len(r.TestRegressions), plural(len(r.TestRegressions), "test", "tests"))
	}
	if len(parts) == 0 {
		return head
	}
	return head + "; " + strings.Join(parts, ", ")
}

// section is one titled list of a report, in the order reports show them.
type section struct {
	title string
	lines []line
}

// line is one entry: where (a cell, a test in a cell), what happened, and
// any diagnostic lines.
type line struct {
	cell, test, what string
	diag             []string
}

// sections lays r out, regressions first. Empty sections are left out.
func (r Result) sections() []section {
	var ss []section
	add := func(title string, ls []line) {
		if len(ls) > 0 {
			ss = append(ss, section{title, ls})
		}
	}
	add("Regressions (passed in BASE, not in NEW)", append(cellLines(r.CellRegressions), testLines(r.TestRegressions)...))
	add("Fixes (failed in BASE, passed in NEW)", append(cellLines(r.CellFixes), testLines(r.TestFixes)...))
	var flaky []line
	for _, f := range r.Flaky {
		what := fmt.Sprintf("flaky (BASE %s): %d earlier %s failed", statusWord(f.Base), f.Tries, plural(f.Tries, "try", "tries"))
		if len(f.Failed) > 0 {
			what += ": " + strings.Join(f.Failed, ", ")
		}
		flaky = append(flaky, line{cell: f.Cell, what: what})
	}
	add("Flaky in NEW (not regressions)", flaky)
	var q []line
	for _, t := range r.Quarantined {
		q = append(q, line{cell: t.Cell, test: t.Test, what: fmt.Sprintf("%s → %s, quarantined: %s", statusWord(t.Base), statusWord(t.New), t.Quarantine), diag: t.Diagnostic})
	}
	add("Quarantined failures in NEW (not regressions)", q)
	add("New in NEW", append(cellLines(r.NewCells), testLines(r.NewTests)...))
	add("Vanished from NEW", append(cellLines(r.VanishedCells), testLines(r.VanishedTests)...))
	var desel []line
	for _, t := range r.Deselected {
		desel = append(desel, line{cell: t.Cell, test: t.Test, what: statusWord(t.Base) + " → not selected by NEW's ptvmlab.tests="})
	}
	add("Not selected in NEW (a change of plan, not regressions)", desel)
	add("Other status changes", append(cellLines(r.ChangedCells), testLines(r.ChangedTests)...))
	var times []line
	for _, t := range append(append([]TimeChange(nil), r.BootTimes...), r.TestTimes...) {
		what := fmt.Sprintf("%.1fs → %.1fs (%s)", t.BaseS, t.NewS, change(t.BaseS, t.NewS))
		if t.Test == "" {
			what = "boot " + what
		}
		times = append(times, line{cell: t.Cell, test: t.Test, what: what})
	}
	add(fmt.Sprintf("Times beyond %s (boots) and %s (tests)", r.Opts.BootTime, r.Opts.TestTime), times)
	if r.Bench != nil {
		var bench []line
		for _, m := range r.Bench.Moved {
			what := fmt.Sprintf("%.0f → %.0f ns/call (%s)", m.BaseNs, m.NewNs, change(m.BaseNs, m.NewNs))
			if m.Rule == RuleSpread {
				what += fmt.Sprintf(", runs %.0f-%.0f → %.0f-%.0f", m.BaseMin, m.BaseMax, m.NewMin, m.NewMax)
			} else {
				what += fmt.Sprintf(", no spread: moved by %s", r.Opts.Bench)
			}
			bench = append(bench, line{cell: m.What, what: what})
		}
		if n := r.Bench.WithoutSpread; n > 0 {
			bench = append(bench, line{what: fmt.Sprintf("note: %d of %d rows had no spread (a bench.json from before the guest reported one); they were compared by %s instead", n, r.Bench.Compared, r.Opts.Bench)})
		}
		add("Bench medians moved beyond their spread", bench)
	}
	var flakes []line
	for _, f := range r.Flakes {
		flakes = append(flakes, line{cell: f.Cell, test: f.Test, what: fmt.Sprintf("flaky in %d of %d runs", f.Flaky, f.Runs)})
	}
	add(fmt.Sprintf("Flaky tests over %d runs", len(r.Runs)), flakes)
	if len(r.Runs) > 2 {
		var hist []line
		for _, id := range sortedKeys(r.History) {
			marks, steady := r.History[id], true
			words := make([]string, len(marks))
			for i, m := range marks {
				words[i] = statusWord(m.Status)
				steady = steady && m.Status == "passed"
			}
			if !steady {
				hist = append(hist, line{cell: id, what: strings.Join(words, " ")})
			}
		}
		add(fmt.Sprintf("History over %d runs, oldest first (cells that did not pass in every run): %s", len(r.Runs), strings.Join(r.Runs, ", ")), hist)
	}
	return ss
}

func cellLines(cs []CellChange) []line {
	var ls []line
	for _, c := range cs {
		what := statusWord(c.Base) + " → " + statusWord(c.New)
		if c.Title != "" {
			what += ": " + c.Title
		}
		if c.Unreached > 0 {
			what += fmt.Sprintf(" (%d passed %s not reached)", c.Unreached, plural(c.Unreached, "test", "tests"))
		}
		ls = append(ls, line{cell: c.Cell, what: what})
	}
	return ls
}

func testLines(ts []TestChange) []line {
	var ls []line
	for _, t := range ts {
		ls = append(ls, line{cell: t.Cell, test: t.Test, what: statusWord(t.Base) + " → " + statusWord(t.New), diag: t.Diagnostic})
	}
	return ls
}

// Text writes r for a terminal: the headline, then each section,
// regressions first.
func (r Result) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ptvmlab matrix compare: BASE %s → NEW %s\n%s\n", r.Base, r.New, r.Headline())
	for _, s := range r.sections() {
		fmt.Fprintf(&b, "\n%s:\n", s.title)
		for _, l := range s.lines {
			switch {
			case l.cell == "":
				fmt.Fprintf(&b, "  %s\n", l.what)
			case l.test == "":
				fmt.Fprintf(&b, "  %s: %s\n", l.cell, l.what)
			default:
				fmt.Fprintf(&b, "  %s %s: %s\n", l.cell, l.test, l.what)
			}
			diag := strings.Split(strings.Join(l.diag, "\n"), "\n")
			if len(l.diag) == 0 {
				diag = nil
			}
			for i, d := range diag {
				if i == maxDiagLines {
					fmt.Fprintf(&b, "      … %d more lines\n", len(diag)-i)
					break
				}
				fmt.Fprintf(&b, "      %s\n", d)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown writes r for $GITHUB_STEP_SUMMARY: a headline, then one table
// per section, regressions first. Text from the guest (diagnostics,
// titles, quarantine reasons) has its '|' escaped and its newlines joined,
// so that it cannot break a table.
func (r Result) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## ptvmlab compare: `%s` → `%s`\n\n", mdEscape(r.Base), mdEscape(r.New))
	if r.Regressed() {
		fmt.Fprintf(&b, "**%s**\n", mdEscape(r.Headline()))
	} else {
		fmt.Fprintf(&b, "%s\n", mdEscape(r.Headline()))
	}
	for _, s := range r.sections() {
		fmt.Fprintf(&b, "\n### %s\n\n| where | what | detail |\n| --- | --- | --- |\n", mdEscape(s.title))
		for _, l := range s.lines {
			where := "-"
			if l.cell != "" {
				where = "`" + mdEscape(l.cell) + "`"
			}
			if l.test != "" {
				where += " `" + mdEscape(l.test) + "`"
			}
			detail := strings.Join(l.diag, "; ")
			if rs := []rune(detail); len(rs) > maxDiagChars {
				detail = string(rs[:maxDiagChars]) + "…"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", where, mdEscape(l.what), mdEscape(detail))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON writes r as one indented JSON object (the shape is in the package
// documentation).
func (r Result) JSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("compare result as JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// MarshalJSON writes r with "regressed" and every list present, empty
// lists as [] rather than null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	p := plain(r)
	for _, l := range []*[]CellChange{&p.CellRegressions, &p.CellFixes, &p.NewCells, &p.VanishedCells, &p.ChangedCells} {
		*l = nonNil(*l)
	}
	for _, l := range []*[]TestChange{&p.TestRegressions, &p.TestFixes, &p.Quarantined, &p.NewTests, &p.VanishedTests, &p.Deselected, &p.ChangedTests} {
		*l = nonNil(*l)
	}
	p.Flaky, p.BootTimes, p.TestTimes = nonNil(p.Flaky), nonNil(p.BootTimes), nonNil(p.TestTimes)
	p.Runs, p.Flakes = nonNil(p.Runs), nonNil(p.Flakes)
	if p.History == nil {
		p.History = map[string][]report.Mark{}
	}
	return json.Marshal(struct {
		Regressed bool `json:"regressed"`
		plain
	}{r.Regressed(), p})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// mdEscape makes s safe in a Markdown table cell: '|' escaped, newlines
// joined, backticks made quotes (they would open a code span).
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ", "`", "'").Replace(s)
}

func statusWord(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// change is the relative change from a to b, "+50%" or "-20%".
func change(a, b float64) string {
	if a <= 0 {
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", (b-a)/a*100)
}

func sortedKeys[V any](m map[string]V) []string { return unionKeys(m, map[string]V(nil)) }
