// Package guesttests_test checks the guest side from the host: the guest
// binaries' imports stay minimal, and the suite runs for real (real ptrace,
// real children) on the host kernel for both guest GOARCHes.
package guesttests_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/ktap"
)

// TestGuestImports keeps guest code to the standard library, x/sys and the
// guest's own packages: it must build for 386 and run on 2.6.29.
func TestGuestImports(t *testing.T) {
	t.Parallel()
	for _, goarch := range []string{"amd64", "386"} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/...")
		cmd.Env = append(cmd.Environ(), "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (%s): %v", goarch, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, "github.com/ptvmlab/ptvmlab/guesttests/") && !strings.HasPrefix(dep, "golang.org/x/sys/") {
				t.Errorf("%s: guest code imports %s", goarch, dep)
			}
		}
	}
}

// TestSuiteOnHost runs ptvm-tests on this machine's kernel, as amd64 (with
// ia32 tracees under 64- and 32-bit tracers) and as 386. The host kernel is
// not patched, so the probe must say none and every behaviour must see the
// tags ignored: the negative control, outside a VM.
func TestSuiteOnHost(t *testing.T) {
	t.Parallel()
	bins := map[string]string{}
	for _, goarch := range []string{"amd64", "386"} {
		bins[goarch] = filepath.Join(t.TempDir(), "ptvm-tests-"+goarch)
		build := exec.Command("go", "build", "-o", bins[goarch], "./cmd/ptvm-tests")
		build.Env = append(build.Environ(), "GOARCH="+goarch, "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build: %v: %s", err, out)
		}
	}
	// A host kernel without IA32 emulation (CONFIG_IA32_EMULATION off, or
	// booted with ia32_emulation=false, as some CI VMs are) cannot exec a
	// 386 binary at all: probe it once, and say so, instead of reading
	// the kernel's refusal as PTRACE_VM results.
	no32 := hostRefuses386(t, bins["386"])
	for _, goarch := range []string{"amd64", "386"} {
		t.Run(goarch, func(t *testing.T) {
			t.Parallel()
			if goarch == "386" && no32 != "" {
				t.Skipf("this host cannot run 386 binaries (%s): the 386 suite runs in the lab's i386 boots", no32)
			}
			var stdout bytes.Buffer
			// uml needs the guest image's UML kernel: it runs in the lab's boots.
			tests := "probe,baseline,skipexit,skipcall,skipcall_poked,unknown_bits,tags_dont_stick,cont_and_singlestep,signals,restart,detach,sysemu,seccomp,event_stops,syscall_info_op,set_syscall_info,mixed_stops,ia32"
			if no32 != "" {
				tests = strings.TrimSuffix(tests, ",ia32")
				t.Logf("ia32 left out: this host cannot run 386 binaries (%s); it runs in the lab's boots", no32)
			}
			// A hung tracer is a failure with its partial KTAP, not a hung test.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			run := exec.CommandContext(ctx, bins[goarch], "-expect", "none", "-ia32", bins["386"], "-tests", tests)
			run.WaitDelay = 5 * time.Second
			run.Stdout = &stdout
			err := run.Run()
			rep := ktap.Parse(bytes.NewReader(stdout.Bytes()))
			t.Logf("KTAP:\n%s", stdout.String())
			if err != nil || !rep.Complete() || len(rep.Failed()) > 0 {
				t.Fatalf("suite on the host: err %v, complete %v, failed %v", err, rep.Complete(), rep.Failed())
			}
			if rep.Results[0].Name != "probe" || rep.Results[0].Directive != "level=none" {
				t.Errorf("probe result %+v", rep.Results[0])
			}
		})
	}
}

// TestExpectMismatchFails: a kernel that does not offer the expected level
// fails the probe (a patched cell whose kernel lost the series).
func TestExpectMismatchFails(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "ptvm-tests")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/ptvm-tests").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	var stdout bytes.Buffer
	run := exec.Command(bin, "-expect", "skipcall", "-tests", "probe")
	run.Stdout = &stdout
	err := run.Run()
	rep := ktap.Parse(bytes.NewReader(stdout.Bytes()))
	if err == nil || len(rep.Failed()) != 1 || !strings.Contains(stdout.String(), "this kernel should offer skipcall") {
		t.Fatalf("want the probe to fail, got err %v, KTAP:\n%s", err, stdout.String())
	}
}

// hostRefuses386 execs the 386 build of ptvm-tests with -h and returns why
// the host kernel refused it ("exec format error"), or "" when it ran.
// Only ENOEXEC counts: any other failure is the test's to report.
func hostRefuses386(t *testing.T, bin string) string {
	t.Helper()
	err := exec.Command(bin, "-h").Run()
	if errors.Is(err, syscall.ENOEXEC) {
		return err.Error()
	}
	return ""
}
