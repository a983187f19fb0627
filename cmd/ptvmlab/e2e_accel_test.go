//go:build e2e

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/vm/qemu"
)

// accelTests are the guest tests the accelerator tests boot: what they
// prove is which accelerator ran and why, not the series, so two tests do
// (and no UML or selftest is built for them).
const accelTests = "ptvmlab.tests=probe,baseline"

// kvmWrapper copies a stand-in for a broken KVM from testdata into a fresh
// directory and names it in PTVMLAB_QEMU_KVM_WRAPPER. A fresh path is a
// fresh host key: no verdict kept by an earlier run is found.
func kvmWrapper(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(qemu.KVMWrapperEnv, p)
	t.Setenv(AccelEnv, "")
}

// TestE2EAccelFallback: a KVM that passes the probe and then hangs the real
// boot (kvm-hangs-boots) is caught by the silence watchdog, and the boot is
// retried under TCG in the same run and passes; every report names both
// attempts. The next run remembers that KVM failed and goes straight to TCG.
func TestE2EAccelFallback(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 11*time.Minute, accelKernel)
	kvmWrapper(t, "kvm-hangs-boots")
	out := t.TempDir()
	code, stdout, stderr := ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--silence", "15s", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d, want 0: the TCG retry should pass", code)
	}
	if !strings.Contains(stderr, "accel: kvm (kvm probe: booted to its end in") {
		t.Errorf("stderr does not say KVM was chosen and why")
	}
	b := readRun(t, out).Boots[0]
	if b.Status != "passed" || b.Accel != "tcg" || len(b.Attempts) != 1 {
		t.Fatalf("boot: status %s accel %s attempts %+v", b.Status, b.Accel, b.Attempts)
	}
	a := b.Attempts[0]
	// The watchdog, not the 5-minute boot limit, ended the KVM attempt (no
	// wall-clock check of the run: on a cold cache it includes the build).
	if a.Accel != "kvm" || !strings.HasPrefix(a.Why, "silent for 15s after: ") || a.TookS < 15 || a.TookS > 120 {
		t.Errorf("the KVM attempt: %+v", a)
	}
	if c, err := os.ReadFile(a.ConsoleLog); err != nil || !strings.Contains(string(c), "fault=hang: sleeping forever") {
		t.Errorf("the KVM attempt's console was not kept (%v)", err)
	}
	if !strings.Contains(stdout, "tcg after kvm failed") || !strings.Contains(stdout, "the kvm attempt was retried under tcg: silent for 15s") {
		t.Errorf("the summary does not show the fallback:\n%s", stdout)
	}
	for file, want := range map[string]string{
		"summary.md": "fell back from kvm to tcg: silent for 15s",
		"junit.xml":  `<property name="fallback_from" value="kvm: silent for 15s after: `,
		"index.html": `data-accel="tcg after kvm failed"`,
	} {
		if b, err := os.ReadFile(filepath.Join(out, file)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v)", file, want, err)
		}
	}

	// The next run uses TCG at once, saying why.
	out2 := t.TempDir()
	code, _, stderr = ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--silence", "15s", "--out", out2)
	b = readRun(t, out2).Boots[0]
	if code != 0 || b.Accel != "tcg" || len(b.Attempts) != 0 || !strings.HasPrefix(b.AccelWhy, "a boot under KVM went wrong where TCG did not") {
		t.Errorf("second run: exit %d accel %s (%s) attempts %+v", code, b.Accel, b.AccelWhy, b.Attempts)
	}
	if !strings.Contains(stderr, "accel: tcg (a boot under KVM went wrong where TCG did not") {
		t.Errorf("the second run does not say why it chose TCG")
	}
}

// TestE2EAccelProbeFails: a KVM that opens and never runs a guest
// (kvm-silent). --accel kvm fails in seconds with a one-line error and
// exit 3; auto chooses TCG with the probe's reason and passes; the verdict
// is kept, so the next --accel kvm fails at once.
func TestE2EAccelProbeFails(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 11*time.Minute, accelKernel)
	kvmWrapper(t, "kvm-silent")
	out := t.TempDir()
	start := time.Now()
	code, _, stderr := ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--accel", "kvm", "--out", out)
	took := time.Since(start)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != exitInfra || !strings.HasPrefix(last, "ptvmlab run: --accel kvm: KVM cannot run a guest here (kvm probe: no console output in 10s)") {
		t.Errorf("--accel kvm on a silent KVM: exit %d, last line %q", code, last)
	}
	if took > time.Minute {
		t.Errorf("--accel kvm took %s to fail", took)
	}

	code, _, stderr = ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--out", out)
	b := readRun(t, out).Boots[0]
	if code != 0 || b.Accel != "tcg" || b.AccelWhy != "kvm probe: no console output in 10s" || len(b.Attempts) != 0 {
		t.Errorf("auto on a silent KVM: exit %d accel %s (%s) attempts %+v", code, b.Accel, b.AccelWhy, b.Attempts)
	}
	if !strings.Contains(stderr, "accel: tcg (kvm probe: no console output in 10s)") {
		t.Errorf("auto does not say what it chose and why")
	}

	start = time.Now()
	code, _, _ = ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--accel", "kvm", "--out", t.TempDir())
	if took := time.Since(start); code != exitInfra || took > 30*time.Second {
		t.Errorf("--accel kvm with a kept verdict: exit %d after %s", code, took)
	}
}

// TestE2EAccelTCG: --accel tcg never touches KVM (the wrapper that would
// hang it is not run) and says so.
func TestE2EAccelTCG(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 11*time.Minute, accelKernel)
	kvmWrapper(t, "kvm-silent")
	t.Setenv(AccelEnv, "tcg")
	out := t.TempDir()
	code, _, stderr := ptvmlab(t, "run", "--series", "none", "--arch", "i386", "--append", accelTests, "--out", out)
	b := readRun(t, out).Boots[0]
	if code != 0 || b.Accel != "tcg" || b.AccelWhy != "asked for" || strings.Contains(stderr, "kvm probe") {
		t.Errorf("PTVMLAB_ACCEL=tcg: exit %d accel %s (%s)", code, b.Accel, b.AccelWhy)
	}
}
