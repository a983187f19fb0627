//go:build e2e

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// testMatrix is 6.12 patched and unpatched on both guests with one UML flag
// set, plus a kernel whose source names an unset variable (its cells are
// skipped and say why).
const testMatrix = `
arches = ["x86_64", "i386"]
uml_flags = ["default"]
timeout = "5m"

[[kernel]]
name = "6.12"
source = "debian:6.12"
series = ["auto", "none"]

[[kernel]]
name = "2.6.29"
source = "${PTVMLAB_TEST_NEVER_SET}"
series = ["auto"]
`

// cellView is what must agree between two runs of the same cell.
type cellView struct{ Cell, Status, Probe, Version, Tests string }

func view(t *testing.T, r report.Run) []cellView {
	t.Helper()
	var out []cellView
	for _, b := range r.Boots {
		var tests []string
		for _, x := range b.Tests {
			tests = append(tests, x.Name+"="+x.Status)
		}
		out = append(out, cellView{b.Cell, b.Status, b.Probe, b.Version, strings.Join(tests, ",")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cell < out[j].Cell })
	return out
}

// TestE2EMatrix: a matrix run gives every cell a status and all four
// reports; a second run reuses every booted cell; plan, run per shard and
// merge give the same report as the single run; the HTML page renders in
// headless Chromium with every cell.
func TestE2EMatrix(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 40*time.Minute, every612("auto"), every612("none")) // 18 min in, cold, it had built 2 of its 8
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.toml")
	os.WriteFile(file, []byte(testMatrix), 0o644)

	single := filepath.Join(dir, "single")
	code, _, _ := ptvmlab(t, "matrix", "--file", file, "--out", single)
	r := readRun(t, single)
	if code != 0 || len(r.Boots) != 6 {
		t.Fatalf("exit %d, %d cells (want 0, 6)", code, len(r.Boots))
	}
	for _, b := range r.Boots {
		switch {
		case strings.HasPrefix(b.Cell, "2.6.29/"):
			if b.Status != "skipped" || !strings.Contains(b.Title, "PTVMLAB_TEST_NEVER_SET") {
				t.Errorf("%s: %s %q, want skipped naming the variable", b.Cell, b.Status, b.Title)
			}
		case b.Status != "passed":
			t.Errorf("%s: %s (%s)", b.Cell, b.Status, b.Title)
		case b.ConsoleLog == "" || !strings.HasPrefix(b.ConsoleLog, single):
			t.Errorf("%s: console log %q not under the output", b.Cell, b.ConsoleLog)
		}
	}
	for _, f := range []string{"results.json", "junit.xml", "summary.md", "index.html", "cells/6.12/auto/x86_64/default/console.log", "cells/6.12/none/i386/default/results.raw"} {
		if _, err := os.Stat(filepath.Join(single, f)); err != nil {
			t.Errorf("report missing: %v", err)
		}
	}

	sameKselftests(t, r, "6.12")

	again := filepath.Join(dir, "again")
	if code, _, _ := ptvmlab(t, "matrix", "--file", file, "--out", again); code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
	for _, b := range readRun(t, again).Boots {
		if b.Status != "skipped" && !b.Reused {
			t.Errorf("second run booted %s again although nothing changed", b.Cell)
		}
	}

	code, plan, _ := ptvmlab(t, "matrix", "plan", "--file", file, "--shards", "2", "--format", "github")
	var jobs struct {
		Include []struct{ Shard string } `json:"include"`
	}
	if err := json.Unmarshal([]byte(plan), &jobs); code != 0 || err != nil || len(jobs.Include) != 2 {
		t.Fatalf("plan: exit %d, %v, %q", code, err, plan)
	}
	var shardDirs []string
	for _, j := range jobs.Include {
		d := filepath.Join(dir, "shard-"+strings.ReplaceAll(j.Shard, "/", "-"))
		if code, _, _ := ptvmlab(t, "matrix", "run", "--file", file, "--shard", j.Shard, "--out", d); code != 0 {
			t.Fatalf("shard %s: exit %d", j.Shard, code)
		}
		shardDirs = append(shardDirs, d)
	}
	merged := filepath.Join(dir, "merged")
	if code, _, _ := ptvmlab(t, append([]string{"matrix", "merge", "--out", merged}, shardDirs...)...); code != 0 {
		t.Fatalf("merge: exit %d", code)
	}
	a, b := view(t, r), view(t, readRun(t, merged))
	if len(a) != len(b) {
		t.Fatalf("merged %d cells, single run %d", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("merged differs from the single run:\n single %+v\n merged %+v", a[i], b[i])
		}
	}
	if _, err := os.Stat(filepath.Join(merged, "cells/6.12/auto/x86_64/default/console.log")); err != nil {
		t.Errorf("merge did not bring the cells' logs: %v", err)
	}

	checkPage(t, single, r)
}

// sameKselftests: the tree's own selftests give the same statuses patched
// and unpatched, on both guests; only the series' own (syscall_skip_*)
// differ: they pass patched and skip unpatched, saying why.
func sameKselftests(t *testing.T, r report.Run, era string) {
	t.Helper()
	for _, arch := range []string{"x86_64", "i386"} {
		patched, unpatched := kselftests(r, era+"/auto/"+arch+"/default"), kselftests(r, era+"/none/"+arch+"/default")
		if len(patched) == 0 || len(unpatched) == 0 {
			t.Errorf("%s %s: no kselftest results to compare (patched %d, unpatched %d)", era, arch, len(patched), len(unpatched))
			continue
		}
		own := 0
		for name, st := range patched {
			if strings.HasPrefix(name, "syscall_skip_") {
				if !strings.Contains(name, "/") {
					own++
					if st != "pass" || !strings.HasPrefix(unpatched[name], "skip") {
						t.Errorf("%s %s: the series' selftest %s: patched %q, unpatched %q (want pass, skip)", era, arch, name, st, unpatched[name])
					}
				}
				continue
			}
			if unpatched[name] != st {
				t.Errorf("%s %s: the tree's selftest %s: patched %q, unpatched %q", era, arch, name, st, unpatched[name])
			}
		}
		for name := range unpatched {
			if _, ok := patched[name]; !ok && !strings.HasPrefix(name, "syscall_skip_") {
				t.Errorf("%s %s: selftest %s ran unpatched only", era, arch, name)
			}
		}
		if own == 0 {
			t.Errorf("%s %s: the series' own selftest did not run patched", era, arch)
		}
		for _, cell := range []string{era + "/auto/" + arch + "/default", era + "/none/" + arch + "/default"} {
			noStrayChild(t, r, cell)
		}
	}
}

// noStrayChild: vmaccess's test forks a child that must block in its exec
// of true. Had the exec failed, the child would run on into the test body
// and fail its open of /proc/0/mem (vmaccess.c:40), in the log of
// whichever test ran then, and the test would race its own child.
func noStrayChild(t *testing.T, r report.Run, cellID string) {
	t.Helper()
	var walk func(ts []report.Test)
	walk = func(ts []report.Test) {
		for _, x := range ts {
			for _, d := range x.Diagnostic {
				if strings.Contains(d, "vmaccess.c:40:") {
					t.Errorf("%s: %s: %q: vmaccess's child ran on past its exec of true", cellID, x.Name, d)
				}
			}
			walk(x.Subtests)
		}
	}
	for _, b := range r.Boots {
		if b.Cell == cellID {
			walk(b.Tests)
		}
	}
}

// kselftests maps each kselftest result of a cell, by path under the
// kselftest test (e.g. "ptrace_syscall_64", "seccomp_bpf_64/global.kcmp"),
// to its status.
func kselftests(r report.Run, cellID string) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, ts []report.Test)
	walk = func(prefix string, ts []report.Test) {
		for _, x := range ts {
			out[prefix+x.Name] = x.Status
			walk(prefix+x.Name+"/", x.Subtests)
		}
	}
	for _, b := range r.Boots {
		for _, x := range b.Tests {
			if b.Cell == cellID && x.Name == "kselftest" {
				walk("", x.Subtests)
			}
		}
	}
	return out
}

// checkPage opens index.html in headless Chromium: the page must render
// (its script counts the cells it laid out) and show every cell.
func checkPage(t *testing.T, dir string, r report.Run) {
	t.Helper()
	bin := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatalf("no chromium to check index.html with: apt-get install chromium (make setup installs it)")
	}
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
		"--dump-dom", "file://"+filepath.Join(dir, "index.html")).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	want := `data-rendered="` + itoa(len(r.Boots)) + `"`
	if !strings.Contains(dom, want) {
		t.Errorf("the page did not render every cell (want %s):\n%s", want, tail(dom, 1500))
	}
	for _, b := range r.Boots {
		if !strings.Contains(dom, `data-cell="`+b.Cell+`"`) {
			t.Errorf("cell %s missing from the rendered page", b.Cell)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
