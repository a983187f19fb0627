package suite

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// TraceeFlag, as argv[1], runs this binary as a tracee instead of the suite.
const TraceeFlag = "-tracee"

// TraceeEnv quiets the Go runtime in the tracee: no GC and no asynchronous
// preemption signals, so that the main thread makes only the syscalls the
// scenario makes between its sync point and its report.
var TraceeEnv = []string{"GOGC=off", "GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1"}

// The scenario's syscalls, in order, after the SIGSTOP sync point:
// A = getpid (no side effect, known result), B = dup(2) (a side effect: a new
// fd), C = getppid (a marker: the stop after B's).
var (
	NrA = unix.SYS_GETPID
	NrB = unix.SYS_DUP
	NrC = unix.SYS_GETPPID
)

// RunTracee is the tracee's main: it makes the scenario's syscalls with raw
// syscall instructions (no runtime hooks between them), then prints what
// each returned, as "a=R/E b=R/E c=R/E" with E the errno, and exits.
// The caller must have locked the main goroutine to the main thread in an
// init function: only that thread is traced.
func RunTracee() {
	pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	unix.RawSyscall(unix.SYS_KILL, pid, uintptr(syscall.SIGSTOP), 0)
	a, _, ae := unix.RawSyscall(uintptr(NrA), 0, 0, 0)
	b, _, be := unix.RawSyscall(uintptr(NrB), 2, 0, 0)
	c, _, ce := unix.RawSyscall(uintptr(NrC), 0, 0, 0)
	fmt.Printf("a=%d/%d b=%d/%d c=%d/%d pid=%d\n", int(a), int(ae), int(b), int(be), int(c), int(ce), pid)
	os.Exit(0)
}

// TraceeReport is what the tracee printed.
type TraceeReport struct {
	A, AErr, B, BErr, C, CErr, Pid int
}

func parseReport(s string) (TraceeReport, error) {
	var r TraceeReport
	_, err := fmt.Sscanf(s, "a=%d/%d b=%d/%d c=%d/%d pid=%d", &r.A, &r.AErr, &r.B, &r.BErr, &r.C, &r.CErr, &r.Pid)
	if err != nil {
		return r, fmt.Errorf("tracee report %q: %w", s, err)
	}
	return r, nil
}
