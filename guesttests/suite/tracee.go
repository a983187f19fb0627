package suite

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TraceeFlag, as argv[1], runs this binary as a tracee instead of the suite;
// argv[2] names the scenario and argv[3] is its argument.
const TraceeFlag = "-tracee"

// TraceeEnv quiets the Go runtime in the tracee: no GC and no asynchronous
// preemption signals, so that the main thread makes only the syscalls the
// scenario makes between its sync point and its report.
var TraceeEnv = []string{"GOGC=off", "GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1"}

// ABI is a tracee's syscall numbering: the tracer reads orig_ax, and an ia32
// tracee under a 64-bit tracer uses i386 numbers.
type ABI struct {
	Name      string
	AuditArch uint32
	A, B, C   int // getpid, dup (or mkdir), getppid
	Mkdir     int
	ExitGroup int
}

// The two x86 ABIs.
var (
	ABIAmd64 = ABI{Name: "amd64", AuditArch: unix.AUDIT_ARCH_X86_64, A: 39, B: 32, C: 110, Mkdir: 83, ExitGroup: 231}
	ABI386   = ABI{Name: "386", AuditArch: unix.AUDIT_ARCH_I386, A: 20, B: 41, C: 64, Mkdir: 39, ExitGroup: 252}
)

// NativeABI is the ABI of this binary.
var NativeABI = map[string]ABI{"amd64": ABIAmd64, "386": ABI386}[goarch]

// Scenarios. Every one raises SIGSTOP (the sync point the tracer waits for),
// then makes A, B and C with raw syscall instructions (no runtime hooks in
// between), prints what each returned and which signals are pending, and
// exits 0.
const (
	// ScenarioBasic: B is dup(2), a side effect the report shows.
	ScenarioBasic = "basic"
	// ScenarioBlocked: as basic, with SIGUSR1 and SIGUSR2 blocked before
	// the sync point, so signals the tracer injects stay pending.
	ScenarioBlocked = "blocked"
	// ScenarioMkdir: B is mkdir(argv[3]), a side effect that outlives the
	// tracee.
	ScenarioMkdir = "mkdir"
	// ScenarioSeccomp: as basic, under a seccomp filter installed before the
	// sync point: argv[3] "kill" kills the process at B, "trace" returns
	// SECCOMP_RET_TRACE for C.
	ScenarioSeccomp = "seccomp"
)

// RunTracee is the tracee's main. The caller must have locked the main
// goroutine to the main thread in an init function: only that thread is
// traced.
func RunTracee(args []string) {
	scenario, arg := ScenarioBasic, ""
	if len(args) > 0 {
		scenario = args[0]
	}
	if len(args) > 1 {
		arg = args[1]
	}
	var path *byte
	switch scenario {
	case ScenarioBasic:
	case ScenarioBlocked:
		set := uint64(1<<(unix.SIGUSR1-1) | 1<<(unix.SIGUSR2-1))
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "tracee: sigprocmask:", e)
			os.Exit(3)
		}
	case ScenarioMkdir:
		p, err := unix.BytePtrFromString(arg)
		if err != nil {
			os.Exit(3)
		}
		path = p
	case ScenarioSeccomp:
		if err := installFilter(arg); err != nil {
			fmt.Fprintln(os.Stderr, "tracee: seccomp:", err)
			os.Exit(3)
		}
	case ScenarioCloneThread:
		runCloneThread(arg)
	case ScenarioLoop:
		n, err := strconv.Atoi(arg)
		if err != nil {
			os.Exit(3)
		}
		pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		syncPoint(pid)
		runLoop(n)
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "tracee: unknown scenario", scenario)
		os.Exit(3)
	}
	nrB, argB := uintptr(NativeABI.B), uintptr(2)
	if path != nil {
		nrB, argB = uintptr(NativeABI.Mkdir), uintptr(unsafe.Pointer(path))
	}
	pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	syncPoint(pid)
	a, _, ae := unix.RawSyscall(uintptr(NativeABI.A), 0, 0, 0)
	b, _, be := unix.RawSyscall6(nrB, argB, 0o755, 0, 0, 0, 0)
	c, _, ce := unix.RawSyscall(uintptr(NativeABI.C), 0, 0, 0)
	var pending uint64
	unix.RawSyscall(unix.SYS_RT_SIGPENDING, uintptr(unsafe.Pointer(&pending)), 8, 0)
	fmt.Printf("a=%d/%d b=%d/%d c=%d/%d pid=%d pending=%#x\n", int32(a), int(ae), int32(b), int(be), int32(c), int(ce), pid, pending)
	os.Exit(0)
}

// syncPoint stops the tracee for its tracer. The SIGSTOP is directed at the
// main (traced) thread: a process-directed one can be taken by another Go
// runtime thread, which is not traced and stops the whole group itself,
// leaving the runtime's other threads stopped while the tracer runs the main
// one (a hang, seen once in a hundred runs). Taken by the main thread, the
// signal stops it for the tracer, which discards it.
func syncPoint(pid uintptr) {
	unix.RawSyscall(unix.SYS_TGKILL, pid, pid, uintptr(syscall.SIGSTOP))
}

// installFilter installs the seccomp filter of ScenarioSeccomp on this
// thread (the traced one).
func installFilter(mode string) error {
	const (
		ldAbs  = 0x20 // BPF_LD | BPF_W | BPF_ABS
		jeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
		retK   = 0x06 // BPF_RET | BPF_K
		offNr  = 0    // seccomp_data.nr
		offArc = 4    // seccomp_data.arch
	)
	nr, action := NativeABI.B, uint32(unix.SECCOMP_RET_KILL_PROCESS)
	if mode == "trace" {
		nr, action = NativeABI.C, unix.SECCOMP_RET_TRACE
	} else if mode != "kill" {
		return fmt.Errorf("unknown filter %q", mode)
	}
	prog := []unix.SockFilter{
		{Code: ldAbs, K: offArc},
		{Code: jeqK, Jt: 1, Jf: 0, K: NativeABI.AuditArch},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
		{Code: ldAbs, K: offNr},
		{Code: jeqK, Jt: 0, Jf: 1, K: uint32(nr)},
		{Code: retK, K: action},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("SECCOMP_SET_MODE_FILTER: %w", e)
	}
	return nil
}

// TraceeReport is what the tracee printed: each call's result and errno,
// its pid and its pending signal mask.
type TraceeReport struct {
	A, AErr, B, BErr, C, CErr, Pid int
	Pending                        uint64
}

// Has reports whether sig is pending in the tracee.
func (r TraceeReport) Has(sig syscall.Signal) bool { return r.Pending&(1<<(uint(sig)-1)) != 0 }

func parseReport(s string) (TraceeReport, error) {
	var r TraceeReport
	_, err := fmt.Sscanf(strings.TrimSpace(s), "a=%d/%d b=%d/%d c=%d/%d pid=%d pending=%v", &r.A, &r.AErr, &r.B, &r.BErr, &r.C, &r.CErr, &r.Pid, &r.Pending)
	if err != nil {
		return r, fmt.Errorf("tracee report %q: %w", s, err)
	}
	return r, nil
}
