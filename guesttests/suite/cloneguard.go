//go:build amd64 || 386

package suite

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The deterministic half of uml_escape's host-side thread oracle. UML is
// started through this binary with CloneGuardFlag: it installs a seccomp
// filter that sends every clone(CLONE_THREAD) of UML and its host
// processes to a supervisor (SECCOMP_RET_USER_NOTIF, Linux 5.0; the
// supervisor lets each one go on with SECCOMP_USER_NOTIF_FLAG_CONTINUE,
// 5.5), then execs UML. UML never makes a thread that way (its helpers are
// clone(CLONE_VM) processes, its UML processes host processes of their
// own), so a notification is a host thread made for a UML process: the
// escape. The filter changes nothing else: every call is let through.

// CloneGuardFlag, as argv[1], makes this binary install the clone guard,
// tell the parent where its listener is over file descriptor 3, wait for
// the parent's word on file descriptor 4, and exec argv[2:].
const CloneGuardFlag = "-clone-guard"

const cloneThread = 0x00010000 // CLONE_THREAD

// cloneNr is the native clone system call (56 on x86_64, 120 on i386).
var cloneNr = map[string]uint32{"amd64": 56, "386": 120}[goarch]

// RunCloneGuard is CloneGuardFlag's mode: it never returns. When the
// kernel cannot notify (no seccomp filters: 2.6.29), it says why over fd 3
// and execs UML unguarded.
//
// The listener reaches the parent through pidfd_getfd (Linux 5.6), not
// SCM_RIGHTS: the guest kernels have no AF_UNIX. The parent takes it
// while this process waits, before the exec closes it (it is
// close-on-exec).
func RunCloneGuard(args []string) {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "clone guard: no command")
		os.Exit(2)
	}
	// The filter is the calling thread's; exec from that thread.
	runtime.LockOSThread()
	report, ack := os.NewFile(3, "clone-guard-report"), os.NewFile(4, "clone-guard-ack")
	if fd, err := installCloneGuard(); err != nil {
		fmt.Fprintf(report, "none %s\n", err)
	} else {
		fmt.Fprintf(report, "fd %d %d\n", os.Getpid(), fd)
		var b [1]byte
		ack.Read(b[:]) // the parent has the listener (or gave up)
	}
	report.Close()
	ack.Close()
	err := syscall.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "clone guard: exec:", err)
	os.Exit(127)
}

// installCloneGuard installs the filter on this thread and returns its
// notification listener.
func installCloneGuard() (int, error) {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		retK  = unix.BPF_RET | unix.BPF_K
	)
	// seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low word on
	// little-endian x86).
	prog := []unix.SockFilter{
		{Code: ldAbs, K: 4},
		{Code: jeqK, Jt: 0, Jf: 4, K: NativeABI.AuditArch},
		{Code: ldAbs, K: 0},
		{Code: jeqK, Jt: 0, Jf: 2, K: cloneNr},
		{Code: ldAbs, K: 16},
		{Code: jset, Jt: 1, Jf: 0, K: cloneThread},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
		{Code: retK, K: unix.SECCOMP_RET_USER_NOTIF},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return -1, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", e)
	}
	fd, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %w", e)
	}
	return int(fd), nil
}

// seccompNotif and seccompNotifResp are the kernel's struct seccomp_notif
// and seccomp_notif_resp (linux/seccomp.h), which x/sys/unix does not
// define; both have the same layout on amd64 and 386.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// cloneGuard is the supervisor's side.
type cloneGuard struct {
	report, ack *os.File // our ends: the guarded command's fd 3 and fd 4
	files       []*os.File

	mu      sync.Mutex
	why     string   // why there is no guard ("" while it runs)
	threads []string // the clones it was told of
	stop    chan struct{}
	done    chan struct{}
}

// newCloneGuard makes the pipes; Files go into the command's ExtraFiles,
// in that order (fd 3 and fd 4).
func newCloneGuard() (*cloneGuard, error) {
	rr, rw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("clone guard: %w", err)
	}
	ar, aw, err := os.Pipe()
	if err != nil {
		rr.Close()
		rw.Close()
		return nil, fmt.Errorf("clone guard: %w", err)
	}
	return &cloneGuard{report: rr, ack: aw, files: []*os.File{rw, ar}, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Files are the guarded command's ExtraFiles.
func (g *cloneGuard) Files() []*os.File { return g.files }

// serve takes the listener (after the command started) and answers every
// notification until Stop.
func (g *cloneGuard) serve() {
	defer close(g.done)
	line, err := bufio.NewReader(g.report).ReadString('\n')
	g.report.Close()
	if err != nil {
		g.ack.Close()
		g.setWhy(fmt.Sprintf("the guarded command said nothing (%v)", err))
		return
	}
	var pid, target int
	if _, err := fmt.Sscanf(line, "fd %d %d", &pid, &target); err != nil {
		g.ack.Close()
		g.setWhy(strings.TrimSpace(strings.TrimPrefix(line, "none ")))
		return
	}
	fd, err := takeFD(pid, target)
	g.ack.Write([]byte{1})
	g.ack.Close()
	if err != nil {
		g.setWhy(err.Error())
		return
	}
	defer unix.Close(fd)
	for {
		select {
		case <-g.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			g.setWhy("poll: " + err.Error())
			return
		} else if n == 0 || pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
				return // every guarded process has exited
			}
			continue
		}
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			continue // the caller went away (ENOENT), or a signal
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", req.Pid))
		g.mu.Lock()
		g.threads = append(g.threads, fmt.Sprintf("host process %d (%s) called clone(flags=%#x)", req.Pid, strings.TrimSpace(string(comm)), uint32(req.Args[0])))
		g.mu.Unlock()
		resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// takeFD copies file descriptor target of process pid into this one.
func takeFD(pid, target int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("clone guard: pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, target, 0)
	if err != nil {
		return -1, fmt.Errorf("clone guard: pidfd_getfd(%d, %d): %w", pid, target, err)
	}
	return fd, nil
}

func (g *cloneGuard) setWhy(s string) {
	g.mu.Lock()
	g.why = s
	g.mu.Unlock()
}

// Stop ends the supervisor and returns the clones it was told of, and why
// there was no guard ("" when there was one). The command has ended.
func (g *cloneGuard) Stop() (threads []string, why string) {
	close(g.stop)
	for _, f := range g.files {
		f.Close() // our copies: a command that never wrote ends serve's read
	}
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.threads, g.why
}
