package suite

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// testSetSyscallInfo: the tags beside mainline's PTRACE_SET_SYSCALL_INFO
// (6.16), which skips a call when it sets its number to -1 at the entry
// stop but keeps the exit stop.
//   - A: number set to -1, resumed with SKIPEXIT. Patched: no exit stop,
//     the next stop is B's entry (one stop for the skipped call).
//     Unpatched: the exit stop comes, as mainline has it.
//   - B: resumed with SKIPCALL. Patched: C's entry stop is next.
//   - C, at the stop after a SKIPCALL: SET_SYSCALL_INFO still works there
//     and the tags did not stick. The number set to -1 and a plain resume
//     give C's exit stop (mainline's two stops), where the result is set
//     to 4242, which the tracee gets.
//
// GET_SYSCALL_INFO's op is checked at every stop.
func testSetSyscallInfo(t *T) {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	op := func(what string, want uint8) ptrace.SyscallInfo {
		si, err := tr.SyscallInfo()
		if err != nil {
			tr.Kill()
			t.Fatalf("%s: %v", what, err)
		}
		if si.Op != want {
			t.Errorf("%s: op %d, want %d", what, si.Op, want)
		}
		return si
	}
	err := setNr(tr, -1) // at A's entry stop
	if errors.Is(err, unix.EIO) {
		switch {
		case inUML():
			t.Skipf("User-Mode Linux has no PTRACE_GET_SYSCALL_INFO or PTRACE_SET_SYSCALL_INFO (EIO)")
		case kernelOlder(6, 16):
			t.Skipf("kernel %s has no PTRACE_SET_SYSCALL_INFO (%v); it arrived in 6.16", kernelRelease(), err)
		}
	}
	if err != nil {
		t.Fatalf("A's entry stop, kernel %s: %v", kernelRelease(), err)
	}
	s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
	if t.patched() {
		expect(t, tr, s, entry, abi.B)
		op("B's entry stop, after A (number -1) resumed with SKIPEXIT", ptrace.SyscallInfoEntry)
	} else {
		expect(t, tr, s, exit, -1) // the number it was given
		if si := op("A's exit stop (SKIPEXIT ignored)", ptrace.SyscallInfoExit); si.Rval != -int64(unix.ENOSYS) {
			t.Errorf("A's exit stop: rval %d, want -ENOSYS (number set to -1)", si.Rval)
		}
		t.Logf("unpatched: SKIPEXIT ignored, A's exit stop came after its number was set to -1")
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, entry, abi.B)
	}
	s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
	if !t.patched() {
		expect(t, tr, s, exit, abi.B)
		op("B's exit stop (SKIPCALL ignored)", ptrace.SyscallInfoExit)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
	}
	expect(t, tr, s, entry, abi.C)
	op("C's entry stop, after a SKIPCALL", ptrace.SyscallInfoEntry)
	if err := setNr(tr, -1); err != nil {
		t.Fatalf("C's entry stop, after a SKIPCALL: %v", err)
	}
	s = resume(t, tr, ptrace.Syscall, 0, 0)
	expect(t, tr, s, exit, -1)
	si := op("C's exit stop (number -1, plain resume)", ptrace.SyscallInfoExit)
	if si.Rval != -int64(unix.ENOSYS) {
		t.Errorf("C's exit stop: rval %d, want -ENOSYS (number set to -1)", si.Rval)
	}
	si.Rval, si.IsError = 4242, false
	if err := tr.SetSyscallInfo(si); err != nil {
		t.Fatalf("C's exit stop: %v", err)
	}
	r := finish(t, tr)
	if r.AErr != int(unix.ENOSYS) {
		t.Errorf("A (number -1) returned %d errno %d, want -ENOSYS", r.A, r.AErr)
	}
	switch {
	case t.patched() && r.BErr != int(unix.ENOSYS):
		t.Errorf("B (SKIPCALL) returned %d errno %d, want -ENOSYS", r.B, r.BErr)
	case !t.patched() && r.BErr != 0:
		t.Errorf("B (SKIPCALL ignored, so dup(2) ran) returned %d errno %d", r.B, r.BErr)
	}
	if r.C != 4242 || r.CErr != 0 {
		t.Errorf("C returned %d errno %d, want 4242 (the result set at its exit stop)", r.C, r.CErr)
	}
}

// setNr sets the number of the call at this entry stop through
// PTRACE_SET_SYSCALL_INFO.
func setNr(tr *ptrace.Tracee, nr int64) error {
	si, err := tr.SyscallInfo()
	if err != nil {
		return err
	}
	si.Nr = uint64(nr)
	return tr.SetSyscallInfo(si)
}
