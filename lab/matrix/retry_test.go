package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

const oneKernel = "[[kernel]]\nname=\"6.12\"\nsource=\"debian:6.12\"\nseries=[\"auto\"]\n"

// TestCheckRetriesAndQuarantine: retries has a range, and a quarantine
// entry needs a test, a reason and an expiry that has not passed (the
// day itself still holds).
func TestCheckRetriesAndQuarantine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body, err string
		retries         int
	}{
		{"defaults", oneKernel, "", DefaultRetries},
		{"no reruns", "retries = 0\n" + oneKernel, "", 0},
		{"negative", "retries = -1\n" + oneKernel, "retries = -1: choose 0", 0},
		{"too many", "retries = 9\n" + oneKernel, "retries = 9: choose 0", 0},
		{"good entry", oneKernel + "[[quarantine]]\ntest = \"skipexit\"\ncells = \"6.12/*/i386/*\"\nreason = \"bug 1\"\nexpires = 2026-12-31\n", "", 1},
		{"expires today", oneKernel + "[[quarantine]]\ntest = \"skipexit\"\nreason = \"bug 1\"\nexpires = 2026-12-01\n", "", 1},
		{"expired", oneKernel + "[[quarantine]]\ntest = \"skipexit\"\nreason = \"bug 1\"\nexpires = 2026-11-30\n", `quarantine #1 (test "skipexit"): expired on 2026-11-30; fix the test, or renew`, 0},
		{"no expiry", oneKernel + "[[quarantine]]\ntest = \"skipexit\"\nreason = \"bug 1\"\n", "expires is missing", 0},
		{"no reason", oneKernel + "[[quarantine]]\ntest = \"skipexit\"\nexpires = 2027-01-01\n", "reason is empty", 0},
		{"no test", oneKernel + "[[quarantine]]\nreason = \"x\"\nexpires = 2027-01-01\n", "test is empty", 0},
		{"bad pattern", oneKernel + "[[quarantine]]\ntest = \"a\"\ncells = \"[\"\nreason = \"x\"\nexpires = 2027-01-01\n", `cells "[" is not a pattern`, 0},
		{"unknown key", oneKernel + "[[quarantine]]\ntest = \"a\"\nwhy = \"x\"\n", `unknown key "quarantine.why"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			var f File
			md, err := toml.DecodeFile(p, &f)
			if err == nil && len(md.Undecoded()) > 0 {
				_, err = Load(p) // the unknown-key error is Load's
			} else if err == nil {
				err = f.check(p, now)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %v, want one naming %s and saying %q", err, p, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.RetryCount(); got != tc.retries {
				t.Errorf("retries %d, want %d", got, tc.retries)
			}
		})
	}
}

func failed(name string, subs ...report.Test) report.Test {
	return report.Test{Name: name, Status: "fail", Subtests: subs}
}

func passed(name string) report.Test { return report.Test{Name: name, Status: "pass"} }

// TestQuarantine: quarantined failures are marked with the reason; a cell
// whose only failures are quarantined (itself or all its failing
// subtests) becomes report.Quarantined; one more failure, another cell's
// pattern, or a broken report keeps it failed.
func TestQuarantine(t *testing.T) {
	t.Parallel()
	f := File{Quarantine: []Quarantine{
		{Test: "skipexit", Cells: "6.12/*/i386/*", Reason: "bug 1"},
		{Test: "kselftests/syscall_skip", Reason: "bug 2"},
	}}
	for _, tc := range []struct {
		name, cell, title string
		tests             []report.Test
		status            string
		marked            []string
	}{
		{"only quarantined", "6.12/auto/i386/default", "failed: skipexit",
			[]report.Test{passed("probe"), failed("skipexit")}, report.Quarantined, []string{"skipexit"}},
		{"subtest quarantined", "6.1/auto/x86_64/default", "failed: kselftests",
			[]report.Test{failed("kselftests", failed("syscall_skip"), passed("other"))}, report.Quarantined, []string{"kselftests/syscall_skip"}},
		{"another failure too", "6.12/auto/i386/default", "failed: skipexit, skipcall",
			[]report.Test{failed("skipexit"), failed("skipcall")}, string(boot.Failed), []string{"skipexit"}},
		{"pattern does not match the cell", "6.12/auto/x86_64/default", "failed: skipexit",
			[]report.Test{failed("skipexit")}, string(boot.Failed), nil},
		{"a failed parent with no failing subtest", "6.1/auto/x86_64/default", "failed: kselftests",
			[]report.Test{failed("kselftests", passed("syscall_skip"))}, string(boot.Failed), nil},
		{"broken report", "6.12/auto/i386/default", "results are not a complete KTAP report (1 results, plan 3)",
			[]report.Test{failed("skipexit")}, string(boot.Failed), []string{"skipexit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := report.Boot{Cell: tc.cell, Status: string(boot.Failed), Title: tc.title, Tests: tc.tests}
			quarantine(f, &rec)
			if rec.Status != tc.status {
				t.Errorf("status %s (%s), want %s", rec.Status, rec.Title, tc.status)
			}
			var marked []string
			for _, tt := range report.Flatten(rec.Tests) {
				if tt.Quarantine != "" {
					marked = append(marked, tt.Name)
				}
			}
			if !slices.Equal(marked, tc.marked) {
				t.Errorf("marked %v, want %v", marked, tc.marked)
			}
		})
	}
}

// TestKeepTry: a try's logs move under try-N/ (a log it names that is not
// there is dropped, not an error) and the tests that failed themselves are
// listed by path, not their parents.
func TestKeepTry(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	rec := report.Boot{Status: "failed", Title: "failed: a", DurationS: 3,
		Tests:      []report.Test{failed("a", failed("x")), passed("b")},
		ConsoleLog: filepath.Join(out, "console.log"), ResultsRaw: filepath.Join(out, "results.raw"),
		Attempts: []vm.Attempt{{Accel: "kvm", ConsoleLog: filepath.Join(out, "console.kvm.log")}}}
	for _, p := range []string{rec.ConsoleLog, rec.ResultsRaw} {
		if err := os.WriteFile(p, []byte("first try"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	try, err := keepTry(rec, out, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(try.Failed, []string{"a/x"}) || try.Status != "failed" || try.DurationS != 3 {
		t.Errorf("try %+v", try)
	}
	for _, p := range []string{try.ConsoleLog, try.ResultsRaw} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "first try" || filepath.Base(filepath.Dir(p)) != "try-1" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if _, err := os.Stat(rec.ConsoleLog); !os.IsNotExist(err) {
		t.Errorf("the try's console.log is still in the cell's directory: %v", err)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"failed": true, "panic": true, "timeout": true, "passed": false,
		"infra": false, "invalid": false, "skipped": false, "interrupted": false} {
		if got := retryable(s); got != want {
			t.Errorf("retryable(%s) = %v", s, got)
		}
	}
}
