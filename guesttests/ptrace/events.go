package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Adopt returns a Tracee for a task the calling thread already traces
// without having started it: a child or thread auto-attached by
// PTRACE_O_TRACEFORK, TRACEVFORK or TRACECLONE, whose pid the parent's
// event stop gives (EventMsg). It has no output to read: Finish and
// Detach return "", and Kill sends SIGKILL to the task's whole process
// (kill(2) does, for a thread too) before reaping the task.
func Adopt(pid int) *Tracee { return &Tracee{Pid: pid} }

// EventMsg issues PTRACE_GETEVENTMSG: at a PTRACE_EVENT_FORK, VFORK,
// VFORK_DONE or CLONE stop the new task's pid, at PTRACE_EVENT_EXEC the
// thread id the task had before the exec.
func (t *Tracee) EventMsg() (uint, error) {
	msg, err := unix.PtraceGetEventMsg(t.Pid)
	if err != nil {
		return 0, fmt.Errorf("PTRACE_GETEVENTMSG: %w", err)
	}
	return msg, nil
}

// Siginfo is the part of the siginfo of a stop that the tests read.
type Siginfo struct {
	Signo syscall.Signal
	Code  int32
}

// Siginfo issues PTRACE_GETSIGINFO: the signal that caused the stop. At a
// group-stop there is none, and the request fails with EINVAL (see
// GroupStop).
func (t *Tracee) Siginfo() (Siginfo, error) {
	// struct siginfo is 128 bytes on every ABI; si_signo and si_code are
	// its first two ints. The buffer is on the heap: the kernel writes it
	// during the call.
	buf := new([128]byte)
	_, err := Raw(unix.PTRACE_GETSIGINFO, t.Pid, 0, uintptr(unsafe.Pointer(&buf[0])))
	runtime.KeepAlive(buf)
	if err != nil {
		return Siginfo{}, fmt.Errorf("PTRACE_GETSIGINFO: %w", err)
	}
	return Siginfo{
		Signo: syscall.Signal(*(*int32)(unsafe.Pointer(&buf[0]))),
		Code:  *(*int32)(unsafe.Pointer(&buf[8])),
	}, nil
}

// GroupStop reports whether a stop by a stop signal is a group-stop (the
// tracee stopped with its whole thread group) rather than that signal's
// signal-delivery-stop: ptrace(2) tells them apart by PTRACE_GETSIGINFO,
// which has no signal to report at a group-stop and fails with EINVAL.
func (t *Tracee) GroupStop() (bool, error) {
	_, err := t.Siginfo()
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, unix.EINVAL):
		return true, nil
	}
	return false, err
}
