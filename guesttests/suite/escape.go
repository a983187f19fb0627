//go:build amd64 || 386

package suite

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

const cloneThreadFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

func runCloneThread(path string) {
	mem, err := unix.Mmap(-1, 0, 64<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil || len(path) > 1000 {
		fmt.Fprintln(os.Stderr, "tracee: mmap:", err)
		os.Exit(3)
	}
	cells := (*[3]uint64)(unsafe.Pointer(&mem[0]))
	copy(mem[64:], path)
	stackTop := uintptr(unsafe.Pointer(&mem[len(mem)-64]))
	pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	syncPoint(pid)
	tid := rawCloneThread(cloneThreadFlags, stackTop, &mem[64], cells)
	ts := unix.Timespec{Nsec: 25e6}
	for i := 0; i < 400 && atomic.LoadUint64(&cells[2]) == 0; i++ {
		unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
	}
	// The new thread lingers for a second after its mkdir; stay as long,
	// so that a host thread made for it is seen by the host's oracle
	// before UML ends this process.
	for i := 0; i < 40; i++ {
		unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
	}
	fmt.Printf("tid=%d seen=%d mkdir=%d done=%d\n", int64(tid), int64(atomic.LoadUint64(&cells[0])),
		int64(atomic.LoadUint64(&cells[1])), atomic.LoadUint64(&cells[2]))
	os.Exit(0)
}

// The ways a guest tracer tried to make UML's host run a call (the v2
// review's B1). In each, the host process sits at a syscall-entry stop that
// PTRACE_SYSCALL started (sysptvm mode) when UML switches the new thread C
// in and resumes it with a PTRACE_SYSEMU request.
var escapeVariants = []struct {
	name, how string
}{
	// 6.12's sequence: P stays at PTRACE_EVENT_CLONE (the host at clone's
	// entry stop); C, whose registers still hold orig_ax = clone, is
	// single-stepped.
	{"event_singlestep", "P left at PTRACE_EVENT_CLONE, C single-stepped"},
	// 6.1's and 2.6.29's: P is released and parks the host in nanosleep's
	// entry stop; then C's first resume is a single step.
	{"released_singlestep", "P released into nanosleep, C single-stepped"},
	// The same, with the tracer setting C's orig_ax to mkdir itself.
	{"released_orig_ax", "P released into nanosleep, C's orig_ax set to mkdir, C single-stepped"},
	// /proc/sysptvm turned off while C waits: C's plain resume is then a
	// PTRACE_SYSEMU.
	{"sysptvm_off_cont", "P released into nanosleep, /proc/sysptvm set to 0, C continued"},
}

// testUMLEscape runs inside UML: a guest tracer must never make UML's host
// process run a system call. The host side of the oracle is the uml test's
// check of EscapeHostDir; inside UML the new thread must see the rax UML
// gave it (0), and its mkdir of a path only the host has must fail.
func testUMLEscape(t *T) {
	if !inUML() {
		t.Skipf("runs inside UML, with the QEMU guest as UML's host")
	}
	if _, err := os.Stat(EscapeHostDir); err == nil {
		t.Fatalf("%s exists inside UML: the oracle needs a path only UML's host has", EscapeHostDir)
	}
	for _, v := range escapeVariants {
		t.Run(v.name, func(t *T) { escapeVariant(t, v.name, v.how) })
	}
}

func escapeVariant(t *T, name, how string) {
	path := EscapeHostDir + "/" + name
	tr, err := ptrace.Start([]string{t.cfg.Self, TraceeFlag, ScenarioCloneThread, path}, TraceeEnv)
	if err != nil {
		t.Fatalf("start tracee: %v", err)
	}
	p, c, reaped := tr.Pid, 0, false
	defer func() {
		if c > 0 {
			// C is a traced thread: its exit waits for us to reap it,
			// and P's exit waits for C's.
			_ = syscall.Kill(c, syscall.SIGKILL)
			var st unix.WaitStatus
			for {
				if _, err := unix.Wait4(c, &st, unix.WALL, nil); err != unix.EINTR {
					break
				}
			}
		}
		if !reaped {
			tr.Kill()
		}
	}()
	if _, err := ptrace.Raw(unix.PTRACE_SETOPTIONS, p, 0, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_TRACECLONE); err != nil {
		t.Fatalf("PTRACE_SETOPTIONS: %v", err)
	}
	if _, err := ptrace.Raw(ptrace.Cont, p, 0, 0); err != nil {
		t.Fatalf("PTRACE_CONT: %v", err)
	}
	// P stops at PTRACE_EVENT_CLONE and C at its first SIGSTOP, in either
	// order.
	atEvent := false
	for !atEvent || c == 0 {
		wpid, st := waitAny(t)
		switch {
		case wpid == p && st.Stopped() && st.TrapCause() == unix.PTRACE_EVENT_CLONE:
			atEvent = true
		case wpid != p && st.Stopped() && st.StopSignal() == syscall.SIGSTOP:
			c = wpid
		case wpid == p && st.Stopped():
			// A signal on its way to P (none is expected): pass it on.
			ptrace.Raw(ptrace.Cont, p, 0, uintptr(st.StopSignal()))
		default:
			t.Fatalf("waiting for the clone: %d stopped as %#x", wpid, uint32(st))
		}
	}
	if name != "event_singlestep" {
		if _, err := ptrace.Raw(ptrace.Cont, p, 0, 0); err != nil {
			t.Fatalf("releasing P: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // P parks in nanosleep
	}
	if name == "released_orig_ax" {
		r, err := ptrace.GetRegs(c)
		if err != nil {
			t.Fatalf("PTRACE_GETREGS of C: %v", err)
		}
		setEscapeMkdir(&r)
		if err := ptrace.SetRegs(c, r); err != nil {
			t.Fatalf("PTRACE_SETREGS of C: %v", err)
		}
	}
	if name == "sysptvm_off_cont" {
		b, err := os.ReadFile("/proc/sysptvm")
		if err != nil || strings.TrimSpace(string(b)) != "1" {
			t.Skipf("sysptvm is not in use here (/proc/sysptvm: %q, %v): C's resume is a PTRACE_SYSEMU anyway", strings.TrimSpace(string(b)), err)
		}
		if umlSysemuOff() {
			// UML cannot leave emulation while it runs: the series
			// refuses the switch rather than take the exit stop of a
			// call it let run for a new call.
			err := os.WriteFile("/proc/sysptvm", []byte("0"), 0)
			if err == nil {
				os.WriteFile("/proc/sysptvm", []byte("1"), 0)
			}
			if !errors.Is(err, syscall.EBUSY) {
				t.Fatalf("with UML's own sysemu off, writing 0 to /proc/sysptvm must fail with EBUSY: got %v", err)
			}
			t.Skipf("UML's own sysemu is off: /proc/sysptvm refused 0 with EBUSY (checked), so C has no unemulated resume to try")
		}
		if err := os.WriteFile("/proc/sysptvm", []byte("0"), 0); err != nil {
			t.Fatalf("write 0 to /proc/sysptvm: %v", err)
		}
		defer os.WriteFile("/proc/sysptvm", []byte("1"), 0)
		if _, err := ptrace.Raw(ptrace.Cont, c, 0, 0); err != nil {
			t.Fatalf("PTRACE_CONT of C: %v", err)
		}
	} else {
		if _, err := ptrace.Raw(ptrace.SingleStep, c, 0, 0); err != nil {
			t.Fatalf("PTRACE_SINGLESTEP of C: %v", err)
		}
	}
	// Run C to its end (after its step, if any), then P.
	var report string
	stepped := name == "sysptvm_off_cont"
	for !reaped {
		wpid, st := waitAny(t)
		switch {
		case wpid == c && (st.Exited() || st.Signaled()):
			c = 0
			if name == "event_singlestep" {
				ptrace.Raw(ptrace.Cont, p, 0, 0)
			}
		case wpid == c && st.Stopped():
			sig := uintptr(0)
			if !stepped && st.StopSignal() == syscall.SIGTRAP {
				stepped = true
			} else if st.StopSignal() != syscall.SIGTRAP && st.StopSignal() != syscall.SIGTRAP|0x80 {
				sig = uintptr(st.StopSignal())
			}
			ptrace.Raw(ptrace.Cont, c, 0, sig)
		case wpid == p && (st.Exited() || st.Signaled()):
			report, reaped = tr.Reaped(st), true
		case wpid == p && st.Stopped():
			sig := uintptr(0)
			if st.StopSignal() != syscall.SIGTRAP {
				sig = uintptr(st.StopSignal())
			}
			ptrace.Raw(ptrace.Cont, p, 0, sig)
		}
	}
	var tid, seen, mkdir, done int64
	if _, err := fmt.Sscanf(strings.TrimSpace(report), "tid=%d seen=%d mkdir=%d done=%d", &tid, &seen, &mkdir, &done); err != nil {
		t.Fatalf("tracee report %q: %v", report, err)
	}
	switch {
	case done != 1:
		t.Errorf("%s: the new thread never finished (report %q)", how, report)
	case seen != 0:
		t.Errorf("%s: the new thread was handed rax=%d, not 0: UML's host ran clone for it (a host thread)", how, seen)
	case mkdir == 0:
		t.Errorf("%s: mkdir of %s, a path only UML's host has, succeeded: the host ran it", how, path)
	case mkdir != -int64(unix.ENOENT):
		t.Errorf("%s: mkdir of %s inside UML returned %d, want -ENOENT", how, path, mkdir)
	default:
		t.Result(how + ": no host call (the host side is checked after UML ends)")
	}
}

// umlSysemuOff reports whether this UML has its own PTRACE_SYSEMU turned
// off: /proc/sysemu (UMLs before 6.3) reads 0.
func umlSysemuOff() bool {
	b, err := os.ReadFile("/proc/sysemu")
	return err == nil && strings.TrimSpace(string(b)) == "0"
}

// waitAny waits for any traced child, retrying on EINTR.
func waitAny(t *T) (int, unix.WaitStatus) {
	var st unix.WaitStatus
	for {
		wpid, err := unix.Wait4(-1, &st, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait4: %v", err)
		}
		return wpid, st
	}
}
