// Package report writes a run's results: results.json (one record per
// boot), junit.xml (one testsuite per boot, for CI dashboards) and a short
// human summary.
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/ktap"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Test is one guest test's result.
type Test struct {
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	Directive  string   `json:"directive,omitempty"`
	Diagnostic []string `json:"diagnostic,omitempty"`
	Subtests   []Test   `json:"subtests,omitempty"`
	// DurationS is the test's time as the guest measured it (its "took"
	// diagnostic); 0 when it gave none.
	DurationS float64 `json:"duration_s,omitempty"`
	// Quarantine is why a failure of this test does not fail the run: the
	// reason of its lab.toml quarantine entry. "" for tests not quarantined.
	Quarantine string `json:"quarantine,omitempty"`
}

// Build describes the kernel build a boot used.
type Build struct {
	Key    string `json:"key"`
	Cached bool   `json:"cached"`
	// Given says the kernel was not built by this run or its cache: an
	// image from elsewhere (ptvmlab boot) or built in place (bisect).
	Given bool    `json:"given,omitempty"`
	TookS float64 `json:"took_s"`
	Image string  `json:"image"`
}

// Digests are sha256 sums of a boot's outputs, for reviewers comparing
// two builds of the same inputs.
type Digests struct {
	Image  string `json:"image"`
	Config string `json:"config"`
}

// Boot is one boot's record.
type Boot struct {
	// Cell names the matrix cell (kernel/series/arch/flags); "" outside
	// a matrix.
	Cell       string   `json:"cell,omitempty"`
	Kernel     string   `json:"kernel"`  // the --kernel spec
	Version    string   `json:"version"` // e.g. 6.12.57
	Digest     string   `json:"source_digest"`
	Series     string   `json:"series"` // the patch series applied, "none" for none
	Arch       string   `json:"arch"`
	Cmdline    []string `json:"cmdline"`
	Status     string   `json:"status"`
	Title      string   `json:"title"`
	DurationS  float64  `json:"duration_s"`
	Probe      string   `json:"probe,omitempty"`
	Tests      []Test   `json:"tests"`
	Build      *Build   `json:"build,omitempty"`
	Digests    *Digests `json:"digests,omitempty"`
	ConsoleLog string   `json:"console_log,omitempty"`
	ResultsRaw string   `json:"results_raw,omitempty"`
	// UMLFlags is the UML boot flag set the cell ran ("-" for none).
	UMLFlags string `json:"uml_flags,omitempty"`
	// InputsKey names everything the boot's result depends on: kernel and
	// UML builds, initramfs, command line, timeout.
	InputsKey string `json:"inputs_key,omitempty"`
	// Reused is true when the record was kept from an earlier run with the
	// same InputsKey instead of booting again.
	Reused bool `json:"reused,omitempty"`
	// Accel is the accelerator the verdict came from ("kvm" or "tcg"), and
	// AccelWhy why it was chosen ("kvm probe: no console output in 20s",
	// "fallback: …").
	Accel    string `json:"accel,omitempty"`
	AccelWhy string `json:"accel_why,omitempty"`
	// Attempts are the boot's earlier attempts that went wrong and were
	// retried under TCG.
	Attempts []vm.Attempt `json:"attempts,omitempty"`
	// Tries are the earlier tries of a cell that did not pass and was run
	// again (lab.toml retries). A cell whose rerun passed is Flaky.
	Tries []Try `json:"tries,omitempty"`
}

// Flaky is the status of a cell that did not pass, was run again, and
// passed: neither passed nor failed. Its Tries keep the try that failed.
const Flaky = "flaky"

// Quarantined is the status of a cell whose report was complete and whose
// only failures are of tests quarantined in the matrix file: reported, and
// not failing the run.
const Quarantined = "quarantined"

// Try is an earlier try at a cell, kept with its own logs when the cell was
// run again.
type Try struct {
	Status    string  `json:"status"`
	Title     string  `json:"title"`
	DurationS float64 `json:"duration_s"`
	// Failed are the paths ("top/sub") of the tests that failed in it.
	Failed     []string `json:"failed,omitempty"`
	ConsoleLog string   `json:"console_log,omitempty"`
	ResultsRaw string   `json:"results_raw,omitempty"`
}

// Fill copies a boot's verdict into b: status, title, time, probe, tests
// and the accelerator with any retried attempt.
func Fill(b *Boot, o boot.Outcome) {
	b.Status, b.Title, b.DurationS, b.Probe = string(o.Status), o.Title, o.Took.Seconds(), string(o.Probe)
	if o.KTAP != nil {
		b.Tests = Tests(o.KTAP.Results)
	}
	if o.Output != nil {
		b.Accel, b.AccelWhy, b.Attempts = o.Output.Accel, o.Output.AccelWhy, o.Output.Attempts
	}
}

// AccelNote says in a few words which accelerator a boot ran under and
// whether it fell back: "tcg", "tcg after kvm failed". "" when unknown.
func (b Boot) AccelNote() string {
	if b.Accel == "" {
		return ""
	}
	for _, a := range b.Attempts {
		return b.Accel + " after " + a.Accel + " failed"
	}
	return b.Accel
}

// Run is a whole run: every boot.
type Run struct {
	Started time.Time `json:"started"`
	TookS   float64   `json:"took_s"`
	Boots   []Boot    `json:"boots"`
}

// Tests converts KTAP results.
func Tests(rs []ktap.Result) []Test {
	var out []Test
	for _, r := range rs {
		out = append(out, Test{Name: r.Name, Status: string(r.Status), Directive: r.Directive,
			Diagnostic: r.Diagnostic, Subtests: Tests(r.Subtests), DurationS: tookS(r.Diagnostic)})
	}
	return out
}

// Failed reports whether t failed: not ok, or an error.
func (t Test) Failed() bool { return t.Status == string(ktap.Fail) || t.Status == string(ktap.Error) }

// tookS reads a test's time from its last "NAME: took 1.5ms" diagnostic,
// which the guest suite writes after each test; 0 when there is none.
func tookS(diags []string) float64 {
	for i := len(diags) - 1; i >= 0; i-- {
		d := diags[i]
		if _, after, ok := strings.Cut(d, ": "); ok && !strings.HasPrefix(d, "took ") {
			d = after
		}
		if v, ok := strings.CutPrefix(d, "took "); ok {
			if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil {
				return d.Seconds()
			}
		}
	}
	return 0
}

// Flatten lists ts and all their subtests, depth first, each named by its
// path from the top ("ptrace_vm/skipexit").
func Flatten(ts []Test) []Test { return flatten("", ts) }

// WriteAll writes results.json and junit.xml into dir.
func WriteAll(dir string, r Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	x, err := JUnit(r)
	if err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(filepath.Join(dir, "junit.xml"), x, 0o644); err != nil {
		return fmt.Errorf("junit.xml: %w", err)
	}
	return nil
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string      `xml:"name,attr"`
	Properties *junitProps `xml:"properties,omitempty"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Cases      []junitCase `xml:"testcase"`
	SystemOut  string      `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitProperties names a boot's accelerator, why, and any fallback.
func junitProperties(b Boot) *junitProps {
	if b.Accel == "" {
		return nil
	}
	p := &junitProps{Props: []junitProp{{"accel", b.Accel}, {"accel_why", b.AccelWhy}}}
	for _, a := range b.Attempts {
		p.Props = append(p.Props, junitProp{"fallback_from", a.Accel + ": " + a.Why})
	}
	return p
}

type junitCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Failure   *junitMsg `xml:"failure,omitempty"`
	Error     *junitMsg `xml:"error,omitempty"`
	Skipped   *junitMsg `xml:"skipped,omitempty"`
	SystemOut string    `xml:"system-out,omitempty"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// SuiteName names a boot in JUnit and in summaries.
func (b Boot) SuiteName() string {
	if b.Cell != "" {
		return b.Cell
	}
	return fmt.Sprintf("%s/%s/%s", b.Version, b.Series, b.Arch)
}

// JUnit renders r as JUnit XML. A boot that did not end as passed or
// failed (panic, timeout, infra) becomes one errored test case named "boot",
// so that no CI dashboard reads a crashed kernel as "no tests, all fine".
// A quarantined test's failure is a skipped case saying why.
func JUnit(r Run) ([]byte, error) {
	var all junitSuites
	for _, b := range r.Boots {
		s := junitSuite{Name: b.SuiteName(), Time: fmt.Sprintf("%.3f", b.DurationS), Properties: junitProperties(b)}
		for _, t := range flatten("", b.Tests) {
			c := junitCase{Name: t.Name, Classname: s.Name, SystemOut: strings.Join(t.Diagnostic, "\n")}
			switch st := ktap.Status(t.Status); {
			case t.Quarantine != "" && (st == ktap.Fail || st == ktap.Error):
				// Reported, and not failing the run: a dashboard should not
				// read the run as red either.
				c.Skipped = &junitMsg{Message: "quarantined: " + t.Quarantine, Body: strings.Join(t.Diagnostic, "\n")}
				s.Skipped++
			case st == ktap.Fail:
				c.Failure = &junitMsg{Message: "not ok " + t.Name, Body: strings.Join(t.Diagnostic, "\n")}
				s.Failures++
			case st == ktap.Error:
				c.Error = &junitMsg{Message: t.Directive}
				s.Errors++
			case st == ktap.Skip:
				c.Skipped = &junitMsg{Message: t.Directive}
				s.Skipped++
			}
			s.Cases = append(s.Cases, c)
		}
		switch b.Status {
		case "panic", "timeout", "infra", "invalid", "interrupted":
			s.Cases = append(s.Cases, junitCase{Name: "boot", Classname: s.Name,
				Error: &junitMsg{Message: b.Status + ": " + b.Title}})
			s.Errors++
		case "failed":
			if s.Failures == 0 {
				s.Cases = append(s.Cases, junitCase{Name: "boot", Classname: s.Name,
					Failure: &junitMsg{Message: b.Title}})
				s.Failures++
			}
		}
		s.Tests = len(s.Cases)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	out, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func flatten(prefix string, ts []Test) []Test {
	var out []Test
	for _, t := range ts {
		t.Name = prefix + t.Name
		out = append(out, t)
		out = append(out, flatten(t.Name+"/", t.Subtests)...)
	}
	return out
}

// Summary writes a short table: one line per boot, then the failed tests
// with their diagnostics.
func Summary(w io.Writer, r Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	matrix := len(r.Boots) > 0 && r.Boots[0].Cell != ""
	if matrix {
		fmt.Fprintln(tw, "CELL\tVERSION\tSTATUS\tPROBE\tTESTS\tTIME\tACCEL\tBUILD\tDETAIL")
	} else {
		fmt.Fprintln(tw, "KERNEL\tSERIES\tARCH\tSTATUS\tPROBE\tTESTS\tTIME\tACCEL\tBUILD\tDETAIL")
	}
	for _, b := range r.Boots {
		pass := 0
		for _, t := range b.Tests {
			if t.Status == string(ktap.Pass) {
				pass++
			}
		}
		build := "-"
		if b.Build != nil {
			switch {
			case b.Build.Given:
				build = "given"
			case b.Build.Cached:
				build = "cached"
			default:
				build = "built"
			}
		}
		probe := b.Probe
		if probe == "" {
			probe = "-"
		}
		if b.Reused {
			build = "reused"
		}
		accel := dash(b.AccelNote())
		if matrix {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%.1fs\t%s\t%s\t%s\n", b.SuiteName(), dash(b.Version), b.Status, probe,
				pass, len(b.Tests), b.DurationS, accel, build, b.Title)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%.1fs\t%s\t%s\t%s\n", b.Version, b.Series, b.Arch, b.Status, probe,
			pass, len(b.Tests), b.DurationS, accel, build, b.Title)
	}
	tw.Flush()
	for _, b := range r.Boots {
		for _, a := range b.Attempts {
			fmt.Fprintf(w, "%s: the %s attempt was retried under %s: %s (console %s)\n", b.SuiteName(), a.Accel, b.Accel, a.Why, dash(a.ConsoleLog))
		}
	}
	for _, b := range r.Boots {
		for i, t := range b.Tries {
			fmt.Fprintf(w, "%s: try %d was %s: %s (console %s)\n", b.SuiteName(), i+1, t.Status, t.Title, dash(t.ConsoleLog))
		}
	}
	for _, b := range r.Boots {
		for _, t := range flatten("", b.Tests) {
			if t.Status == string(ktap.Fail) {
				if t.Quarantine != "" {
					fmt.Fprintf(w, "\n%s: not ok %s (quarantined: %s)\n", b.SuiteName(), t.Name, t.Quarantine)
					continue
				}
				fmt.Fprintf(w, "\n%s: not ok %s\n", b.SuiteName(), t.Name)
				for _, d := range t.Diagnostic {
					fmt.Fprintf(w, "    %s\n", d)
				}
			}
		}
		if b.ConsoleLog != "" && b.Status != "passed" {
			fmt.Fprintf(w, "%s: console log %s\n", b.SuiteName(), b.ConsoleLog)
		}
	}
}

// Counts tallies boots by status.
func Counts(r Run) map[string]int {
	m := map[string]int{}
	for _, b := range r.Boots {
		m[b.Status]++
	}
	return m
}

// StatusLine is a one-line tally, statuses in a fixed order.
func StatusLine(r Run) string {
	m := Counts(r)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return fmt.Sprintf("%d boots: %s", len(r.Boots), strings.Join(parts, ", "))
}
