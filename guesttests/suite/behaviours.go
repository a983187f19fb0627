package suite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// Every behaviour below pins what a patched kernel does with the tags and,
// on an unpatched kernel (the negative control), that the tags are ignored:
// the entry/exit stops of plain PTRACE_SYSCALL and the call running.

// testSkipExit: SKIPEXIT at A's entry runs A (its real result reaches the
// tracee) and the next stop is B's entry.
func testSkipExit(t *T) {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
	if t.patched() {
		expect(t, tr, s, entry, abi.B)
	} else {
		expect(t, tr, s, exit, abi.A)
		t.Logf("unpatched: SKIPEXIT ignored, A's exit stop came")
	}
	r := finish(t, tr)
	if r.AErr != 0 || r.A != r.Pid {
		t.Errorf("A (getpid) must run: returned %d errno %d, pid %d", r.A, r.AErr, r.Pid)
	}
}

// testSkipCall: SKIPCALL (0x6, and 0x4 alone) at B's entry: B has no side
// effect and returns -ENOSYS, and the next stop is C's entry.
func testSkipCall(t *T) {
	abi := t.cfg.abi()
	for _, addr := range []uintptr{ptrace.TagSkipCall, 0x4} {
		t.Run(fmt.Sprintf("addr=%#x", addr), func(t *T) {
			tr := startAtB(t, ScenarioBasic)
			defer tr.Kill()
			s := resume(t, tr, ptrace.Syscall, addr, 0)
			patched := t.patched()
			if patched {
				expect(t, tr, s, entry, abi.C)
			} else {
				expect(t, tr, s, exit, abi.B)
			}
			r := finish(t, tr)
			switch {
			case patched && r.BErr != int(syscall.ENOSYS):
				t.Errorf("B (dup) must be skipped with -ENOSYS: returned %d errno %d", r.B, r.BErr)
			case !patched && (r.BErr != 0 || r.B < 3):
				t.Errorf("unpatched: B (dup) must run: returned %d errno %d", r.B, r.BErr)
			}
		})
	}
}

// testSkipCallPoked: a return value the tracer stores at B's entry reaches
// the tracee when B is skipped.
func testSkipCallPoked(t *T) {
	abi := t.cfg.abi()
	tr := startAtB(t, ScenarioBasic)
	defer tr.Kill()
	if err := tr.SetRet(1234); err != nil {
		t.Fatalf("set return value: %v", err)
	}
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
	if !t.patched() {
		expect(t, tr, s, exit, abi.B)
		if r := finish(t, tr); r.BErr != 0 || r.B < 3 {
			t.Errorf("unpatched: B (dup) must run and overwrite the stored value: returned %d errno %d", r.B, r.BErr)
		}
		return
	}
	expect(t, tr, s, entry, abi.C)
	if r := finish(t, tr); r.B != 1234 || r.BErr != 0 {
		t.Errorf("B must return the stored 1234: returned %d errno %d", r.B, r.BErr)
	}
}

// testUnknownBits: ptrace accepts any addr and acts on addr & 0x6 only.
func testUnknownBits(t *T) {
	abi := t.cfg.abi()
	for _, addr := range []uintptr{0x1, 0x8, 0x8 | ptrace.TagSkipExit, ^uintptr(ptrace.TagSkipCall)} {
		t.Run(fmt.Sprintf("addr=%#x", addr), func(t *T) {
			tr := startAtA(t, ScenarioBasic)
			defer tr.Kill()
			s := resume(t, tr, ptrace.Syscall, addr, 0)
			if t.patched() && addr&ptrace.TagSkipCall == ptrace.TagSkipExit {
				expect(t, tr, s, entry, abi.B)
			} else {
				expect(t, tr, s, exit, abi.A)
			}
			finish(t, tr)
		})
	}
}

// testTagsDontStick: tags last one stop; the next plain resume gets its exit
// stop again.
func testTagsDontStick(t *T) {
	abi := t.cfg.abi()
	tr := startAtB(t, ScenarioBasic)
	defer tr.Kill()
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
	if !t.patched() {
		expect(t, tr, s, exit, abi.B)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
	}
	expect(t, tr, s, entry, abi.C)
	expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.C)
	finish(t, tr)
}

// testContAndStep: PTRACE_CONT and PTRACE_SINGLESTEP carry the tags from an
// entry stop; from a signal stop the tags do nothing.
func testContAndStep(t *T) {
	abi := t.cfg.abi()
	checkB := func(t *T, r TraceeReport) {
		if t.patched() && r.BErr != int(syscall.ENOSYS) {
			t.Errorf("B (dup) must be skipped: returned %d errno %d", r.B, r.BErr)
		}
		if !t.patched() && (r.BErr != 0 || r.B < 3) {
			t.Errorf("unpatched: B (dup) must run: returned %d errno %d", r.B, r.BErr)
		}
	}
	t.Run("cont", func(t *T) {
		tr := startAtB(t, ScenarioBasic)
		defer tr.Kill()
		if s := resume(t, tr, ptrace.Cont, ptrace.TagSkipCall, 0); !s.Exited {
			t.Fatalf("after PTRACE_CONT the tracee must run to its end, got %v", s)
		}
		checkB(t, finish(t, tr))
	})
	t.Run("singlestep", func(t *T) {
		tr := startAtB(t, ScenarioBasic)
		defer tr.Kill()
		if s := resume(t, tr, ptrace.SingleStep, ptrace.TagSkipCall, 0); s.Syscall || s.Signal != syscall.SIGTRAP {
			t.Fatalf("after PTRACE_SINGLESTEP want a SIGTRAP step stop, got %v", s)
		}
		checkB(t, finish(t, tr))
	})
	// Tags act only on the syscall-entry stop they end (the v2 review's
	// M3): at an exit stop the call has run, and the tags given there do
	// nothing to it or to the next call, as addr did nothing before.
	t.Run("from_exit_stop", func(t *T) {
		tr := startAtA(t, ScenarioBasic)
		defer tr.Kill()
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.A)
		expect(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0), entry, abi.B)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.B)
		if r := finish(t, tr); r.AErr != 0 || r.A != r.Pid || r.BErr != 0 || r.B < 3 {
			t.Errorf("A and B must run: tags given at an exit stop do nothing; %+v", r)
		}
	})
	t.Run("from_signal_stop", func(t *T) {
		tr := start(t, ScenarioBasic) // at the SIGSTOP stop
		defer tr.Kill()
		expect(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0), entry, abi.A)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.A)
		if r := finish(t, tr); r.AErr != 0 || r.A != r.Pid {
			t.Errorf("A must run: tags given at a signal stop do nothing; returned %d errno %d", r.A, r.AErr)
		}
	})
}

// testSignals: a skipped call and signals.
func testSignals(t *T) {
	abi := t.cfg.abi()
	afterB := func(t *T, tr *ptrace.Tracee, s ptrace.Stop) TraceeReport {
		if t.patched() {
			expect(t, tr, s, entry, abi.C)
		} else {
			expect(t, tr, s, exit, abi.B)
		}
		r := finish(t, tr)
		if t.patched() && r.BErr != int(syscall.ENOSYS) {
			t.Errorf("B must be skipped: returned %d errno %d", r.B, r.BErr)
		}
		return r
	}
	t.Run("sigusr1_as_data", func(t *T) {
		tr := startAtB(t, ScenarioBlocked)
		defer tr.Kill()
		r := afterB(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, syscall.SIGUSR1))
		if !r.Has(syscall.SIGUSR1) {
			t.Errorf("SIGUSR1 given with the resume is not pending (pending %#x)", r.Pending)
		}
	})
	t.Run("queued_at_entry_stop", func(t *T) {
		tr := startAtB(t, ScenarioBlocked)
		defer tr.Kill()
		// Thread-directed: a process-directed signal would go to one of
		// the Go runtime's other, untraced threads.
		if err := syscall.Tgkill(tr.Pid, tr.Pid, syscall.SIGUSR2); err != nil {
			t.Fatalf("kill: %v", err)
		}
		r := afterB(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0))
		if !r.Has(syscall.SIGUSR2) {
			t.Errorf("SIGUSR2 queued at the entry stop is lost (pending %#x)", r.Pending)
		}
	})
	t.Run("sigkill_at_entry_stop", func(t *T) {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("ptvm-sigkill-%d", os.Getpid()))
		os.Remove(dir)
		defer os.Remove(dir)
		tr := startAtA(t, ScenarioMkdir, dir)
		defer tr.Kill()
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.A)
		if s := resume(t, tr, ptrace.Syscall, 0, 0); !s.Syscall || !s.Entry || s.Nr != abi.Mkdir {
			t.Fatalf("want mkdir's entry stop, got %v", s)
		}
		if err := syscall.Kill(tr.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		s, err := tr.Wait()
		if err != nil || !s.Exited || !s.Status.Signaled() || s.Status.Signal() != syscall.SIGKILL {
			t.Fatalf("want death by SIGKILL, got %v, %v", s, err)
		}
		_, err = os.Stat(dir)
		if kernelOlder(3, 0) && !t.patched() {
			// An unpatched 2.6-era tracehook_report_syscall_entry()
			// ignores a fatal signal that ends the stop: the call runs,
			// then the task dies. Pinned, so that the era's behaviour is
			// on record; the 2.6.29 series makes the call not run.
			if err != nil {
				t.Errorf("kernel %s: want mkdir to run before SIGKILL takes the task (2.6-era tracehook), but it did not", kernelRelease())
			}
			t.Result(fmt.Sprintf("unpatched %s runs the call before dying (2.6-era tracehook)", kernelRelease()))
			return
		}
		if err == nil {
			t.Errorf("mkdir ran although SIGKILL came at its entry stop")
		}
	})
}

// testRestart: a skipped call whose stored result is -ERESTARTSYS is
// restarted when a signal without a handler comes, as any call would be:
// the tags skip it without touching orig_ax (the classic nr=-1 skip leaves
// nothing to restart). SIGCONT given with the resume has no handler in the
// tracee; its delivery stop is where the restart happens.
func testRestart(t *T) {
	abi := t.cfg.abi()
	const erestartsys = -512
	tr := startAtB(t, ScenarioBasic)
	defer tr.Kill()
	if err := tr.PokeRet(erestartsys); err != nil {
		t.Fatalf("store -ERESTARTSYS: %v", err)
	}
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, syscall.SIGCONT)
	if !t.patched() {
		// B ran: its result replaced -ERESTARTSYS, nothing to restart.
		expect(t, tr, s, exit, abi.B)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
	}
	if s.Syscall || s.Signal != syscall.SIGCONT {
		tr.Kill()
		t.Fatalf("want the SIGCONT delivery stop, got %v", s)
	}
	s = resume(t, tr, ptrace.Syscall, 0, 0)
	if t.patched() {
		expect(t, tr, s, entry, abi.B) // restarted
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.B)
	} else {
		expect(t, tr, s, entry, abi.C)
	}
	if r := finish(t, tr); r.BErr != 0 || r.B < 3 {
		t.Errorf("B (dup) must end up running: returned %d errno %d", r.B, r.BErr)
	}
}

// testDetach: PTRACE_DETACH drops the tags with the rest of ->ptrace. SKIPCALL
// given at A's entry stop is still set at B's entry stop; detaching there
// must let B run.
func testDetach(t *T) {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
	if t.patched() {
		expect(t, tr, s, entry, abi.B)
	} else {
		expect(t, tr, s, exit, abi.A)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, abi.B)
	}
	out, st, err := tr.Detach()
	if err != nil || !st.Exited() || st.ExitStatus() != 0 {
		t.Fatalf("detached tracee: %v, status %#x, output %q", err, uint32(st), out)
	}
	r, err := parseReport(out)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if r.BErr != 0 || r.B < 3 {
		t.Errorf("B must run once detached: returned %d errno %d", r.B, r.BErr)
	}
	if t.patched() && r.AErr != int(syscall.ENOSYS) {
		t.Errorf("A must have been skipped: returned %d errno %d", r.A, r.AErr)
	}
}

// testSysemu: PTRACE_SYSEMU ignores the tags: every call stops once, at its
// entry, and none runs; PTRACE_SYSEMU_SINGLESTEP with tags still steps and
// still emulates.
func testSysemu(t *T) {
	abi := t.cfg.abi()
	t.Run("sysemu", func(t *T) { testSysemuPlain(t, abi) })
	t.Run("sysemu_singlestep", func(t *T) {
		tr := start(t, ScenarioBasic)
		defer tr.Kill()
		steps := 0
		for {
			s := resume(t, tr, ptrace.SysemuSingleStep, ptrace.TagSkipCall, 0)
			if s.Syscall {
				expect(t, tr, s, entry, abi.A)
				break
			}
			if s.Signal != syscall.SIGTRAP {
				t.Fatalf("want single-step traps up to A's entry, got %v", s)
			}
			if steps++; steps > 100000 {
				t.Fatalf("no syscall stop after %d steps", steps)
			}
		}
		// From A's (emulated) entry stop, one more step: a trap, not A's exit.
		if s := resume(t, tr, ptrace.SysemuSingleStep, ptrace.TagSkipCall, 0); s.Syscall && !s.Entry {
			t.Fatalf("PTRACE_SYSEMU_SINGLESTEP gave an exit stop: %v", s)
		}
		if r := finish(t, tr); r.AErr != int(syscall.ENOSYS) {
			t.Errorf("A must be emulated (not run): returned %d errno %d", r.A, r.AErr)
		}
	})
}

func testSysemuPlain(t *T, abi ABI) {
	tr := start(t, ScenarioBasic)
	defer tr.Kill()
	expect(t, tr, resume(t, tr, ptrace.Sysemu, ptrace.TagSkipExit, 0), entry, abi.A)
	expect(t, tr, resume(t, tr, ptrace.Sysemu, ptrace.TagSkipCall, 0), entry, abi.B)
	expect(t, tr, resume(t, tr, ptrace.Sysemu, 0, 0), entry, abi.C)
	r := finish(t, tr)
	if r.AErr != int(syscall.ENOSYS) || r.BErr != int(syscall.ENOSYS) {
		t.Errorf("under PTRACE_SYSEMU A and B must not run: A %d/%d, B %d/%d", r.A, r.AErr, r.B, r.BErr)
	}
}

// IA32Binary is the 386 build of this suite in an x86_64 guest's image.
const IA32Binary = proto.IA32TestsBinary

// behaviours maps the tests that take an ia32 tracee to their functions.
var behaviours = map[string]func(*T){
	"baseline": testBaseline, "skipexit": testSkipExit, "skipcall": testSkipCall, "skipcall_poked": testSkipCallPoked,
	"unknown_bits": testUnknownBits, "tags_dont_stick": testTagsDontStick, "cont_and_singlestep": testContAndStep,
	"signals": testSignals, "sysemu": testSysemu, "seccomp": testSeccomp, "restart": testRestart,
	"detach": testDetach, "event_stops": testEventStops, "syscall_info_op": testSyscallInfoOp, "mixed_stops": testMixedStops,
	"set_syscall_info": testSetSyscallInfo,
}

// ia32Tests are the behaviours that also run with an ia32 tracee.
var ia32Tests = []string{"baseline", "skipexit", "skipcall", "skipcall_poked", "unknown_bits",
	"tags_dont_stick", "cont_and_singlestep", "signals", "restart", "detach", "sysemu", "seccomp",
	"event_stops", "syscall_info_op", "mixed_stops", "set_syscall_info"}

// testIA32: on an x86_64 kernel, the behaviours with a 32-bit tracee, under
// a 64-bit tracer (this binary) and under a 32-bit tracer (the 386 build).
func testIA32(t *T) {
	if goarch != "amd64" {
		t.Skipf("ia32 emulation needs an x86_64 kernel; this is a %s guest", goarch)
	}
	bin := t.cfg.IA32
	if bin == "" {
		bin = IA32Binary
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the x86_64 image lacks %s", bin)
	}
	cfg := t.cfg
	cfg.Tracee, cfg.TraceeABI = bin, ABI386
	t.Run("tracer64", func(t *T) {
		for _, name := range ia32Tests {
			t.RunWith(name, cfg, behaviours[name])
		}
	})
	t.Run("tracer32", func(t *T) {
		args := []string{"-tests", strings.Join(ia32Tests, ",")}
		if t.cfg.Expect != "" {
			args = append(args, "-expect", string(t.cfg.Expect))
		}
		out, err := runWatched(t, "32-bit tracer", exec.Command(bin, args...))
		if err != nil {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				t.Logf("%s", l)
			}
			t.Errorf("the 32-bit tracer's suite failed: %v", err)
			return
		}
		t.Result(fmt.Sprintf("%d behaviours passed under a 32-bit tracer", len(ia32Tests)))
	})
}

// testSeccomp pins the tags against seccomp. A call SKIPCALL skips at its
// entry stop never reaches the filter, as with PTRACE_SYSEMU: a KILL filter
// on it does not fire. From a PTRACE_EVENT_SECCOMP stop, SKIPCALL only
// drops the exit stop: the call runs (the series' documented rule).
func testSeccomp(t *T) {
	abi := t.cfg.abi()
	if err := seccompFilters(); err != nil {
		t.Skipf("%v", err)
	}
	t.Run("kill_filter_skipcall", func(t *T) {
		tr := startAtB(t, ScenarioSeccomp, "kill")
		defer tr.Kill()
		s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
		if !t.patched() {
			// The filter fires: the call is rolled back (its exit stop
			// shows the syscall number as the result) and SIGSYS kills.
			expect(t, tr, s, exit, abi.B)
			_, st, err := tr.Finish()
			if err != nil || !st.Signaled() || st.Signal() != syscall.SIGSYS {
				t.Fatalf("unpatched: the KILL filter must kill the tracee with SIGSYS; got %#x, %v", uint32(st), err)
			}
			return
		}
		expect(t, tr, s, entry, abi.C)
		if r := finish(t, tr); r.BErr != int(syscall.ENOSYS) {
			t.Errorf("B must be skipped: returned %d errno %d", r.B, r.BErr)
		}
	})
	t.Run("event_stop_overrides", func(t *T) {
		// SKIPEXIT given at C's entry stop is replaced by the plain resume
		// of C's seccomp event stop: C's exit stop comes.
		tr := start(t, ScenarioSeccomp, "trace")
		defer tr.Kill()
		if err := tr.SetOptions(unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACESECCOMP); err != nil {
			t.Fatalf("PTRACE_SETOPTIONS: %v", err)
		}
		for _, w := range []struct {
			entry bool
			nr    int
		}{{entry, abi.A}, {exit, abi.A}, {entry, abi.B}, {exit, abi.B}, {entry, abi.C}} {
			expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), w.entry, w.nr)
		}
		if s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0); s.Event != unix.PTRACE_EVENT_SECCOMP {
			tr.Kill()
			t.Fatalf("want the PTRACE_EVENT_SECCOMP stop of C, got %v", s)
		}
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.C)
		finish(t, tr)
	})
	t.Run("ret_trace_stop", func(t *T) {
		tr := start(t, ScenarioSeccomp, "trace")
		defer tr.Kill()
		if err := tr.SetOptions(unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACESECCOMP); err != nil {
			t.Fatalf("PTRACE_SETOPTIONS: %v", err)
		}
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, abi.A)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.A)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, abi.B)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.B)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, abi.C)
		if s := resume(t, tr, ptrace.Syscall, 0, 0); s.Event != unix.PTRACE_EVENT_SECCOMP {
			tr.Kill()
			t.Fatalf("want the PTRACE_EVENT_SECCOMP stop of C, got %v", s)
		}
		s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
		if t.patched() {
			if !s.Syscall || !s.Entry || s.Nr == abi.C {
				tr.Kill()
				t.Fatalf("after SKIPCALL at the seccomp stop: want the next call's entry stop, no exit stop of C; got %v", s)
			}
		} else {
			expect(t, tr, s, exit, abi.C)
		}
		if r := finish(t, tr); r.CErr != 0 || r.C <= 0 {
			t.Errorf("C (getppid) must run from a seccomp stop: returned %d errno %d", r.C, r.CErr)
		}
	})
}
