package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	good := Verdict{Key: "k", KVM: true, Reason: "kvm probe: booted to its end in 0.9s"}
	bad := Verdict{Key: "k", KVM: false, Reason: "kvm probe: no console output in 20s"}
	tests := []struct {
		name    string
		mode    vm.AccelMode
		v       Verdict
		accel   string
		wantErr string
	}{
		{"auto, kvm works", vm.AccelAuto, good, "kvm", ""},
		{"auto, kvm broken", vm.AccelAuto, bad, "tcg", ""},
		{"kvm forced, works", vm.AccelKVM, good, "kvm", ""},
		{"kvm forced, broken", vm.AccelKVM, bad, "", "--accel kvm: KVM cannot run a guest here (kvm probe: no console output in 20s); use --accel auto or tcg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decide(tc.mode, tc.v)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("decide = %+v, %v; want error %q", c, err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Accel != tc.accel || c.Why != tc.v.Reason {
				t.Fatalf("decide = %+v, %v; want %s (%s)", c, err, tc.accel, tc.v.Reason)
			}
		})
	}
	if got := (Choice{Accel: "tcg", Why: "kvm probe: no console output in 20s"}).Line(); got != "accel: tcg (kvm probe: no console output in 20s)" {
		t.Errorf("Line() = %q", got)
	}
}

func TestJudgeProbe(t *testing.T) {
	t.Parallel()
	marker := []byte("Linux version 6.12\n" + proto.MarkerStart + "\n" + proto.MarkerProbe + "\n")
	tests := []struct {
		name string
		out  *vm.Output
		err  error
		ok   bool
		why  string
	}{
		{"reached its end", &vm.Output{Console: marker, Took: 1100 * time.Millisecond}, nil, true, "booted to its end in 1.1s"},
		{"no console", &vm.Output{TimedOut: true, Silent: 10 * time.Second, Took: 10 * time.Second}, nil, false, "no console output in 10s"},
		{"hung after XSAVE", &vm.Output{Console: []byte("x86/fpu: Supporting XSAVE feature 0x080\n"), TimedOut: true, Silent: 10 * time.Second,
			LastLine: "x86/fpu: Supporting XSAVE feature 0x080", Took: 11 * time.Second}, nil, false, "silent for 10s after: x86/fpu: Supporting XSAVE feature 0x080"},
		{"printing but no end", &vm.Output{Console: []byte("a\nb\n"), TimedOut: true, LastLine: "b", Took: 20 * time.Second}, nil, false, "no end in 20s after: b"},
		{"triple fault resets", &vm.Output{Console: []byte("early\n"), LastLine: "early"}, nil, false, "the machine ended before its init ran (a triple fault resets it); last console line: early"},
		{"qemu refused", &vm.Output{ExitErr: errors.New("qemu-system-x86_64: exit status 1: failed to initialize kvm")}, nil, false,
			"QEMU ended before the guest's init ran: qemu-system-x86_64: exit status 1: failed to initialize kvm"},
		{"qemu did not start", nil, &vm.InfraError{Op: "run qemu", Err: errors.New("Could not access KVM kernel module")}, false, "QEMU failed: Could not access KVM kernel module"},
		{"crash", &vm.Output{Console: marker, Crashed: "Kernel panic - not syncing: x"}, nil, false, "the kernel crashed: Kernel panic - not syncing: x"},
		{"marker but timed out", &vm.Output{Console: marker, TimedOut: true, LastLine: proto.MarkerProbe, Took: 20 * time.Second}, nil, false, "no end in 20s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := judgeProbe(tc.out, tc.err)
			if ok != tc.ok || !strings.HasPrefix(why, tc.why) {
				t.Errorf("judgeProbe = %v %q; want %v %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

func TestWentWrong(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		out   *vm.Output
		err   error
		retry bool
		why   string
	}{
		{"passed", &vm.Output{Opened: true, Results: []byte("KTAP")}, nil, false, ""},
		{"answered then hung at the limit", &vm.Output{Opened: true, TimedOut: true}, nil, false, ""},
		{"answered then panicked", &vm.Output{Opened: true, Crashed: "BUG: x"}, nil, false, ""},
		{"silent", &vm.Output{TimedOut: true, Silent: 30 * time.Second, LastLine: "x86/fpu: Supporting XSAVE feature 0x080"}, nil, true,
			"silent for 30s after: x86/fpu: Supporting XSAVE feature 0x080"},
		{"silent after answering", &vm.Output{Opened: true, TimedOut: true, Silent: 30 * time.Second}, nil, true, "silent for 30s after: (no console output)"},
		{"died early", &vm.Output{LastLine: "Booting the kernel"}, nil, true, "the machine ended before the guest answered; last console line: Booting the kernel"},
		{"crashed early", &vm.Output{Crashed: "Kernel panic - not syncing: Attempted to kill init!"}, nil, true, "the kernel crashed before the guest answered"},
		{"qemu failed", nil, &vm.InfraError{Op: "run qemu-system-i386", Err: errors.New("exit status 1")}, true, "infrastructure: run qemu-system-i386"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			why, retry := wentWrong(tc.out, tc.err)
			if retry != tc.retry || !strings.HasPrefix(why, tc.why) {
				t.Errorf("wentWrong = %q %v; want %q %v", why, retry, tc.why, tc.retry)
			}
		})
	}
}

// TestHostKey: the verdict is per host kernel, QEMU version, device and
// emulator; a change of any of them probes again.
func TestHostKey(t *testing.T) {
	t.Parallel()
	base := hostFacts{Device: "10:232", Release: "6.18.44", QEMU: "QEMU emulator version 7.2.19"}
	seen := map[string]string{base.key("qemu-system-x86_64"): "base"}
	for name, h := range map[string]hostFacts{
		"release": {Device: "10:232", Release: "6.18.45", QEMU: base.QEMU},
		"qemu":    {Device: "10:232", Release: base.Release, QEMU: "QEMU emulator version 8.0"},
		"device":  {Device: "10:233", Release: base.Release, QEMU: base.QEMU},
		"wrapper": {Device: "10:232", Release: base.Release, QEMU: base.QEMU, Wrapper: "/x@abc"},
	} {
		k := h.key("qemu-system-x86_64")
		if other, ok := seen[k]; ok {
			t.Errorf("a change of %s keeps the key of %s", name, other)
		}
		seen[k] = name
	}
	if base.key("qemu-system-i386") == base.key("qemu-system-x86_64") {
		t.Error("both emulators share one verdict")
	}
}

// TestVerdictCache: a verdict is kept and read back; a damaged or foreign
// one is removed, not believed.
func TestVerdictCache(t *testing.T) {
	t.Parallel()
	b := &Backend{Cache: cache.Dir(t.TempDir())}
	v := Verdict{Key: "cafe01", KVM: false, Reason: "kvm probe: no console output in 20s", ProbedAt: time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)}
	b.storeVerdict(v)
	got, ok := b.loadVerdict("cafe01")
	if !ok || got != v {
		t.Fatalf("loadVerdict = %+v %v; want %+v", got, ok, v)
	}
	for name, content := range map[string]string{
		"not json":    "{kvm: true",
		"other key":   `{"key":"beef","kvm":true,"reason":"r","probed_at":"2026-11-30T00:00:00Z"}`,
		"no reason":   `{"key":"cafe01","kvm":true,"probed_at":"2026-11-30T00:00:00Z"}`,
		"no time":     `{"key":"cafe01","kvm":true,"reason":"r"}`,
		"zero length": "",
	} {
		p := b.verdictPath("cafe01")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := b.loadVerdict("cafe01"); ok {
			t.Errorf("%s: believed %+v", name, got)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: the damaged verdict was left in place", name)
		}
	}
	if _, ok := (&Backend{}).loadVerdict("cafe01"); ok {
		t.Error("a backend without a cache found a verdict")
	}
}

// fakeQEMU writes a script that stands in for QEMU (and, named by
// KVMWrapperEnv, for a KVM wrapper) and returns the directory to put first
// on PATH.
func fakeQEMU(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"qemu-system-x86_64", "qemu-system-i386"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func bootFiles(t *testing.T) vm.Spec {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"bzImage", "initrd"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	return vm.Spec{Arch: "x86_64", Kernel: filepath.Join(dir, "bzImage"), Initrd: filepath.Join(dir, "initrd"), Dir: filepath.Join(dir, "out"),
		Probe: proto.Args{Probe: true}.Cmdline()}
}

// TestWatchdog: a machine that goes silent is stopped after Silence, as
// timed out, with its last line; one that keeps printing is left alone.
func TestWatchdog(t *testing.T) {
	// The fake QEMU ignores its arguments: it prints, then hangs or goes on.
	bin := fakeQEMU(t, `case "$*" in
*ptvmlab.fault=hang*) echo "Linux version 6.12"; echo "x86/fpu: Supporting XSAVE feature 0x080"; exec sleep 60;;
*) for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.5; done; exit 0;;
esac
`)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	b := &Backend{Accel: vm.AccelTCG}

	s := bootFiles(t)
	s.Cmdline, s.Silence, s.Timeout = []string{"ptvmlab.fault=hang"}, 2*time.Second, 30*time.Second
	start := time.Now()
	out, err := b.Boot(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !out.TimedOut || out.Silent < 2*time.Second || out.LastLine != "x86/fpu: Supporting XSAVE feature 0x080" {
		t.Errorf("silent machine: timed out %v, silent %s, last line %q", out.TimedOut, out.Silent, out.LastLine)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the watchdog took %s to stop a machine silent for 2s", took)
	}
	if out.Accel != "tcg" || out.AccelWhy != "asked for" {
		t.Errorf("accel %q (%s), want tcg (asked for)", out.Accel, out.AccelWhy)
	}

	s = bootFiles(t)
	s.Silence, s.Timeout = 2*time.Second, 30*time.Second
	out, err = b.Boot(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if out.TimedOut || out.Silent != 0 || out.LastLine != "tick 6" {
		t.Errorf("a machine printing every 0.5s for 3s was stopped: timed out %v silent %s last %q", out.TimedOut, out.Silent, out.LastLine)
	}
}

// TestFallback: with a KVM that passes the probe but hangs real boots (the
// KVM wrapper seam), auto mode retries the boot under TCG and keeps both
// attempts; a KVM that fails the probe is not used at all, and --accel kvm
// there is an error, fast.
func TestFallback(t *testing.T) {
	// As QEMU: the probe reaches its end whatever the accelerator; a real
	// boot under KVM (through the wrapper, which the first argument names)
	// hangs, under TCG it prints and ends.
	bin := fakeQEMU(t, `case "$*" in
*ptvmlab.probe=accel*) echo "`+proto.MarkerProbe+`"; exit 0;;
esac
case "$1" in
qemu-system-*) echo "hanging under the fake KVM"; exec sleep 60;;
esac
echo "booted under TCG"; exit 0
`)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv(KVMWrapperEnv, filepath.Join(bin, "qemu-system-x86_64"))
	c := cache.Dir(t.TempDir())
	b := &Backend{Cache: c}
	s := bootFiles(t)
	s.Silence, s.Timeout = 2*time.Second, 30*time.Second
	out, err := b.Boot(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if out.Accel != "tcg" || len(out.Attempts) != 1 || out.Attempts[0].Accel != "kvm" ||
		!strings.HasPrefix(out.Attempts[0].Why, "silent for 2s after: hanging under the fake KVM") {
		t.Fatalf("accel %s, attempts %+v", out.Accel, out.Attempts)
	}
	if out.LastLine != "booted under TCG" || !strings.HasPrefix(out.AccelWhy, "fallback: the KVM attempt silent for") {
		t.Errorf("retry: last line %q, why %q", out.LastLine, out.AccelWhy)
	}
	kept, err := os.ReadFile(out.Attempts[0].ConsoleLog)
	if err != nil || !strings.Contains(string(kept), "hanging under the fake KVM") {
		t.Errorf("the KVM attempt's console was not kept: %q %v", kept, err)
	}
}

// TestProbeFails: a KVM whose probe never speaks is not used; its verdict
// is kept, and --accel kvm fails at once with the reason.
func TestProbeFails(t *testing.T) {
	bin := fakeQEMU(t, `case "$1" in
qemu-system-*) exec sleep 60;;
esac
case "$*" in
*ptvmlab.probe=accel*) echo "`+proto.MarkerProbe+`"; exit 0;;
esac
echo "booted under TCG"; exit 0
`)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv(KVMWrapperEnv, filepath.Join(bin, "qemu-system-i386"))
	c := cache.Dir(t.TempDir())
	s := bootFiles(t)
	s.Arch, s.Timeout = "i386", 30*time.Second
	start := time.Now()
	out, err := (&Backend{Cache: c}).Boot(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if out.Accel != "tcg" || out.AccelWhy != "kvm probe: no console output in 10s" || len(out.Attempts) != 0 {
		t.Fatalf("accel %s (%s), attempts %+v", out.Accel, out.AccelWhy, out.Attempts)
	}
	if took := time.Since(start); took > ProbeDeadline {
		t.Errorf("probe and boot took %s", took)
	}
	// The verdict is kept: a new process (a new memo) reads it, and
	// --accel kvm fails without probing again.
	verdicts.Range(func(k, _ any) bool { verdicts.Delete(k); return true })
	start = time.Now()
	_, err = (&Backend{Cache: c, Accel: vm.AccelKVM}).Boot(context.Background(), s)
	var ae *vm.AccelError
	if !errors.As(err, &ae) || !vm.IsInfra(err) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("--accel kvm on a broken KVM: %v", err)
	}
	if !strings.Contains(err.Error(), "kvm probe: no console output in 10s") {
		t.Errorf("the error does not say why: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("--accel kvm took %s to fail with a kept verdict", took)
	}
}

// TestNoProbeBoot: a guest that cannot be probed is booted under TCG in
// auto mode, and --accel kvm says why it cannot be honoured.
func TestNoProbeBoot(t *testing.T) {
	s := bootFiles(t)
	s.Probe = nil
	c, err := (&Backend{Accel: vm.AccelAuto}).choose(context.Background(), s)
	if err != nil || c.Accel != "tcg" || !strings.Contains(c.Why, "no probe boot") {
		t.Errorf("auto without a probe boot: %+v, %v", c, err)
	}
	var ae *vm.AccelError
	if _, err := (&Backend{Accel: vm.AccelKVM}).choose(context.Background(), s); !errors.As(err, &ae) {
		t.Errorf("kvm without a probe boot: %v, want an AccelError", err)
	}
}
