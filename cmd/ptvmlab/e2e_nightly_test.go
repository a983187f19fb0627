//go:build e2e

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/kcidb"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// nightlyMatrix is one cell: 6.12 patched on the i386 guest, with its UML.
const nightlyMatrix = `
arches = ["i386"]
uml_flags = ["default"]
timeout = "5m"

[[kernel]]
name = "6.12"
source = "debian:6.12"
series = ["auto"]
`

const nightlyCell = "6.12/auto/i386/default"

// TestE2ENightlyMemory: on a real 6.12 guest, a test planted to fail on a
// cell's first try only makes the cell flaky (its own status, exit 0, both
// tries' logs kept); a SKIPEXIT failure planted on every try is a
// regression that matrix compare lists alone and exits 1 on; compare with
// --history counts the flake over three runs and draws the history strip
// and the drill-down.
func TestE2ENightlyMemory(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 16*time.Minute, []string{"--arch", "i386,um-i386"})
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.toml")
	os.WriteFile(file, []byte(nightlyMatrix), 0o644)

	base := filepath.Join(dir, "base")
	if code, _, _ := ptvmlab(t, "matrix", "--file", file, "--out", base, "--format", "kcidb"); code != 0 {
		t.Fatalf("clean run: exit %d", code)
	}
	b, err := os.ReadFile(filepath.Join(base, "kcidb.json"))
	var export kcidb.Data
	if err == nil {
		err = json.Unmarshal(b, &export)
	}
	if err == nil {
		err = kcidb.Check(export)
	}
	if err != nil || len(export.Checkouts) != 1 || len(export.Builds) != 1 || len(export.Tests) < 20 {
		t.Errorf("kcidb.json: %v; %d checkouts, %d builds, %d tests (want 1, 1, the boot and its KTAP tests)", err, len(export.Checkouts), len(export.Builds), len(export.Tests))
	}

	flaky := filepath.Join(dir, "flaky")
	if code, _, _ := ptvmlab(t, "matrix", "--file", file, "--out", flaky, "--fault-first-try", "fail:baseline"); code != 0 {
		t.Fatalf("flaky run: exit %d, want 0 (a flake does not fail the run)", code)
	}
	fr := readRun(t, flaky)
	if len(fr.Boots) != 1 {
		t.Fatalf("%d cells", len(fr.Boots))
	}
	fb := fr.Boots[0]
	if fb.Status != report.Flaky || len(fb.Tries) != 1 || !slices.Equal(fb.Tries[0].Failed, []string{"baseline"}) || fb.Reused {
		t.Fatalf("flaky cell: %s (%s), tries %+v, reused %v; want flaky after one try that failed baseline", fb.Status, fb.Title, fb.Tries, fb.Reused)
	}
	for _, p := range []string{fb.ConsoleLog, fb.Tries[0].ConsoleLog, fb.Tries[0].ResultsRaw} {
		if _, err := os.Stat(p); err != nil || !strings.HasPrefix(p, flaky) {
			t.Errorf("log %q: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(fb.Tries[0].ResultsRaw); !strings.Contains(string(b), "planted fault") {
		t.Errorf("the first try's KTAP does not say the failure was planted")
	}

	regressed := filepath.Join(dir, "regressed")
	if code, _, _ := ptvmlab(t, "matrix", "--file", file, "--out", regressed, "--fault", "fail:skipexit"); code != 1 {
		t.Fatalf("regressed run: exit %d, want 1", code)
	}
	if rb := readRun(t, regressed).Boots[0]; rb.Status != "failed" || len(rb.Tries) != 1 {
		t.Errorf("regressed cell: %s, %d tries; want failed after a rerun", rb.Status, len(rb.Tries))
	}

	code, out, _ := ptvmlab(t, "matrix", "compare", "--format", "json", base, regressed)
	if code != 1 {
		t.Errorf("compare base regressed: exit %d, want 1", code)
	}
	var cmp struct {
		Regressions []struct {
			Cell string `json:"cell"`
			Test string `json:"test"`
		} `json:"regressions"`
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("compare --format json: %v\n%s", err, out)
	}
	var got []string
	for _, r := range cmp.Regressions {
		got = append(got, r.Cell+" "+r.Test)
	}
	if want := []string{nightlyCell + " skipexit"}; !slices.Equal(got, want) {
		t.Errorf("regressions %q, want exactly %q\n%s", got, want, out)
	}

	page := filepath.Join(dir, "compared")
	code, out, _ = ptvmlab(t, "matrix", "compare", "--history", base, "--out", page, regressed, flaky)
	if code != 0 {
		t.Errorf("compare regressed flaky: exit %d, want 0 (a fix and a flake, no regression)\n%s", code, out)
	}
	md, _ := os.ReadFile(filepath.Join(page, "compare.md"))
	if !strings.Contains(string(md), "baseline") || !strings.Contains(strings.ToLower(string(md)), "flak") {
		t.Errorf("compare.md does not count the baseline flake:\n%s", md)
	}
	html, _ := os.ReadFile(filepath.Join(page, "index.html"))
	for _, want := range []string{`<div class="history" data-runs="3">`, `data-drill="` + nightlyCell + `"`, `<tr data-test="skipexit">`, `data-try="1"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q (history strip over 3 runs, drill-down, the flaky try)", want)
		}
	}
}
