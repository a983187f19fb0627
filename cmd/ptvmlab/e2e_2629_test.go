//go:build e2e

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linux2629 is the plain 2.6.29 tree the 2.6.29 tests build, named by
// PTVMLAB_LINUX_2_6_29 (see DEVELOPERS.md for where it comes from). Without
// it the tests skip and say so: no 2.6.29 source ships with Debian.
func linux2629(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PTVMLAB_LINUX_2_6_29")
	if dir == "" {
		t.Skip("PTVMLAB_LINUX_2_6_29 is not set: the 2.6.29 era is not tested here (extract plain 2.6.29 outside the repo and point the variable at it; see DEVELOPERS.md)")
	}
	if _, err := os.Stat(filepath.Join(dir, "Makefile")); err != nil {
		t.Fatalf("PTVMLAB_LINUX_2_6_29=%s is not a kernel tree: %v", dir, err)
	}
	if _, err := os.Stat(debianTarball); err != nil {
		t.Skipf("%s missing: today's checkpatch.pl and the default kernel come from it (apt-get install linux-source-6.12)", debianTarball)
	}
	return dir
}

// TestE2E2629PatchesCheck: the 2.6.29 series is clean with 2.6.29's own
// checkpatch.pl (run with the lab's perl fix, and said so) and with today's.
func TestE2E2629PatchesCheck(t *testing.T) {
	tree := linux2629(t)
	code, stdout, _ := ptvmlab(t, "patches", "check", "--kernel", tree, "--series", "../../patches/2.6.29", "--signoff", testPoster)
	if code != 0 || strings.Count(stdout, ": clean") != 6 {
		t.Fatalf("checkpatch: exit %d\n%s", code, stdout)
	}
	for _, want := range []string{"with 0001-checkpatch-escape-literal-braces-in-regexes.patch", "today's checkpatch.pl"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not say %q:\n%s", want, stdout)
		}
	}
}

// TestE2E2629Run: the patched 2.6.29 kernel passes on x86_64 (with UML
// 2.6.29 inside, booted default, nosysptvm and usesysemu) and i386; the
// unpatched tree is the negative control.
func TestE2E2629Run(t *testing.T) {
	tree := linux2629(t)
	for _, tc := range []struct {
		series, probe string
	}{
		{"../../patches/2.6.29", "skipcall"},
		{"none", "none"},
	} {
		t.Run(filepath.Base(tc.series), func(t *testing.T) {
			out := t.TempDir()
			code, _, _ := ptvmlab(t, "run", "--kernel", tree, "--series", tc.series, "--out", out)
			r := readRun(t, out)
			if code != 0 || len(r.Boots) != 2 {
				t.Fatalf("exit %d, %d boots", code, len(r.Boots))
			}
			for _, b := range r.Boots {
				got := map[string]string{}
				for _, x := range b.Tests {
					got[x.Name] = x.Status
				}
				if b.Status != "passed" || b.Probe != tc.probe || b.Version != "2.6.29" || got["baseline"] != "pass" ||
					got["seccomp"] != "skip" || (b.Arch == "x86_64" && (got["uml"] != "pass" || got["ia32"] != "pass")) {
					t.Errorf("%s: status %s probe %q version %s tests %v (%s)", b.Arch, b.Status, b.Probe, b.Version, got, b.Title)
				}
			}
		})
	}
}

// TestE2E2629PatchesExport: the committed 2.6.29 mails are a fixed point
// of ptvmlab patches export --no-signoff (the stored form).
func TestE2E2629PatchesExport(t *testing.T) {
	tree := linux2629(t)
	out := t.TempDir()
	if code, _, _ := ptvmlab(t, "patches", "export", "--kernel", tree, "--series", "../../patches/2.6.29", "--no-signoff", "--out", out); code != 0 {
		t.Fatalf("export: exit %d", code)
	}
	sameAsCommitted(t, "../../patches/2.6.29", out)
}
