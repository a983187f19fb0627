package suite

import (
	"syscall"

	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// All is every guest test, in the order they run.
var All = []Test{
	{Name: "probe", Run: testProbe},
	{Name: "baseline", Run: testBaseline},
	{Name: "kselftest", Run: testKselftest},
}

// startAtA starts the scenario tracee and resumes it with plain
// PTRACE_SYSCALL to the entry stop of syscall A.
func startAtA(t *T) *ptrace.Tracee {
	tr, err := ptrace.Start([]string{t.cfg.Self, TraceeFlag}, TraceeEnv)
	if err != nil {
		t.Fatalf("start tracee: %v", err)
	}
	s, err := tr.Resume(ptrace.Syscall, 0, 0)
	if err != nil {
		tr.Kill()
		t.Fatalf("resume to A: %v", err)
	}
	if !s.Syscall || !s.Entry || s.Nr != NrA {
		tr.Kill()
		t.Fatalf("after the sync point: want the entry stop of syscall %d, got %v", NrA, s)
	}
	return tr
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

// Probe levels, as the seed's check_sysptvm reports them.
const (
	LevelNone     = "none"
	LevelSkipExit = "skipexit"
	LevelSkipCall = "skipcall"
)

// Probe tells which PTRACE_VM level the running kernel offers, the way
// UML's check_sysptvm does: resume A's entry stop with SKIPEXIT and see
// whether A's exit stop still comes; then resume B's entry stop with
// SKIPCALL and see whether B ran.
func Probe(t *T) string {
	tr := startAtA(t)
	defer tr.Kill()
	s, err := tr.Resume(ptrace.Syscall, ptrace.TagSkipExit, 0)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if s.Syscall && !s.Entry && s.Nr == NrA {
		t.Logf("SKIPEXIT ignored: the exit stop of A came (%v)", s)
		return LevelNone
	}
	if !s.Syscall || !s.Entry || s.Nr != NrB {
		t.Fatalf("after A with SKIPEXIT: want B's entry stop, got %v", s)
	}
	s, err = tr.Resume(ptrace.Syscall, ptrace.TagSkipCall, 0)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if !s.Syscall || !s.Entry || s.Nr != NrC {
		t.Fatalf("after B with SKIPCALL: want C's entry stop, got %v", s)
	}
	r := finish(t, tr)
	if r.BErr == int(syscall.ENOSYS) {
		return LevelSkipCall
	}
	t.Logf("SKIPCALL did not skip B: it returned %d (errno %d)", r.B, r.BErr)
	return LevelSkipExit
}

func testProbe(t *T) {
	level := Probe(t)
	t.Result("level=" + level)
	if t.cfg.Expect != "" && level != t.cfg.Expect {
		t.Errorf("PTRACE_VM level is %s, this kernel should offer %s", level, t.cfg.Expect)
	}
}

// testBaseline pins addr=0: every syscall gives an entry stop, then an exit
// stop carrying its result.
func testBaseline(t *T) {
	tr := startAtA(t)
	defer tr.Kill()
	want := []struct {
		entry bool
		nr    int
	}{{false, NrA}, {true, NrB}, {false, NrB}, {true, NrC}, {false, NrC}}
	var aRet int64
	for i, w := range want {
		s, err := tr.Resume(ptrace.Syscall, 0, 0)
		if err != nil {
			t.Fatalf("stop %d: %v", i+1, err)
		}
		if !s.Syscall || s.Entry != w.entry || s.Nr != w.nr {
			kind := "exit"
			if w.entry {
				kind = "entry"
			}
			t.Fatalf("stop %d: want the %s stop of syscall %d, got %v", i+1, kind, w.nr, s)
		}
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
