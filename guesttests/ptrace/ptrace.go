// Package ptrace is the guest tests' tracer: raw ptrace requests (x/sys has
// no general Ptrace(req, pid, addr, data)), stops decoded into what a test
// asks about, and the PTRACE_VM constants under test. It runs unchanged on
// 2.6.29 and on 6.x kernels.
package ptrace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Requests and tags. The values are the x86 ABI's; PTRACE_SYSEMU and the
// PTRACE_VM tags are not in x/sys (the tags are not in any released kernel).
const (
	Syscall           = unix.PTRACE_SYSCALL
	Cont              = unix.PTRACE_CONT
	SingleStep        = unix.PTRACE_SINGLESTEP
	Sysemu            = 31
	SysemuSingleStep  = 32
	TagSkipExit       = 0x2
	TagSkipCall       = 0x6
	getSyscallInfo    = unix.PTRACE_GET_SYSCALL_INFO
	setSyscallInfo    = unix.PTRACE_SET_SYSCALL_INFO
	syscallStopSignal = syscall.SIGTRAP | 0x80
)

// Raw issues ptrace(req, pid, addr, data) and returns its result.
func Raw(req int, pid int, addr, data uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// Tracee is a child process traced by the calling OS thread. Every method
// must be called from the goroutine that called Start, which Start locks to
// its thread (ptrace requests are only accepted from the tracer thread).
type Tracee struct {
	Pid    int
	cmd    *exec.Cmd
	out    *os.File
	exited bool
	status unix.WaitStatus
}

// Start runs argv under ptrace (PTRACE_TRACEME before exec) with
// TRACESYSGOOD and EXITKILL set, and returns it stopped at its first
// SIGSTOP, raised by the tracee itself once its runtime is up (Go's runtime
// start-up makes many syscalls the tests do not want to see).
func Start(argv []string, env []string) (*Tracee, error) {
	runtime.LockOSThread()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start tracee: %w", err)
	}
	w.Close()
	t := &Tracee{Pid: cmd.Process.Pid, cmd: cmd, out: r}
	// The exec SIGTRAP stop.
	if _, err := t.wait(); err != nil {
		t.Kill()
		return nil, err
	}
	if _, err := Raw(unix.PTRACE_SETOPTIONS, t.Pid, 0, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		// 2.6.29 has no EXITKILL.
		if _, err := Raw(unix.PTRACE_SETOPTIONS, t.Pid, 0, unix.PTRACE_O_TRACESYSGOOD); err != nil {
			t.Kill()
			return nil, fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
		}
	}
	sig := 0
	for {
		if _, err := Raw(Cont, t.Pid, 0, uintptr(sig)); err != nil {
			t.Kill()
			return nil, fmt.Errorf("PTRACE_CONT to the sync point: %w", err)
		}
		st, err := t.wait()
		if err != nil {
			t.Kill()
			return nil, err
		}
		if t.exited {
			return nil, fmt.Errorf("tracee exited before its sync point: %s", describe(st))
		}
		if st.StopSignal() == syscall.SIGSTOP {
			return t, nil
		}
		sig = int(st.StopSignal()) // deliver whatever else it got
	}
}

func (t *Tracee) wait() (unix.WaitStatus, error) {
	var st unix.WaitStatus
	for {
		_, err := unix.Wait4(t.Pid, &st, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("wait4 %d: %w", t.Pid, err)
		}
		break
	}
	t.status = st
	if st.Exited() || st.Signaled() {
		t.exited = true
	}
	return st, nil
}

// Stop is what a tracee stopped at, as a test sees it.
type Stop struct {
	Exited  bool // the tracee is gone (Status says how)
	Status  unix.WaitStatus
	Syscall bool // a syscall-stop (SIGTRAP|0x80)
	Entry   bool // for a syscall-stop: entry (true) or exit (false)
	Nr      int  // for a syscall-stop: the syscall number (orig_ax)
	Ret     int64
	Signal  syscall.Signal // for a signal-delivery-stop
	Event   int            // PTRACE_EVENT_* of an event stop (Signal is SIGTRAP)
}

func (s Stop) String() string {
	switch {
	case s.Exited:
		return "exited: " + describe(s.Status)
	case s.Event > 0:
		return fmt.Sprintf("event stop %d", s.Event)
	case s.Syscall && s.Entry:
		return fmt.Sprintf("entry stop of syscall %d", s.Nr)
	case s.Syscall:
		return fmt.Sprintf("exit stop of syscall %d (ret %d)", s.Nr, s.Ret)
	default:
		return fmt.Sprintf("signal stop %v", s.Signal)
	}
}

// Resume restarts the tracee with request req, addr and signal sig, and
// returns the next stop.
func (t *Tracee) Resume(req int, addr uintptr, sig syscall.Signal) (Stop, error) {
	if _, err := Raw(req, t.Pid, addr, uintptr(sig)); err != nil {
		return Stop{}, fmt.Errorf("ptrace(%s, addr=%#x): %w", RequestName(req), addr, err)
	}
	return t.next()
}

func (t *Tracee) next() (Stop, error) {
	st, err := t.wait()
	if err != nil {
		return Stop{}, err
	}
	if t.exited {
		return Stop{Exited: true, Status: st}, nil
	}
	if st.StopSignal() != syscallStopSignal {
		return Stop{Signal: st.StopSignal(), Event: st.TrapCause(), Status: st}, nil
	}
	s := Stop{Syscall: true, Status: st}
	if err := t.syscallInfo(&s); err != nil {
		return s, err
	}
	return s, nil
}

// syscallInfo fills nr, entry and ret. PTRACE_GET_SYSCALL_INFO (5.3+) says
// entry or exit outright; before it, x86 tells them apart by ax, which the
// kernel sets to -ENOSYS before the entry stop.
func (t *Tracee) syscallInfo(s *Stop) error {
	regs, err := GetRegs(t.Pid)
	if err != nil {
		return err
	}
	s.Nr = regs.Nr()
	s.Ret = regs.Ret()
	if si, err := GetSyscallInfo(t.Pid); err == nil {
		switch si.Op {
		case SyscallInfoEntry:
			s.Entry = true
			return nil
		case SyscallInfoExit:
			s.Ret = si.Rval
			return nil
		}
	}
	s.Entry = s.Ret == -int64(unix.ENOSYS)
	return nil
}

// SetOptions replaces the tracee's ptrace options.
func (t *Tracee) SetOptions(opts int) error {
	_, err := Raw(unix.PTRACE_SETOPTIONS, t.Pid, 0, uintptr(opts))
	return err
}

// Wait waits for the tracee's next stop without resuming it (after a
// signal sent to it, say).
func (t *Tracee) Wait() (Stop, error) { return t.next() }

// SetRet stores v as the syscall's return value (ax) at the current stop.
func (t *Tracee) SetRet(v int64) error {
	regs, err := GetRegs(t.Pid)
	if err != nil {
		return err
	}
	regs.SetRet(v)
	return SetRegs(t.Pid, regs)
}

// Finish lets the tracee run to its end without stops and returns what it
// printed and how it ended.
func (t *Tracee) Finish() (string, unix.WaitStatus, error) {
	sig := 0
	for !t.exited {
		if _, err := Raw(Cont, t.Pid, 0, uintptr(sig)); err != nil {
			return "", t.status, fmt.Errorf("PTRACE_CONT to the end: %w", err)
		}
		st, err := t.wait()
		if err != nil {
			return "", st, err
		}
		sig = 0
		if !t.exited && st.StopSignal() != syscallStopSignal && st.StopSignal() != syscall.SIGTRAP {
			sig = int(st.StopSignal())
		}
	}
	return t.Reaped(t.status), t.status, nil
}

// Detach lets the tracee go (PTRACE_DETACH, no signal), waits for it to
// end untraced, and returns what it printed and how it ended.
func (t *Tracee) Detach() (string, unix.WaitStatus, error) {
	if _, err := Raw(unix.PTRACE_DETACH, t.Pid, 0, 0); err != nil {
		return "", t.status, fmt.Errorf("PTRACE_DETACH: %w", err)
	}
	var st unix.WaitStatus
	for {
		_, err := unix.Wait4(t.Pid, &st, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", st, fmt.Errorf("wait4 after detach: %w", err)
		}
		if st.Exited() || st.Signaled() {
			break
		}
	}
	return t.Reaped(st), st, nil
}

// Kill ends the tracee and reaps it.
func (t *Tracee) Kill() {
	if !t.exited {
		_ = syscall.Kill(t.Pid, syscall.SIGKILL)
		for !t.exited {
			if _, err := t.wait(); err != nil {
				break
			}
		}
	}
	t.release()
}

// release closes the tracee's output and lets its exec.Cmd go; an adopted
// task has neither.
func (t *Tracee) release() {
	if t.out != nil {
		t.out.Close()
	}
	if t.cmd != nil {
		_ = t.cmd.Wait()
	}
}

// RequestName names a ptrace request for messages.
func RequestName(req int) string {
	switch req {
	case Syscall:
		return "PTRACE_SYSCALL"
	case Cont:
		return "PTRACE_CONT"
	case SingleStep:
		return "PTRACE_SINGLESTEP"
	case Sysemu:
		return "PTRACE_SYSEMU"
	case SysemuSingleStep:
		return "PTRACE_SYSEMU_SINGLESTEP"
	}
	return fmt.Sprintf("request %d", req)
}

func describe(st unix.WaitStatus) string {
	switch {
	case st.Exited():
		return fmt.Sprintf("exit status %d", st.ExitStatus())
	case st.Signaled():
		return fmt.Sprintf("killed by %v", st.Signal())
	case st.Stopped():
		return fmt.Sprintf("stopped by %v", st.StopSignal())
	}
	return fmt.Sprintf("wait status %#x", uint32(st))
}

// ErrUnexpected marks a stop a test did not expect.
var ErrUnexpected = errors.New("unexpected stop")

// PokeRet stores v as the return value with one PTRACE_POKEUSER.
func (t *Tracee) PokeRet(v int64) error {
	_, err := Raw(unix.PTRACE_POKEUSR, t.Pid, offRet, uintptr(v))
	return err
}

// PokeNr stores nr as the syscall number (-1 skips the call at an entry
// stop, the classic way) with one PTRACE_POKEUSER.
func (t *Tracee) PokeNr(nr int64) error {
	_, err := Raw(unix.PTRACE_POKEUSR, t.Pid, offNr, uintptr(nr))
	return err
}

// Reaped records that the tracee ended as st (waited for by Finish,
// Detach, or a tracer that waits on several tracees itself) and returns
// what it printed.
func (t *Tracee) Reaped(st unix.WaitStatus) string {
	t.exited, t.status = true, st
	if t.out == nil {
		return ""
	}
	out := make([]byte, 4096)
	n, _ := t.out.Read(out)
	t.release()
	return string(out[:max(n, 0)])
}
