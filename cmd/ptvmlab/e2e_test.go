//go:build e2e

// End-to-end tests: real kernels from the Debian 6.12 tree, built with the
// machine's gcc, booted under real QEMU, tested with real ptrace. They share
// the user's cache ($XDG_CACHE_HOME/ptvmlab), so only the first run builds.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
	"github.com/ptvmlab/ptvmlab/lab/vm"
	"github.com/ptvmlab/ptvmlab/lab/vm/qemu"
)

const debianTarball = "/usr/src/linux-source-6.12.tar.xz"

func needDebianTree(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(debianTarball); err != nil {
		t.Skipf("%s missing: end-to-end tests need it (apt-get install linux-source-6.12)", debianTarball)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 missing: end-to-end tests need it (apt-get install qemu-system-x86)")
	}
}

// ptvmlab runs the CLI in-process and returns its exit code, stdout, stderr.
func ptvmlab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := realMain(args, &stdout, &stderr)
	t.Logf("ptvmlab %s: exit %d in %s\n--- stdout\n%s--- stderr (last 2 KiB)\n%s", strings.Join(args, " "), code,
		time.Since(start).Round(time.Millisecond), stdout.String(), tail(stderr.String(), 2048))
	return code, stdout.String(), stderr.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func readRun(t *testing.T, dir string) report.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Run
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return r
}

// TestE2ERun is the lab core's acceptance: 6.12 unpatched (the negative
// control) on x86_64 and i386, probe = none, baseline passed; then the same
// run again is a cache hit with no make. The second run's guests exit at
// once (ptvmlab.fault=exit, so the kernel panics): what it checks is that
// every kernel, UML and selftest is found, not the boot again.
func TestE2ERun(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 40*time.Minute, every612("none"))
	out := t.TempDir()
	code, stdout, _ := ptvmlab(t, "run", "--series", "none", "--out", out)
	if code != 0 {
		t.Fatalf("ptvmlab run: exit %d", code)
	}
	r := readRun(t, out)
	if len(r.Boots) != 2 {
		t.Fatalf("%d boots, want 2", len(r.Boots))
	}
	for i, arch := range []string{"x86_64", "i386"} {
		b := r.Boots[i]
		if b.Arch != arch || b.Status != "passed" || b.Probe != "none" || !strings.HasPrefix(b.Version, "6.12.") {
			t.Errorf("boot %d: arch %s status %s probe %q version %s (%s)", i, b.Arch, b.Status, b.Probe, b.Version, b.Title)
		}
		got := map[string]string{}
		for _, tc := range b.Tests {
			got[tc.Name] = tc.Status
		}
		if got["probe"] != "pass" || got["baseline"] != "pass" {
			t.Errorf("%s tests: %v", arch, got)
		}
		if _, err := os.Stat(filepath.Join(out, arch, "console.log")); err != nil {
			t.Errorf("%s: no console.log: %v", arch, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "junit.xml")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(stdout, "2 boots: 2 passed") {
		t.Errorf("summary lacks the tally:\n%s", stdout)
	}

	out2 := t.TempDir()
	code, _, stderr := ptvmlab(t, "run", "--series", "none", "--append", "ptvmlab.fault=exit", "--out", out2)
	if code != exitFailed {
		t.Fatalf("second ptvmlab run, its init exiting: exit %d, want %d", code, exitFailed)
	}
	for _, b := range readRun(t, out2).Boots {
		if b.Build == nil || !b.Build.Cached || b.Status != "panic" {
			t.Errorf("%s: second run: status %s (want panic), build %+v (want cached)", b.Arch, b.Status, b.Build)
		}
	}
	if strings.Count(stderr, "kernel build: cache hit, no make run") != 2 || strings.Count(stderr, "UML build: cache hit, no make run") != 2 ||
		strings.Contains(stderr, "building kernel") || strings.Contains(stderr, "building UML") {
		t.Errorf("second run's log does not show two kernel and two UML cache hits and no build:\n%s", stderr)
	}
}

// TestE2EFaults: each fault ends as its named status, fast.
func TestE2EFaults(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 20*time.Minute, []string{"--series", "none", "--arch", "x86_64,um"})
	tests := []struct {
		name   string
		args   []string
		code   int
		status string
		title  string
	}{
		{"panic", []string{"--append", "rdinit=/nonexistent"}, 1, "panic", "Kernel panic - not syncing"},
		// The silence watchdog ends a hung guest long before the boot limit.
		{"hang", []string{"--append", "ptvmlab.fault=hang", "--silence", "20s", "--timeout", "5m"}, 1, "timeout",
			"silent for 20s after: "},
		{"hang at the limit", []string{"--append", "ptvmlab.fault=hang", "--silence", "10m", "--timeout", "25s"}, 1, "timeout", "no end after 25s"},
		{"garbage", []string{"--append", "ptvmlab.fault=garbage"}, 1, "failed", "results are not a complete KTAP report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			code, _, _ := ptvmlab(t, append([]string{"run", "--series", "none", "--arch", "x86_64", "--out", out}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			r := readRun(t, out)
			if len(r.Boots) != 1 || r.Boots[0].Status != tc.status || !strings.HasPrefix(r.Boots[0].Title, tc.title) {
				t.Fatalf("boots %+v, want status %s title %q", r.Boots, tc.status, tc.title)
			}
			// The boot's own time (not the run's, which may include a
			// build): the fault ends the boot well before its 5m limit.
			if took := r.Boots[0].DurationS; took > 90 {
				t.Errorf("a %s fault took %.0fs to end", tc.name, took)
			}
		})
	}
}

// TestE2EBadInput: bad input is a one-line error and exit 2, found before
// any work (no initramfs built for a file that is not a kernel, no build
// for an --out that is a file).
func TestE2EBadInput(t *testing.T) {
	needDebianTree(t)
	notKernel := filepath.Join(t.TempDir(), "bzImage")
	os.WriteFile(notKernel, []byte("not a kernel"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong sha256", []string{"run", "--kernel", debianTarball + "#sha256=" + strings.Repeat("0", 64)}, 2, "sha256 mismatch"},
		{"missing debian package", []string{"build", "--kernel", "debian:9.9"}, 2, "apt-get install linux-source-9.9"},
		{"unknown arch", []string{"run", "--arch", "arm64"}, 2, "choose x86_64, i386 or um"},
		{"not a kernel", []string{"boot", "--arch", "x86_64", "--image", notKernel, "--out", t.TempDir()}, 2, `no "HdrS" boot header`},
		{"passwd as a kernel", []string{"boot", "--arch", "x86_64", "--image", "/etc/passwd", "--out", t.TempDir()}, 2, `no "HdrS" boot header`},
		{"a directory as a kernel", []string{"boot", "--arch", "x86_64", "--image", t.TempDir(), "--out", t.TempDir()}, 2, "not a regular file"},
		{"out is a file", []string{"run", "--out", notKernel}, 2, "--out " + notKernel},
		{"good is no commit", []string{"bisect", "--good", "nosuchref", "--bad", "HEAD", "--", "--arch", "i386"}, 2, "--good nosuchref: not a commit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := ptvmlab(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("output lacks %q", tc.want)
			}
			if tc.code == 2 {
				if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
					t.Errorf("error is %d lines, want one:\n%s", lines, stderr)
				}
			}
		})
	}
}

// TestE2EDroppedSymbol: a fragment symbol that cannot be set fails the
// config step, naming the symbol and the dependency that is off.
func TestE2EDroppedSymbol(t *testing.T) {
	needDebianTree(t)
	ctx := context.Background()
	c, err := cache.Default()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := source.Parse("debian:6.12")
	tree, err := source.Resolve(ctx, c, spec)
	if err != nil {
		t.Fatal(err)
	}
	frags, err := kconfig.Load("../../kconfigs", kbuild.Arches["x86_64"].Fragments...)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := kconfig.Parse("broken", strings.NewReader("# CONFIG_NET is not set\nCONFIG_SECCOMP_FILTER=y\n"))
	_, err = kbuild.Build(ctx, cache.Dir(t.TempDir()), kbuild.Request{Tree: tree, Arch: kbuild.Arches["x86_64"], Fragments: append(frags, bad)})
	var dropped *kconfig.DroppedError
	if !errors.As(err, &dropped) {
		t.Fatalf("want a DroppedError, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "CONFIG_SECCOMP_FILTER=y (from broken:2) ended as n: depends on") || !strings.Contains(msg, "NET=n") || strings.Contains(msg, "\n") {
		t.Errorf("error does not explain the drop in one line: %s", msg)
	}
}

// TestE2ECancelLeavesNoQEMU: cancelling a boot (Ctrl-C) kills QEMU; no
// process of that boot survives.
func TestE2ECancelLeavesNoQEMU(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 13*time.Minute, []string{"--series", "none", "--arch", "x86_64"})
	ctx := context.Background()
	c, _ := cache.Default()
	spec, _ := source.Parse("debian:6.12")
	tree, err := source.Resolve(ctx, c, spec)
	if err != nil {
		t.Fatal(err)
	}
	frags, _ := kconfig.Load("../../kconfigs", kbuild.Arches["x86_64"].Fragments...)
	k, err := kbuild.Build(ctx, c, kbuild.Request{Tree: tree, Arch: kbuild.Arches["x86_64"], Fragments: frags})
	if err != nil {
		t.Fatal(err)
	}
	img, err := initramfs.Build(ctx, initramfs.Opts{GOARCH: "amd64", ModuleDir: "../..", Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	marker := "ptvmlab.cancel-test=" + strings.ReplaceAll(t.Name(), "/", "-") + time.Now().Format("150405.000")
	cctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	_, err = (&qemu.Backend{}).Boot(cctx, vm.Spec{Arch: "x86_64", Kernel: k.Image, Initrd: img.Path, Dir: t.TempDir(),
		Cmdline: []string{"ptvmlab.fault=hang", marker}, Timeout: time.Minute})
	if !vm.IsInfra(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a cancelled boot returned %v", err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("QEMU survived the cancel: %s", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
