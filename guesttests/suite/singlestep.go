package suite

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// maxSteps bounds a single-stepped walk from the sync point through A, B
// and C: a few hundred instructions of Go's raw syscall wrappers.
const maxSteps = 20000

// testSingleStepSyscall single-steps the tracee across its three system
// call instructions with plain PTRACE_SINGLESTEP: each call runs once and
// its real result reaches the tracee, and every stop is a single-step
// SIGTRAP, never a syscall stop. Inside UML this is the path where UML's
// host process is resumed with PTRACE_SYSEMU_SINGLESTEP.
//
// then_syscall single-steps across A only and goes on with PTRACE_SYSCALL:
// the stops must be B's entry and exit and C's entry, in step, with no
// system call -1 between them (review finding M4: inside a UML with its
// PTRACE_SYSEMU off, the step's host exit stop read as a new call -1).
func testSingleStepSyscall(t *T) {
	t.Run("across", func(t *T) { singleStepAcross(t, 3) })
	t.Run("then_syscall", func(t *T) {
		tr := singleStepAcross(t, 1)
		if tr == nil {
			return
		}
		defer tr.Kill()
		abi := t.cfg.abi()
		s := resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, entry, abi.B)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, exit, abi.B)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, entry, abi.C)
		r := finish(t, tr)
		if r.AErr != 0 || r.A != r.Pid || r.BErr != 0 || r.B < 3 {
			t.Errorf("A (stepped) and B (traced) must run once with their real results: %+v", r)
		}
	})
}

// singleStepAcross single-steps the tracee across its first n system call
// instructions (n = 3: all of them, and then checks the results the
// tracee reports). For n < 3 it returns the tracee, stopped after the n-th
// call, for the caller to go on with; nil when it failed.
func singleStepAcross(t *T, n int) *ptrace.Tracee {
	tr := start(t, ScenarioBasic)
	abi := t.cfg.abi()
	want := []int{abi.A, abi.B, abi.C}[:n]
	// A Fatalf below ends the goroutine: kill the tracee then, and
	// always when this walk is the whole test.
	defer func() {
		if n == 3 || t.failed {
			tr.Kill()
		}
	}()
	var results []int64
	for steps := 0; len(results) < len(want); steps++ {
		if steps == maxSteps {
			t.Fatalf("%d single steps without passing the tracee's three system calls (%d passed)", maxSteps, len(results))
		}
		r, err := ptrace.GetRegs(tr.Pid)
		if err != nil {
			t.Fatalf("PTRACE_GETREGS: %v", err)
		}
		insn := make([]byte, 2)
		if _, err := unix.PtracePeekText(tr.Pid, r.PC(), insn); err != nil {
			t.Fatalf("PTRACE_PEEKTEXT at %#x: %v", r.PC(), err)
		}
		isSyscall := (insn[0] == 0x0f && insn[1] == 0x05) || (insn[0] == 0xcd && insn[1] == 0x80)
		s := resume(t, tr, ptrace.SingleStep, 0, 0)
		if s.Exited || s.Syscall || s.Signal != syscall.SIGTRAP {
			t.Fatalf("step %d: want a single-step SIGTRAP, got %v", steps, s)
		}
		if !isSyscall {
			continue
		}
		after, err := ptrace.GetRegs(tr.Pid)
		if err != nil {
			t.Fatalf("PTRACE_GETREGS: %v", err)
		}
		if after.PC() != r.PC()+2 {
			t.Fatalf("stepping the system call at %#x left the tracee at %#x, not after it", r.PC(), after.PC())
		}
		results = append(results, after.Ret())
	}
	if n < 3 {
		if int64(int32(results[0])) != int64(tr.Pid) {
			t.Errorf("stepping getpid gave the tracer %d, want the tracee's pid %d", int32(results[0]), tr.Pid)
		}
		return tr
	}
	rep := finish(t, tr)
	got := []int64{int64(rep.A), int64(rep.B), int64(rep.C)}
	errs := []int{rep.AErr, rep.BErr, rep.CErr}
	for i := range want {
		if errs[i] != 0 {
			t.Errorf("system call %d (nr %d) failed with errno %d under single-step (a phantom call's -ENOSYS?)", i+1, want[i], errs[i])
		}
		if int64(int32(results[i])) != got[i] {
			t.Errorf("system call %d: the tracer saw %d after the step, the tracee %d", i+1, int32(results[i]), got[i])
		}
	}
	if rep.A != rep.Pid || rep.B < 3 || rep.C <= 0 {
		t.Errorf("single-stepped calls did not run once each with their real results: %+v", rep)
	}
	return nil
}
