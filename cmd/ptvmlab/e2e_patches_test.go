//go:build e2e

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EPatchesCheck: both eras' series are checkpatch --strict clean with
// their own tree's checkpatch.pl.
func TestE2EPatchesCheck(t *testing.T) {
	needDebianTree(t)
	for _, era := range []string{"6.12", "6.1"} {
		t.Run(era, func(t *testing.T) {
			if _, err := os.Stat("/usr/src/linux-source-" + era + ".tar.xz"); err != nil {
				t.Skipf("linux-source-%s not installed (apt-get install linux-source-%s)", era, era)
			}
			code, stdout, _ := ptvmlab(t, "patches", "check", "--kernel", "debian:"+era, "--series", "../../patches/"+era)
			if code != 0 || strings.Count(stdout, ": clean") != 2 {
				t.Fatalf("checkpatch: exit %d\n%s", code, stdout)
			}
		})
	}
}

// TestE2EPatchesExport: exporting the series twice gives the same bytes, and
// the same bytes as the committed series (it is a fixed point).
func TestE2EPatchesExport(t *testing.T) {
	needDebianTree(t)
	for _, era := range []string{"6.12", "6.1"} {
		t.Run(era, func(t *testing.T) {
			if _, err := os.Stat("/usr/src/linux-source-" + era + ".tar.xz"); err != nil {
				t.Skipf("linux-source-%s not installed (apt-get install linux-source-%s)", era, era)
			}
			committed := "../../patches/" + era
			a, b := t.TempDir(), t.TempDir()
			for _, out := range []string{a, b} {
				if code, _, _ := ptvmlab(t, "patches", "export", "--kernel", "debian:"+era, "--series", committed, "--out", out); code != 0 {
					t.Fatalf("export: exit %d", code)
				}
			}
			sameAsCommitted(t, committed, a, b)
		})
	}
}

// sameAsCommitted checks that every file of the committed series directory
// has the same bytes in each export directory.
func sameAsCommitted(t *testing.T, committed string, exports ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(committed, "*"))
	if len(files) == 0 {
		t.Fatalf("no files in %s", committed)
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		for _, dir := range exports {
			got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: export differs from the committed file (%v)", filepath.Base(f), err)
			}
		}
	}
}

// TestE2EPatchesApplyBroken: a series whose patch does not fit the tree fails
// naming the patch, the file and the hunk, and leaves no scratch tree.
func TestE2EPatchesApplyBroken(t *testing.T) {
	needDebianTree(t)
	series := t.TempDir()
	files, _ := filepath.Glob("../../patches/6.12/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(filepath.Base(f), "0001-") {
			// Break the context of the kernel/ptrace.c hunk in ptrace_resume().
			b = bytes.Replace(b, []byte(" static int ptrace_resume(struct task_struct *child, long request,"),
				[]byte(" static int ptrace_resume_renamed(struct task_struct *child, long request,"), 1)
		}
		os.WriteFile(filepath.Join(series, filepath.Base(f)), b, 0o644)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, _, stderr := ptvmlab(t, "patches", "apply", "--kernel", "debian:6.12", "--series", series)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "does not apply: kernel/ptrace.c hunk #1"
	if !strings.Contains(stderr, "0001-ptrace-add-PTRACE_SYSCALL_SKIPCALL") || !strings.Contains(stderr, want) {
		t.Errorf("error does not name the patch, file and hunk (%q):\n%s", want, stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("apply left %d scratch entries behind", len(left))
	}
	// The good series applies.
	if code, stdout, _ := ptvmlab(t, "patches", "apply", "--kernel", "debian:6.12", "--series", "../../patches/6.12"); code != 0 || !strings.Contains(stdout, "2 patches") {
		t.Errorf("good series: exit %d %s", code, stdout)
	}
}

// TestE2EPatchedRun: the patched 6.12 kernel offers SKIPCALL on x86_64 and
// i386, the baseline still passes, and the kernel's own ptrace selftests do
// not regress; the patched UML binary builds.
func TestE2EPatchedRun(t *testing.T) {
	needDebianTree(t)
	out := t.TempDir()
	code, _, _ := ptvmlab(t, "run", "--kernel", "debian:6.12", "--series", "../../patches/6.12", "--out", out)
	r := readRun(t, out)
	if code != 0 || len(r.Boots) != 2 {
		t.Fatalf("exit %d, %d boots", code, len(r.Boots))
	}
	for _, b := range r.Boots {
		got := map[string]string{}
		for _, tc := range b.Tests {
			got[tc.Name] = tc.Status
		}
		if b.Status != "passed" || b.Probe != "skipcall" || b.Series != "6.12" || got["baseline"] != "pass" || got["kselftest"] != "pass" ||
			(b.Arch == "x86_64" && (got["uml"] != "pass" || got["ia32"] != "pass")) {
			t.Errorf("%s: status %s probe %q series %s tests %v (%s)", b.Arch, b.Status, b.Probe, b.Series, got, b.Title)
		}
	}
	code, stdout, _ := ptvmlab(t, "build", "--kernel", "debian:6.12", "--arch", "um")
	if code != 0 || !strings.Contains(stdout, "um") {
		t.Fatalf("patched um build: exit %d\n%s", code, stdout)
	}
}

// TestE2EPatchedRun61: the refreshed 6.1 series, on x86_64.
func TestE2EPatchedRun61(t *testing.T) {
	needDebianTree(t)
	if _, err := os.Stat("/usr/src/linux-source-6.1.tar.xz"); err != nil {
		t.Skip("linux-source-6.1 not installed (apt-get install linux-source-6.1)")
	}
	out := t.TempDir()
	// UML rides in 6.12's cells; here the 6.1 host side is the point.
	code, _, _ := ptvmlab(t, "run", "--kernel", "debian:6.1", "--arch", "x86_64", "--no-uml", "--out", out)
	r := readRun(t, out)
	if code != 0 || len(r.Boots) != 1 || r.Boots[0].Probe != "skipcall" || r.Boots[0].Series != "6.1" {
		t.Fatalf("exit %d, boots %+v", code, r.Boots)
	}
}

// breakSkipExit is a third patch that undoes the SKIPEXIT hunk of patch 1:
// the exit report ignores the tags again.
var breakSkipExit = strings.Join([]string{
	"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
	"From: ptvmlab tests <ptvmlab@example.org>",
	"Date: Thu, 26 Nov 2026 13:00:00 +0000",
	"Subject: [PATCH 3/3] ptrace: break SKIPEXIT on purpose",
	"",
	"Signed-off-by: ptvmlab tests <ptvmlab@example.org>",
	"---",
	"--- a/include/linux/ptrace.h",
	"+++ b/include/linux/ptrace.h",
	"@@ -496,7 +496,7 @@",
	" {",
	" \tif (step)",
	" \t\tuser_single_step_report(regs);",
	"-\telse if (!(current->ptrace & PT_SYSCALL_TAGS))",
	"+\telse",
	" \t\tptrace_report_syscall(PTRACE_EVENTMSG_SYSCALL_EXIT);",
	" }",
	" #endif",
	"",
}, "\n")

// TestE2EBrokenSeriesFails: a series that loses its SKIPEXIT hunk makes the
// named behaviours fail on a cell that expects the tags.
func TestE2EBrokenSeriesFails(t *testing.T) {
	needDebianTree(t)
	series := t.TempDir()
	files, _ := filepath.Glob("../../patches/6.12/*.patch")
	var names []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(series, filepath.Base(f)), b, 0o644)
		if !strings.HasPrefix(filepath.Base(f), "0000-") {
			names = append(names, filepath.Base(f))
		}
	}
	os.WriteFile(filepath.Join(series, "0003-break-skipexit.patch"), []byte(breakSkipExit), 0o644)
	names = append(names, "0003-break-skipexit.patch")
	os.WriteFile(filepath.Join(series, "series"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
	out := t.TempDir()
	code, _, _ := ptvmlab(t, "run", "--kernel", "debian:6.12", "--series", series, "--arch", "x86_64", "--no-uml",
		"--append", "ptvmlab.tests=probe,baseline,skipexit,skipcall,tags_dont_stick", "--out", out)
	r := readRun(t, out)
	if code != 1 || len(r.Boots) != 1 || r.Boots[0].Status != "failed" {
		t.Fatalf("exit %d, boots %+v", code, r.Boots)
	}
	got := map[string]string{}
	for _, tc := range r.Boots[0].Tests {
		got[tc.Name] = tc.Status
	}
	want := map[string]string{"probe": "fail", "baseline": "pass", "skipexit": "fail", "skipcall": "fail"}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s: %s, want %s (all: %v)", name, got[name], status, got)
		}
	}
}
