package report

import (
	"bytes"
	"github.com/ptvmlab/ptvmlab/lab/benchreport"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/vm"
)

func matrixRun(dir string) Run {
	return Run{Boots: []Boot{
		{Cell: "6.12/auto/x86_64/default", Version: "6.12.117", Series: "6.12", Arch: "x86_64", Status: "passed", Probe: "skipcall",
			Tests: []Test{{Name: "probe", Status: "pass"}}, ConsoleLog: filepath.Join(dir, "cells/6.12/auto/x86_64/default/console.log"),
			Accel: "tcg", AccelWhy: "fallback", Attempts: []vm.Attempt{{Accel: "kvm", Why: "silent for 30s after: x"}}},
		{Cell: "6.12/auto/i386/-", Version: "6.12.117", Series: "6.12", Arch: "i386", Status: "failed", Probe: "skipcall", Reused: true,
			Accel: "kvm", AccelWhy: "kvm probe: booted to its end in 0.8s",
			Tests: []Test{{Name: "skipexit", Status: "fail", Diagnostic: []string{"exit stop | came"}}}},
		{Cell: "2.6.29/auto/x86_64/default", Series: "auto", Arch: "x86_64", Status: "skipped",
			Title: "kernel 2.6.29: environment variable not set: PTVMLAB_LINUX_2_6_29"},
	}}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Markdown(&b, matrixRun("/out"))
	md := b.String()
	for _, want := range []string{"3 boots: 1 failed, 1 passed, 1 skipped", "| `6.12/auto/i386/-` | 6.12.117 | **failed** |",
		"reused (inputs unchanged)", "not ok `skipexit`: exit stop \\| came", "PTVMLAB_LINUX_2_6_29",
		"| 1/1 | 0.0s | tcg after kvm failed | booted |", "| kvm | reused", "`6.12/auto/x86_64/default` fell back from kvm to tcg: silent for 30s after: x"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestHTML(t *testing.T) {
	t.Parallel()
	page, err := HTML(matrixRun("/out"), "/out")
	if err != nil {
		t.Fatal(err)
	}
	h := string(page)
	for _, want := range []string{`data-cells="3"`, `data-cell="6.12/auto/x86_64/default"`, `data-cell="2.6.29/auto/x86_64/default"`,
		`href="cells/6.12/auto/x86_64/default/console.log"`, "<th>6.12 / auto</th>", "<th>i386 / -</th>", `class="none"`,
		`data-accel="tcg after kvm failed"`, `title="kvm probe: booted to its end in 0.8s">accel kvm`} {
		if !strings.Contains(h, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLWith: the page drills down to every test of every cell with its
// status and time (quarantine and earlier tries said), draws each cell's
// history strip over the runs given, and the bench chart.
func TestHTMLWith(t *testing.T) {
	t.Parallel()
	r := matrixRun("/out")
	r.Boots[0].Tests = []Test{{Name: "skipexit", Status: "pass", DurationS: 0.25},
		{Name: "kselftests", Status: "fail", Subtests: []Test{{Name: "syscall_skip", Status: "fail", Quarantine: "bug 7"}}}}
	r.Boots[0].Status = Flaky
	r.Boots[0].Tries = []Try{{Status: "failed", Title: "failed: skipexit", ConsoleLog: "/out/cells/6.12/auto/x86_64/default/try-1/console.log"}}
	x := Extras{
		History: map[string][]Mark{r.Boots[0].Cell: {{Run: "night-1", Status: "passed"}, {Run: "night-2"}, {Run: "night-3", Status: "flaky"}}},
		Bench:   &benchreport.Report{Kernel: "7.3", Series: "7.3", Guest: "x86_64", Status: "passed", Rows: []benchreport.Row{{What: "SKIPCALL", NsPerCall: 92000, StopsPerCall: 1, Series: true}}},
	}
	page, err := HTMLWith(r, "/out", x)
	if err != nil {
		t.Fatal(err)
	}
	h := string(page)
	for _, want := range []string{
		`href="#cell-6.12-auto-x86_64-default"`, `<details id="cell-6.12-auto-x86_64-default" data-drill="6.12/auto/x86_64/default" open>`,
		`<tr data-test="skipexit"><td class="depth0">skipexit</td><td class="pass">pass</td><td>0.250s</td>`,
		`<tr data-test="kselftests/syscall_skip"><td class="depth1">`, `fail (quarantined: bug 7)`,
		`data-try="1">try 1: failed — failed: skipexit`, `href="cells/6.12/auto/x86_64/default/try-1/console.log"`,
		`<div class="history" data-runs="3"><span class="passed" title="night-1: passed"></span><span class="missing" title="night-2: not in this run"></span><span class="flaky"`,
		"oldest first: night-1, night-2, night-3", `<h2 id="bench">Bench: 7.3`, "<svg",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	plain, err := HTML(r, "/out")
	if err != nil {
		t.Fatal(err)
	}
	if p := string(plain); strings.Contains(p, `class="history"`) || strings.Contains(p, `id="bench"`) {
		t.Errorf("a page without extras draws history or bench")
	}
}
