//go:build e2e

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/crossbuild"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// needCrossCompiler skips without the Debian 6.12 tree or an arm64 cross
// compiler, except under CI, whose make setup installs both: there a
// missing one fails, so that the check can never be skipped away.
func needCrossCompiler(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := os.Stat(debianTarball); err != nil {
		why = debianTarball + " missing (apt-get install linux-source-6.12)"
	} else if _, err := crossbuild.ChooseToolchain(crossbuild.Arches["arm64"], "auto", exec.LookPath); err != nil {
		why = err.Error()
	}
	switch {
	case why == "":
	case os.Getenv("CI") != "":
		t.Fatalf("%s; CI's make setup installs it", why)
	default:
		t.Skip(why)
	}
}

// seriesDefinesTags reports whether a series directory's patches add the
// opt-in symbol's Kconfig entry.
func seriesDefinesTags(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.patch"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("\n+config "+crossbuild.TagsSymbol+"\n")) {
			return true
		}
	}
	return false
}

// TestE2ECrossbuild: the repo's 6.12 series cross-builds for arm64
// (tinyconfig, warnings as errors) through arm64's syscall tracing path;
// arm64 does not opt in to the tags once the series has the opt-in
// symbol; and a rerun is a cache hit that runs no make.
func TestE2ECrossbuild(t *testing.T) {
	needCrossCompiler(t)
	fitBudget(t, 11*time.Minute) // arm64 with clang: measured 9m cold
	series := "../../patches/6.12"
	code, out, _ := ptvmlab(t, "crossbuild", "--kernel", "debian:6.12", "--series", series, "--arch", "arm64")
	if code != exitPassed || !strings.Contains(out, "arm64 6.12.") || !strings.Contains(out, ": built with ") {
		t.Fatalf("crossbuild: exit %d, want 0 and a built line:\n%s", code, out)
	}
	for _, sym := range crossbuild.Arches["arm64"].Symbols {
		if !strings.Contains(out, sym) {
			t.Errorf("the line does not say %s was linked: %s", sym, out)
		}
	}
	want := "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS: symbol absent from this series"
	if seriesDefinesTags(t, series) {
		want = "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS not set (arm64 does not opt in"
	}
	if !strings.Contains(out, want) {
		t.Errorf("want %q in: %s", want, out)
	}

	start := time.Now()
	code, again, _ := ptvmlab(t, "crossbuild", "--kernel", "debian:6.12", "--series", series, "--arch", "arm64")
	took := time.Since(start)
	if code != exitPassed || !strings.Contains(again, "(cache hit, no make run)") {
		t.Fatalf("rerun: exit %d, want a cache hit:\n%s", code, again)
	}
	t.Logf("rerun took %s", took.Round(time.Millisecond))
}

// TestE2ECrossbuildWarning: code that only a non-opt-in arch compiles and
// that warns there (an unused static function in arch/arm64) fails the
// check with exit 1 and the compiler's first error: warnings are errors in
// the cross build.
func TestE2ECrossbuildWarning(t *testing.T) {
	needCrossCompiler(t)
	fitBudget(t, 3*time.Minute)
	c, err := cache.Default()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := source.Parse("debian:6.12")
	tree, err := source.Resolve(context.Background(), c, spec)
	if err != nil {
		t.Fatal(err)
	}
	const file = "arch/arm64/kernel/ptrace.c"
	series := copySeries(t, "../../patches/6.12")
	addPatch(t, series, "0099-arm64-unused-function.patch", "arm64: an unused function", file,
		filepath.Join(tree.Dir, file), "\nstatic void ptvmlab_crossbuild_unused(void)\n{\n}\n")

	code, out, _ := ptvmlab(t, "crossbuild", "--kernel", "debian:6.12", "--series", series, "--arch", "arm64")
	if code != exitFailed || !strings.Contains(out, ": FAILED: arm64 build failed: ") ||
		!strings.Contains(out, file) || !strings.Contains(out, "ptvmlab_crossbuild_unused") || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, want 1 and one FAILED line naming %s and the function:\n%s", code, file, out)
	}
}

// copySeries copies a series directory into a temporary one.
func copySeries(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if err := cache.CopyFile(f, filepath.Join(out, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// addPatch appends to series a mail that appends text to file (path is
// its pristine copy, which the series must leave alone at its end).
func addPatch(t *testing.T, series, name, subject, file, path, text string) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	os.WriteFile(a, old, 0o644)
	os.WriteFile(b, append(append([]byte{}, old...), text...), 0o644)
	diff, err := exec.Command("diff", "-u", "--label", "a/"+file, "--label", "b/"+file, a, b).Output()
	if len(diff) == 0 {
		t.Fatalf("diff: %v", err)
	}
	mail := "From: ptvmlab test <test@ptvmlab.invalid>\nDate: Mon, 16 Mar 2009 00:00:00 +0000\nSubject: [PATCH] " + subject +
		"\n\nA test patch.\n---\n" + string(diff)
	if err := os.WriteFile(filepath.Join(series, name), []byte(mail), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(series, "series"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + name + "\n"); err != nil { // blank lines are skipped; the file may lack its last newline
		t.Fatal(err)
	}
}
