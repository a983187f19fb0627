package report

import (
	"bytes"
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
