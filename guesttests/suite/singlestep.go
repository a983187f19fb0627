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
func testSingleStepSyscall(t *T) { singleStepAcross(t) }

func singleStepAcross(t *T) {
	tr := start(t, ScenarioBasic)
	defer tr.Kill()
	abi := t.cfg.abi()
	want := []int{abi.A, abi.B, abi.C}
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
}
