package suite

import (
	"syscall"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// All is every guest test, in the order they run.
var All = []Test{
	{Name: proto.ProbeTest, Run: testProbe},
	{Name: "baseline", Run: testBaseline},
	{Name: "skipexit", Run: testSkipExit},
	{Name: "skipcall", Run: testSkipCall},
	{Name: "skipcall_poked", Run: testSkipCallPoked},
	{Name: "unknown_bits", Run: testUnknownBits},
	{Name: "tags_dont_stick", Run: testTagsDontStick},
	{Name: "cont_and_singlestep", Run: testContAndStep},
	{Name: "signals", Run: testSignals},
	{Name: "restart", Run: testRestart},
	{Name: "detach", Run: testDetach},
	{Name: "singlestep_syscall", Run: testSingleStepSyscall},
	{Name: "sysemu", Run: testSysemu},
	{Name: "seccomp", Run: testSeccomp},
	{Name: "event_stops", Run: testEventStops},
	{Name: "syscall_info_op", Run: testSyscallInfoOp},
	{Name: "set_syscall_info", Run: testSetSyscallInfo},
	{Name: "mixed_stops", Run: testMixedStops},
	{Name: "ia32", Run: testIA32},
	{Name: "uml", Run: testUML},
	{Name: "uml_sysptvm", Run: testUMLSysptvm, Named: true},
	{Name: "sysemu_refused", Run: testSysemuRefused, Named: true},
	{Name: "uml_sysemu_off", Run: testUMLSysemuOff, Named: true},
	{Name: "uml_escape", Run: testUMLEscape, Named: true},
	{Name: "kselftest", Run: testKselftest},
	{Name: "bench", Run: testBench, Named: true},
	{Name: "bench_loop", Run: testBenchLoop, Named: true},
	{Name: "uml_bench", Run: testUMLBench, Named: true},
}

// start starts a tracee of the configured binary and ABI running scenario
// and returns it at its SIGSTOP sync point.
func start(t *T, scenario string, args ...string) *ptrace.Tracee {
	argv := append([]string{t.cfg.traceeBin(), TraceeFlag, scenario}, args...)
	tr, err := ptrace.Start(argv, TraceeEnv)
	if err != nil {
		t.Fatalf("start tracee: %v", err)
	}
	return tr
}

// startAtA starts the tracee and resumes it with plain PTRACE_SYSCALL to the
// entry stop of syscall A.
func startAtA(t *T, scenario string, args ...string) *ptrace.Tracee {
	tr := start(t, scenario, args...)
	expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, t.cfg.abi().A)
	return tr
}

// startAtB runs the tracee through A (entry and exit stops) to B's entry
// stop.
func startAtB(t *T, scenario string, args ...string) *ptrace.Tracee {
	tr := startAtA(t, scenario, args...)
	abi := t.cfg.abi()
	expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.A)
	expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), entry, abi.B)
	return tr
}

// resume restarts the tracee and returns its next stop, failing the test on
// a ptrace error.
func resume(t *T, tr *ptrace.Tracee, req int, addr uintptr, sig syscall.Signal) ptrace.Stop {
	s, err := tr.Resume(req, addr, sig)
	if err != nil {
		tr.Kill()
		t.Fatalf("%v", err)
	}
	return s
}

const (
	entry = true
	exit  = false
)

// expect fails the test unless s is the entry (or exit) stop of syscall nr.
func expect(t *T, tr *ptrace.Tracee, s ptrace.Stop, isEntry bool, nr int) {
	if s.Syscall && s.Entry == isEntry && s.Nr == nr {
		return
	}
	kind := "exit"
	if isEntry {
		kind = "entry"
	}
	tr.Kill()
	t.Fatalf("want the %s stop of syscall %d, got %v", kind, nr, s)
}

// finish lets the tracee run out and returns its report.
func finish(t *T, tr *ptrace.Tracee) TraceeReport {
	out, st, err := tr.Finish()
	if err != nil {
		t.Fatalf("finish tracee: %v", err)
	}
	if !st.Exited() || st.ExitStatus() != 0 {
		t.Fatalf("tracee ended badly (wait status %#x), output %q", uint32(st), out)
	}
	r, err := parseReport(out)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return r
}

// Probe tells which PTRACE_VM level the running kernel offers, the way
// UML's check_sysptvm does: resume A's entry stop with SKIPEXIT and see
// whether A's exit stop still comes; then resume B's entry stop with
// SKIPCALL and see whether B ran.
func Probe(t *T) proto.Level {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
	if s.Syscall && !s.Entry && s.Nr == abi.A {
		t.Logf("SKIPEXIT ignored: the exit stop of A came (%v)", s)
		return proto.LevelNone
	}
	expect(t, tr, s, entry, abi.B)
	expect(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0), entry, abi.C)
	r := finish(t, tr)
	if r.BErr == int(syscall.ENOSYS) {
		return proto.LevelSkipCall
	}
	t.Logf("SKIPCALL did not skip B: it returned %d (errno %d)", r.B, r.BErr)
	return proto.LevelSkipExit
}

func testProbe(t *T) {
	level := Probe(t)
	t.Result(proto.ProbeResult(level))
	if t.cfg.Expect != "" && level != t.cfg.Expect {
		t.Errorf("PTRACE_VM level is %s, this kernel should offer %s", level, t.cfg.Expect)
	}
}

// testBaseline pins addr=0: every syscall gives an entry stop, then an exit
// stop carrying its result.
func testBaseline(t *T) {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	want := []struct {
		entry bool
		nr    int
	}{{exit, abi.A}, {entry, abi.B}, {exit, abi.B}, {entry, abi.C}, {exit, abi.C}}
	var aRet int64
	for i, w := range want {
		s := resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, w.entry, w.nr)
		if i == 0 {
			aRet = s.Ret
		}
	}
	r := finish(t, tr)
	if int64(r.A) != aRet || r.A != r.Pid {
		t.Errorf("A (getpid) returned %d to the tracee, %d at the exit stop; pid is %d", r.A, aRet, r.Pid)
	}
	if r.BErr != 0 || r.B < 3 {
		t.Errorf("B (dup) should have run: returned %d, errno %d", r.B, r.BErr)
	}
}
