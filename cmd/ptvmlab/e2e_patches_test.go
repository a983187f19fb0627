//go:build e2e

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testPoster signs the mails the tests export and check: CI machines have
// no git identity.
const testPoster = "ptvmlab tests <tests@ptvmlab.invalid>"

// seriesDir is the repo's series for era, or $PTVMLAB_E2E_PATCHES/era:
// a copy to test against while patches/ is being edited.
func seriesDir(t *testing.T, era string) string {
	t.Helper()
	root := "../../patches"
	if d := os.Getenv("PTVMLAB_E2E_PATCHES"); d != "" {
		root = d
	}
	dir, err := filepath.Abs(filepath.Join(root, era))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// withoutGitIdentity runs the rest of the test as on a CI machine: in a
// directory outside any repository, with no global or system git config.
func withoutGitIdentity(t *testing.T) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PTVMLAB_ROOT", root) // the working directory no longer finds it
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
}

// acceptedOriginallyBy is what check prints for a patch whose only
// checkpatch message is the accepted Originally-by: tag.
const acceptedOriginallyBy = "0 errors, 0 warnings, 0 checks (1 accepted: BAD_SIGN_OFF Originally-by, mainline tag checkpatch does not know)"

// TestE2EPatchesCheck: every modern era's series (7.3, 6.12, 6.1), as they would be posted, are
// checkpatch --strict clean with their own tree's checkpatch.pl, but for
// the Originally-by: tag, accepted and counted apart: signed off by
// --signoff, and with no identity at all by the placeholder, saying so.
func TestE2EPatchesCheck(t *testing.T) {
	needDebianTree(t)
	for _, era := range []string{"7.3", "6.12", "6.1"} {
		t.Run(era, func(t *testing.T) {
			if _, err := os.Stat("/usr/src/linux-source-" + era + ".tar.xz"); err != nil {
				t.Skipf("linux-source-%s not installed (apt-get install linux-source-%s)", era, era)
			}
			series := seriesDir(t, era)
			code, stdout, _ := ptvmlab(t, "patches", "check", "--kernel", "debian:"+era, "--series", series, "--signoff", testPoster)
			// Patches 1 and 2 carry Originally-by:; patch 3 (the selftest) is new.
			if code != 0 || strings.Count(stdout, ": clean") != 3 || strings.Count(stdout, acceptedOriginallyBy) != 2 ||
				!strings.Contains(stdout, "checking the mails as "+testPoster+" posts them (from --signoff)") {
				t.Fatalf("checkpatch with --signoff: exit %d\n%s", code, stdout)
			}
			withoutGitIdentity(t)
			code, stdout, _ = ptvmlab(t, "patches", "check", "--kernel", "debian:"+era, "--series", series)
			if code != 0 || strings.Count(stdout, ": clean") != 3 ||
				!strings.Contains(stdout, "no --signoff and no git config user.name/user.email: checking the mails signed off by the placeholder ptvmlab check <check@ptvmlab.invalid>\n") {
				t.Fatalf("checkpatch with no identity: exit %d\n%s", code, stdout)
			}
		})
	}
}

// TestE2EPatchesCheckPolicy: the accepted exception is that one tag: a
// Foo-by: trailer next to Originally-by: is still a warning, and fails.
func TestE2EPatchesCheckPolicy(t *testing.T) {
	needDebianTree(t)
	series := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(seriesDir(t, "6.12"), "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(filepath.Base(f), "0001-") {
			if !bytes.Contains(b, []byte("\nOriginally-by: ")) {
				t.Fatalf("%s has no Originally-by: trailer", filepath.Base(f))
			}
			b = bytes.Replace(b, []byte("\nOriginally-by: "), []byte("\nFoo-by: Someone Else <someone@ptvmlab.invalid>\nOriginally-by: "), 1)
		}
		os.WriteFile(filepath.Join(series, filepath.Base(f)), b, 0o644)
	}
	code, stdout, _ := ptvmlab(t, "patches", "check", "--kernel", "debian:6.12", "--series", series, "--signoff", testPoster)
	want := "0 errors, 1 warnings, 0 checks (1 accepted: BAD_SIGN_OFF Originally-by, mainline tag checkpatch does not know)"
	if code != 1 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "WARNING: Non-standard signature: Foo-by:") ||
		strings.Count(stdout, "NOT CLEAN") != 1 || strings.Count(stdout, ": clean") != 2 {
		t.Fatalf("exit %d, want 1 with %q and the Foo-by: warning\n%s", code, want, stdout)
	}
}

// TestE2EPatchesExport: exporting the series in the stored form
// (--no-signoff) twice gives the same bytes, and the same bytes as the
// committed series (it is a fixed point). Exporting it as a poster, twice,
// gives the same bytes too; every mail is From the poster, every patch
// ends in the poster's Signed-off-by below its Originally-by:, the cover
// letter carries none, and the mails are otherwise the stored ones.
func TestE2EPatchesExport(t *testing.T) {
	needDebianTree(t)
	for _, era := range []string{"7.3", "6.12", "6.1"} {
		t.Run(era, func(t *testing.T) {
			if _, err := os.Stat("/usr/src/linux-source-" + era + ".tar.xz"); err != nil {
				t.Skipf("linux-source-%s not installed (apt-get install linux-source-%s)", era, era)
			}
			committed := seriesDir(t, era)
			a, b := t.TempDir(), t.TempDir()
			for _, out := range []string{a, b} {
				if code, _, _ := ptvmlab(t, "patches", "export", "--kernel", "debian:"+era, "--series", committed, "--no-signoff", "--out", out); code != 0 {
					t.Fatalf("export: exit %d", code)
				}
			}
			sameAsCommitted(t, committed, a, b)

			c, d := t.TempDir(), t.TempDir()
			for _, out := range []string{c, d} {
				if code, _, _ := ptvmlab(t, "patches", "export", "--kernel", "debian:"+era, "--series", committed, "--signoff", testPoster, "--out", out); code != 0 {
					t.Fatalf("export --signoff: exit %d", code)
				}
			}
			sameAsCommitted(t, c, d)
			signedAsStored(t, committed, c, testPoster)
		})
	}
}

// shortlogAuthor is the cover letter's "ptvmlab developers (2):" line.
var shortlogAuthor = regexp.MustCompile(`^\S.* \(\d+\):$`)

// signedAsStored checks that each mail in signed is the stored mail From
// who, with "Signed-off-by: who" as the last trailer of each patch and
// nowhere in the cover letter: nothing else changed.
func signedAsStored(t *testing.T, stored, signed, who string) {
	t.Helper()
	sob := "Signed-off-by: " + who
	mails, _ := filepath.Glob(filepath.Join(stored, "*.patch"))
	if len(mails) < 2 {
		t.Fatalf("%d mails in %s", len(mails), stored)
	}
	for _, f := range mails {
		name := filepath.Base(f)
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(signed, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		if len(g) < 2 || g[1] != "From: "+who {
			t.Errorf("%s: second line %q, want From: %s", name, g[min(1, len(g)-1)], who)
			continue
		}
		cover := strings.HasPrefix(name, "0000-")
		if strings.Contains(string(want), "\n"+sob+"\n") {
			t.Errorf("%s: the stored mail already carries %q", name, sob)
		}
		sep := slices.Index(g, "---")
		switch {
		case cover && slices.Contains(g, sob):
			t.Errorf("%s: the cover letter carries %q", name, sob)
		case !cover && (sep < 1 || g[sep-1] != sob):
			t.Errorf("%s: the line above --- is not %q", name, sob)
		case !cover && strings.Contains(string(want), "\nOriginally-by: ") &&
			!strings.Contains(string(got), "\nOriginally-by: Renzo Davoli <renzo@cs.unibo.it>\n"+sob+"\n"):
			t.Errorf("%s: Originally-by: is not kept above %q", name, sob)
		}
		// A body without trailers gets the sign-off as a paragraph of its
		// own: drop that blank line too.
		if i := slices.Index(g, sob); !cover && i > 0 && g[i-1] == "" && !strings.Contains(string(want), "\nOriginally-by: ") {
			g = slices.Delete(g, i-1, i)
		}
		// Nothing else differs: the "From <commit>" line and the From:
		// header, the sign-off, and the cover letter's shortlog author.
		g = slices.DeleteFunc(g[2:], func(l string) bool { return l == sob || shortlogAuthor.MatchString(l) })
		w = slices.DeleteFunc(w[2:], shortlogAuthor.MatchString)
		if !slices.Equal(g, w) {
			t.Errorf("%s: the signed mail differs from the stored one beyond From and Signed-off-by", name)
		}
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
	files, _ := filepath.Glob(filepath.Join(seriesDir(t, "6.12"), "*"))
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
	if code, stdout, _ := ptvmlab(t, "patches", "apply", "--kernel", "debian:6.12", "--series", seriesDir(t, "6.12")); code != 0 || !strings.Contains(stdout, "patches of") {
		t.Errorf("good series: exit %d %s", code, stdout)
	}
	// A tree kept with --out is the user's to edit in place: a file the
	// series leaves alone must not share its inode with the cache's tree
	// (an in-place edit of arch/Kconfig once changed the cached source).
	kept := filepath.Join(t.TempDir(), "w")
	if code, _, stderr := ptvmlab(t, "patches", "apply", "--kernel", "debian:6.12", "--series", seriesDir(t, "6.12"), "--out", kept); code != 0 {
		t.Fatalf("apply --out: exit %d %s", code, stderr)
	}
	for _, f := range []string{"Makefile", "arch/x86/Makefile", "init/main.c"} {
		st, err := os.Stat(filepath.Join(kept, f))
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Sys().(*syscall.Stat_t).Nlink; n != 1 {
			t.Errorf("%s in the --out tree has %d links: it shares its inode with the cache", f, n)
		}
	}
}

// TestE2EPatchedRun: the patched 6.12 kernel offers SKIPCALL on x86_64 and
// i386, the baseline still passes, and the kernel's own ptrace selftests do
// not regress; the patched UML binary builds.
func TestE2EPatchedRun(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 30*time.Minute, every612("../../patches/6.12"))
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
	fitBudget(t, 13*time.Minute, []string{"--kernel", "debian:6.1", "--arch", "x86_64"})
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
	"Subject: [PATCH 4/4] ptrace: break SKIPEXIT on purpose",
	"",
	"Signed-off-by: ptvmlab tests <ptvmlab@example.org>",
	"---",
	"--- a/include/linux/ptrace.h",
	"+++ b/include/linux/ptrace.h",
	"@@ -504,7 +504,7 @@",
	" {",
	" \tif (step)",
	" \t\tuser_single_step_report(regs);",
	"-\telse if (!(READ_ONCE(current->ptrace) & PT_SYSCALL_TAGS))",
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
	os.WriteFile(filepath.Join(series, "0004-break-skipexit.patch"), []byte(breakSkipExit), 0o644)
	names = append(names, "0004-break-skipexit.patch")
	os.WriteFile(filepath.Join(series, "series"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
	// Its own kernel: through ccache (the patched x86_64 build's), about a
	// quarter of a cold build.
	fitBudget(t, 13*time.Minute, []string{"--series", series, "--arch", "x86_64"})
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
