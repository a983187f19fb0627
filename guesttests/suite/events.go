package suite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// Event stops, syscall info and mixed stops: how the tags meet the stops
// that are not a syscall-entry stop. Each test pins the patched kernel and,
// on an unpatched one (the negative control), the tags ignored.

// eventNrs are the calls the event tests make a tracee run, for its ABI.
// The tracer rewrites the tracee's A into them at A's entry stop, so the
// tracee binary needs no scenario of its own: 32- and 64-bit tracees and
// 2.6.29 run them unchanged.
type eventNrs struct{ Fork, Vfork, Clone, Execve, Exit, Gettid int }

var eventABI = map[string]eventNrs{
	"amd64": {Fork: 57, Vfork: 58, Clone: 56, Execve: 59, Exit: 60, Gettid: 186},
	"386":   {Fork: 2, Vfork: 190, Clone: 120, Execve: 11, Exit: 1, Gettid: 224},
}

// eventKind is a call that stops its caller at PTRACE_EVENT stops between
// its entry and its exit.
type eventKind struct {
	name   string
	opts   int   // the PTRACE_O_* that ask for its event stops
	events []int // the PTRACE_EVENT_* stops the caller makes, in order
	child  bool  // the call makes a task the tracer is attached to
	// parentWaits: the parent waits for its child inside the call
	// (vfork), so the child runs while the parent sits at its first event
	// stop; other children run once the parent has left its last event
	// stop with the variant's tags and stopped again.
	parentWaits bool
	nr          func(eventNrs) int
	// prepare makes A's entry stop the entry of this call.
	prepare func(t *T, tr *ptrace.Tracee, nrs eventNrs)
}

// eventThreadFlags make a thread as pthread_create does (less the TLS and
// tid handling the new thread never reaches).
const eventThreadFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

var eventKinds = []eventKind{
	{name: "fork", opts: unix.PTRACE_O_TRACEFORK, events: []int{unix.PTRACE_EVENT_FORK}, child: true,
		nr: func(n eventNrs) int { return n.Fork }},
	{name: "vfork", opts: unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEVFORKDONE,
		events: []int{unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_VFORK_DONE}, child: true, parentWaits: true,
		nr: func(n eventNrs) int { return n.Vfork }},
	{name: "clone", opts: unix.PTRACE_O_TRACECLONE, events: []int{unix.PTRACE_EVENT_CLONE}, child: true,
		nr: func(n eventNrs) int { return n.Clone },
		prepare: func(t *T, tr *ptrace.Tracee, n eventNrs) {
			setCall(t, tr, n.Clone, eventThreadFlags, 0, 0, 0, 0)
		}},
	{name: "exec", opts: unix.PTRACE_O_TRACEEXEC, events: []int{unix.PTRACE_EVENT_EXEC},
		nr: func(n eventNrs) int { return n.Execve }, prepare: prepareExec},
}

// eventVariant is how a test ends the entry stop and each event stop of
// the call.
type eventVariant struct {
	name    string
	atEntry uintptr
	// atEvents are the tags given at each event stop, in order; the last
	// one stands for the rest.
	atEvents []uintptr
}

func (v eventVariant) at(i int) uintptr { return v.atEvents[min(i, len(v.atEvents)-1)] }

var eventVariants = []eventVariant{
	// The series' rule: the tags last until the next stop, so the plain
	// resume of the event stop replaces SKIPEXIT and the exit stop comes.
	{name: "event_plain", atEntry: ptrace.TagSkipExit, atEvents: []uintptr{0}},
	// Tags given at an event stop act on the exit of the call it is in.
	{name: "event_skipexit", atEntry: ptrace.TagSkipExit, atEvents: []uintptr{ptrace.TagSkipExit}},
	// SKIPCALL at an event stop cannot undo the call, which has run; it
	// drops the exit stop as SKIPEXIT does.
	{name: "event_skipcall", atEntry: ptrace.TagSkipExit, atEvents: []uintptr{ptrace.TagSkipCall}},
	// SKIPCALL at the entry: the call never runs, so no event stop.
	{name: "entry_skipcall", atEntry: ptrace.TagSkipCall, atEvents: []uintptr{0}},
}

// lastEventWins: vfork's second event stop replaces the tags of its first.
var lastEventWins = eventVariant{name: "last_event_wins", atEntry: ptrace.TagSkipExit,
	atEvents: []uintptr{ptrace.TagSkipExit, 0}}

// testEventStops: fork, vfork, clone (a thread) and execve with their
// PTRACE_EVENT stops, whose tags decide the exit stop of the call they
// are in; and the tasks a fork makes, which start untagged.
func testEventStops(t *T) {
	if inUML() && !tracerSetsNr(t) {
		t.Skipf("this UML (%s) runs the call its host trapped, not the one a tracer stores in orig_ax at an entry stop "+
			"(its putreg() leaves UPT_SYSCALL_NR alone): the event tests make their calls that way", kernelRelease())
	}
	for _, k := range eventKinds {
		t.Run(k.name, func(t *T) {
			vs := eventVariants
			if k.name == "vfork" {
				vs = append(vs[:len(vs):len(vs)], lastEventWins)
			}
			for _, v := range vs {
				t.Run(v.name, func(t *T) { eventStops(t, k, v) })
			}
		})
	}
}

// eventStops runs one call of kind k made at A's entry stop, ended as v
// says. A child of the call is run to its end after the parent's tagged
// resumes (see parentWaits): its first system call must get its entry and
// its exit stop under plain PTRACE_SYSCALL, whatever tags the parent's
// call carried.
func eventStops(t *T, k eventKind, v eventVariant) {
	abi := t.cfg.abi()
	nrs := eventABI[abi.Name]
	nr := k.nr(nrs)
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	var child *ptrace.Tracee
	defer func() {
		if child != nil {
			child.Kill() // a thread's whole process; reaped before the parent
		}
	}()
	setTraceOptions(t, tr, unix.PTRACE_O_TRACESYSGOOD|k.opts)
	if k.prepare != nil {
		k.prepare(t, tr, nrs)
	} else {
		setCall(t, tr, nr)
	}
	s := resume(t, tr, ptrace.Syscall, v.atEntry, 0)
	if t.patched() && v.atEntry == ptrace.TagSkipCall {
		// Nothing ran: no event stop, no child, no exec.
		if s.Event > 0 && k.child {
			// The call ran after all. Its child is ours to reap (a
			// traced thread keeps its killed process from being reaped).
			if msg, err := tr.EventMsg(); err == nil {
				child = ptrace.Adopt(int(msg))
			}
			t.Fatalf("SKIPCALL at %s's entry: the call ran (%v)", k.name, s)
		}
		expect(t, tr, s, entry, abi.B)
		setTraceOptions(t, tr, unix.PTRACE_O_TRACESYSGOOD)
		if r := finish(t, tr); r.AErr != int(syscall.ENOSYS) {
			t.Errorf("%s skipped at its entry must return -ENOSYS: returned %d errno %d", k.name, r.A, r.AErr)
		}
		t.Result("no event stop: the call did not run")
		return
	}
	var childPid int
	for i, ev := range k.events {
		if s.Exited || s.Syscall || s.Event != ev {
			tr.Kill()
			t.Fatalf("after %s's entry: want PTRACE_EVENT %d, got %v", k.name, ev, s)
		}
		msg, err := tr.EventMsg()
		if err != nil {
			t.Fatalf("%v", err)
		}
		switch {
		case k.name == "exec" && kernelOlder(3, 0):
			// The former thread id came with 3.0; before, the message is
			// whatever the last event left.
			t.Logf("kernel %s: PTRACE_EVENT_EXEC's message %d is not checked (the former thread id came in 3.0)", kernelRelease(), msg)
		case k.name == "exec" && int(msg) != tr.Pid:
			t.Errorf("PTRACE_EVENT_EXEC: the former thread id is %d, want %d", msg, tr.Pid)
		case k.child && i == 0:
			childPid = int(msg)
			child = ptrace.Adopt(childPid)
			if k.parentWaits {
				childFirstCall(t, child, nrs)
			}
		case k.child && int(msg) != childPid:
			t.Errorf("PTRACE_EVENT %d names task %d, want %d", ev, msg, childPid)
		}
		s = resume(t, tr, ptrace.Syscall, v.at(i), 0)
	}
	if k.child && !k.parentWaits {
		childFirstCall(t, child, nrs)
	}
	s = pastSIGCHLD(t, tr, s)
	last := v.at(len(k.events) - 1)
	wantExit := !t.patched() || last&ptrace.TagSkipCall == 0
	if wantExit {
		if k.name == "exec" && inUML() {
			// UML's exec loads the registers it took at start-up from a
			// host process stopped by its own kill() (flush_thread(),
			// get_safe_registers()): orig_ax reads as the host's kill,
			// patched or not.
			if s.Exited || !s.Syscall || s.Entry {
				tr.Kill()
				t.Fatalf("want execve's exit stop, got %v", s)
			}
			t.Logf("UML: execve's exit stop reads syscall %d in orig_ax (UML's start-up registers)", s.Nr)
		} else {
			expect(t, tr, s, exit, nr)
		}
		want := int64(childPid) // 0 for exec
		if s.Ret != want {
			t.Errorf("%s's exit stop: result %d, want %d", k.name, s.Ret, want)
		}
		s = pastSIGCHLD(t, tr, resume(t, tr, ptrace.Syscall, 0, 0))
	}
	outcome := fmt.Sprintf("%#x at the last event stop: ", last)
	if wantExit {
		outcome += k.name + "'s exit stop came"
	} else {
		outcome += "no exit stop of " + k.name
	}
	setTraceOptions(t, tr, unix.PTRACE_O_TRACESYSGOOD)
	if k.name == "exec" {
		// The new image's first call, not execve's exit stop.
		if !s.Syscall || !s.Entry || s.Nr == nr {
			tr.Kill()
			t.Fatalf("after execve: want the entry stop of the new image's first call, got %v", s)
		}
		runToSyncPoint(t, tr)
		if r := finish(t, tr); r.Pid != tr.Pid || r.A != r.Pid || r.BErr != 0 || r.B < 3 {
			t.Errorf("the exec'd tracee must run its scenario as pid %d: %+v", tr.Pid, r)
		}
		t.Result(outcome)
		return
	}
	expect(t, tr, s, entry, abi.B)
	if r := finish(t, tr); r.AErr != 0 || r.A != childPid || r.BErr != 0 || r.B < 3 {
		t.Errorf("%s must run once (returning %d to the parent) and B after it: %+v", k.name, childPid, r)
	}
	t.Result(outcome)
}

// tracerSetsNr reports whether a syscall number the tracer stores at an
// entry stop is the call that runs: A (getpid) made getppid must return
// the parent's pid.
func tracerSetsNr(t *T) bool {
	abi := t.cfg.abi()
	tr := startAtA(t, ScenarioBasic)
	defer tr.Kill()
	setCall(t, tr, abi.C)
	s := resume(t, tr, ptrace.Syscall, 0, 0)
	if s.Exited || !s.Syscall || s.Entry {
		tr.Kill()
		t.Fatalf("want the exit stop of A made getppid, got %v", s)
	}
	r := finish(t, tr)
	return r.A == os.Getpid() && r.A != r.Pid
}

// childFirstCall runs the task a fork made from its first stop (its
// SIGSTOP) to its end. The task runs no code of its own: at that stop it is
// just past the fork's system call instruction, and the tracer moves it
// back onto that instruction with gettid in ax, and then with exit, so a
// vfork child or a thread never writes the parent's stack.
func childFirstCall(t *T, c *ptrace.Tracee, nrs eventNrs) {
	s, err := c.Wait()
	if err != nil {
		t.Fatalf("waiting for the new task %d: %v", c.Pid, err)
	}
	if s.Exited || s.Syscall || s.Signal != syscall.SIGSTOP {
		t.Fatalf("the new task %d: want its first stop, a SIGSTOP, got %v", c.Pid, s)
	}
	rerun(t, c, nrs.Gettid)
	expect(t, c, resume(t, c, ptrace.Syscall, 0, 0), entry, nrs.Gettid)
	s = resume(t, c, ptrace.Syscall, 0, 0)
	expect(t, c, s, exit, nrs.Gettid)
	if s.Ret != int64(c.Pid) {
		t.Errorf("the new task's gettid returned %d, want %d", s.Ret, c.Pid)
	}
	rerun(t, c, nrs.Exit, 0)
	expect(t, c, resume(t, c, ptrace.Syscall, 0, 0), entry, nrs.Exit)
	if s = resume(t, c, ptrace.Syscall, 0, 0); !s.Exited || !s.Status.Exited() || s.Status.ExitStatus() != 0 {
		t.Fatalf("the new task must exit 0, got %v", s)
	}
}

// setTraceOptions sets opts with PTRACE_O_EXITKILL where the kernel has it
// (3.8+), without it where it does not.
func setTraceOptions(t *T, tr *ptrace.Tracee, opts int) {
	if err := tr.SetOptions(opts | unix.PTRACE_O_EXITKILL); err == nil {
		return
	}
	if err := tr.SetOptions(opts); err != nil {
		tr.Kill()
		t.Fatalf("PTRACE_SETOPTIONS %#x: %v", opts, err)
	}
}

// setCall makes the entry stop tr is at the entry of call nr with args.
func setCall(t *T, tr *ptrace.Tracee, nr int, args ...uint64) {
	regs, err := ptrace.GetRegs(tr.Pid)
	if err != nil {
		t.Fatalf("PTRACE_GETREGS: %v", err)
	}
	regs.SetNr(nr)
	regs.SetArgs(t.cfg.abi().Name == "386", args...)
	if err := ptrace.SetRegs(tr.Pid, regs); err != nil {
		t.Fatalf("PTRACE_SETREGS: %v", err)
	}
}

// rerun moves a task stopped just past a system call instruction (at the
// exit stop of a call, or the first stop of a new task) back onto it, with
// nr in ax and args in place, so that it makes call nr next. orig_ax -1
// keeps the kernel's restart logic off the old call.
func rerun(t *T, c *ptrace.Tracee, nr int, args ...uint64) {
	regs, err := ptrace.GetRegs(c.Pid)
	if err != nil {
		t.Fatalf("PTRACE_GETREGS of %d: %v", c.Pid, err)
	}
	pc := regs.PC() - 2
	if !atSyscallInsn(t, c.Pid, pc) {
		t.Fatalf("task %d: no system call instruction before %#x", c.Pid, regs.PC())
	}
	regs.SetPC(pc)
	regs.SetNr(-1)
	regs.SetRet(int64(nr))
	regs.SetArgs(t.cfg.abi().Name == "386", args...)
	if err := ptrace.SetRegs(c.Pid, regs); err != nil {
		t.Fatalf("PTRACE_SETREGS of %d: %v", c.Pid, err)
	}
}

// atSyscallInsn reports whether pid's instruction at pc is syscall (0f 05)
// or int $0x80 (cd 80), the two Go's x86 runtimes use.
func atSyscallInsn(t *T, pid int, pc uintptr) bool {
	insn := make([]byte, 2)
	if _, err := unix.PtracePeekText(pid, pc, insn); err != nil {
		t.Fatalf("PTRACE_PEEKTEXT at %#x: %v", pc, err)
	}
	return (insn[0] == 0x0f && insn[1] == 0x05) || (insn[0] == 0xcd && insn[1] == 0x80)
}

// pastSIGCHLD resumes the parent of a child the tracer reaped past its
// SIGCHLD's delivery stops. The tracer's wait4 sends the real parent its
// SIGCHLD, usually taken by an untraced runtime thread; when the traced
// thread takes it, the stop comes where a signal can: after the exit stop
// of the call, or in place of the next entry stop. Passing it leaves the
// stops of system calls as they were.
func pastSIGCHLD(t *T, tr *ptrace.Tracee, s ptrace.Stop) ptrace.Stop {
	for !s.Exited && !s.Syscall && s.Signal == syscall.SIGCHLD {
		s = resume(t, tr, ptrace.Syscall, 0, 0)
	}
	return s
}

// runToSyncPoint continues a tracee that exec'd this binary to the new
// image's SIGSTOP sync point, passing any other signal on.
func runToSyncPoint(t *T, tr *ptrace.Tracee) {
	sig := syscall.Signal(0)
	for {
		s := resume(t, tr, ptrace.Cont, 0, sig)
		switch {
		case s.Exited:
			t.Fatalf("the exec'd tracee ended before its sync point: %v", s)
		case !s.Syscall && s.Signal == syscall.SIGSTOP:
			return
		case s.Syscall || s.Signal == syscall.SIGTRAP:
			sig = 0
		default:
			sig = s.Signal
		}
	}
}

// prepareExec makes A's entry stop the entry of execve(argv[0], argv,
// envp) of this binary as the same tracee, argv and envp written to the
// bottom of the tracee's process stack: Go's runtime keeps its stacks
// elsewhere and the stack of the main OS thread uses the top, and the exec
// replaces the memory anyway.
func prepareExec(t *T, tr *ptrace.Tracee, nrs eventNrs) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", tr.Pid))
	if err != nil {
		t.Fatalf("%v", err)
	}
	base, err := stackStart(string(maps))
	if err != nil {
		t.Fatalf("tracee %d: %v", tr.Pid, err)
	}
	ptrSize := 8
	if t.cfg.abi().Name == "386" {
		ptrSize = 4
	}
	argv := []string{t.cfg.traceeBin(), TraceeFlag, ScenarioBasic}
	blk, argvAt, envpAt := execBlock(base, ptrSize, argv, TraceeEnv)
	if _, err := unix.PtracePokeData(tr.Pid, uintptr(base), blk); err != nil {
		t.Fatalf("PTRACE_POKEDATA of %d bytes at %#x: %v", len(blk), base, err)
	}
	setCall(t, tr, nrs.Execve, base, argvAt, envpAt)
}

// stackStart returns the lowest address of the "[stack]" mapping in a
// /proc/PID/maps text.
func stackStart(maps string) (uint64, error) {
	for _, l := range strings.Split(maps, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[len(f)-1] != "[stack]" {
			continue
		}
		lo, _, ok := strings.Cut(f[0], "-")
		if !ok {
			return 0, fmt.Errorf("maps line %q: no address range", l)
		}
		a, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("maps line %q: %w", l, err)
		}
		return a, nil
	}
	return 0, errors.New("no [stack] mapping in /proc/PID/maps")
}

// execBlock lays out execve's arguments for memory at base in a tracee
// whose pointers are ptrSize bytes: argv's and envp's strings, each
// NUL-terminated, then the NULL-terminated pointer arrays, aligned. The
// path is the first string (argv[0]), at base.
func execBlock(base uint64, ptrSize int, argv, envp []string) (blk []byte, argvAt, envpAt uint64) {
	var ptrs []uint64
	for _, s := range append(argv[:len(argv):len(argv)], envp...) {
		ptrs = append(ptrs, base+uint64(len(blk)))
		blk = append(append(blk, s...), 0)
	}
	for len(blk)%ptrSize != 0 {
		blk = append(blk, 0)
	}
	put := func(p uint64) {
		if ptrSize == 4 {
			blk = binary.LittleEndian.AppendUint32(blk, uint32(p))
		} else {
			blk = binary.LittleEndian.AppendUint64(blk, p)
		}
	}
	argvAt = base + uint64(len(blk))
	for _, p := range ptrs[:len(argv)] {
		put(p)
	}
	put(0)
	envpAt = base + uint64(len(blk))
	for _, p := range ptrs[len(argv):] {
		put(p)
	}
	put(0)
	return blk, argvAt, envpAt
}

// testSyscallInfoOp: PTRACE_GET_SYSCALL_INFO at every SIGTRAP|0x80 stop
// around skipped calls says entry or exit, never none, with the call's
// number, arguments and result; at a signal stop it says none.
func testSyscallInfoOp(t *T) {
	abi := t.cfg.abi()
	tr := start(t, ScenarioBasic) // at the SIGSTOP sync point
	defer tr.Kill()
	si, err := tr.SyscallInfo()
	if errors.Is(err, unix.EIO) {
		switch {
		case inUML():
			t.Skipf("User-Mode Linux has no PTRACE_GET_SYSCALL_INFO (EIO)")
		case kernelOlder(5, 3):
			t.Skipf("kernel %s has no PTRACE_GET_SYSCALL_INFO (EIO); it arrived in 5.3", kernelRelease())
		}
	}
	if err != nil {
		t.Fatalf("kernel %s: %v", kernelRelease(), err)
	}
	if si.Op != ptrace.SyscallInfoNone {
		t.Errorf("at the SIGSTOP signal-delivery stop: op %d, want none (0)", si.Op)
	}
	// check reads the info of syscall stop s and wants op, the call nr at
	// an entry and the result the stop itself read at an exit.
	check := func(s ptrace.Stop, what string, op uint8, nr int) ptrace.SyscallInfo {
		si, err := tr.SyscallInfo()
		if err != nil {
			tr.Kill()
			t.Fatalf("%s: %v", what, err)
		}
		regs, err := ptrace.GetRegs(tr.Pid)
		if err != nil {
			tr.Kill()
			t.Fatalf("PTRACE_GETREGS: %v", err)
		}
		switch {
		case si.Op != op:
			t.Errorf("%s (%v): op %d, want %d", what, s, si.Op, op)
		case si.Arch != abi.AuditArch:
			t.Errorf("%s: arch %#x, want %#x", what, si.Arch, abi.AuditArch)
		case si.PC != uint64(regs.PC()):
			t.Errorf("%s: instruction pointer %#x, the registers say %#x", what, si.PC, regs.PC())
		case op == ptrace.SyscallInfoEntry && int(int64(si.Nr)) != nr:
			t.Errorf("%s: entry.nr %d, want %d", what, si.Nr, nr)
		case op == ptrace.SyscallInfoExit && (si.Rval != int64(regs.Ret()) || si.IsError != (si.Rval < 0 && si.Rval >= -4095)):
			t.Errorf("%s: exit.rval %d (is_error %v), the registers say %d", what, si.Rval, si.IsError, regs.Ret())
		}
		return si
	}
	s := resume(t, tr, ptrace.Syscall, 0, 0)
	expect(t, tr, s, entry, abi.A)
	check(s, "A's entry stop", ptrace.SyscallInfoEntry, abi.A)
	var aRet, bRet int64 // unpatched: A's and B's results at their exit stops
	if t.patched() {
		s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
		expect(t, tr, s, entry, abi.B)
		if si := check(s, "B's entry stop after SKIPEXIT", ptrace.SyscallInfoEntry, abi.B); si.Args[0] != 2 {
			t.Errorf("B's entry stop: args[0] %d, want 2 (dup(2))", si.Args[0])
		}
		s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
		expect(t, tr, s, entry, abi.C)
		check(s, "C's entry stop after SKIPCALL", ptrace.SyscallInfoEntry, abi.C)
	} else {
		s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
		expect(t, tr, s, exit, abi.A)
		aRet = check(s, "A's exit stop (SKIPEXIT ignored)", ptrace.SyscallInfoExit, abi.A).Rval
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, entry, abi.B)
		if si := check(s, "B's entry stop", ptrace.SyscallInfoEntry, abi.B); si.Args[0] != 2 {
			t.Errorf("B's entry stop: args[0] %d, want 2 (dup(2))", si.Args[0])
		}
		s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
		expect(t, tr, s, exit, abi.B)
		bRet = check(s, "B's exit stop (SKIPCALL ignored)", ptrace.SyscallInfoExit, abi.B).Rval
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, entry, abi.C)
		check(s, "C's entry stop", ptrace.SyscallInfoEntry, abi.C)
	}
	s = resume(t, tr, ptrace.Syscall, 0, 0)
	expect(t, tr, s, exit, abi.C)
	cRet := check(s, "C's exit stop", ptrace.SyscallInfoExit, abi.C).Rval
	r := finish(t, tr)
	switch {
	case t.patched() && r.BErr != int(unix.ENOSYS):
		t.Errorf("B (skipped) must return -ENOSYS: returned %d errno %d", r.B, r.BErr)
	case !t.patched() && (aRet != int64(r.A) || bRet != int64(r.B) || r.BErr != 0):
		t.Errorf("A's and B's exit.rval %d and %d, the tracee got %d and %d (errno %d)", aRet, bRet, r.A, r.B, r.BErr)
	}
	if cRet != int64(r.C) || r.CErr != 0 {
		t.Errorf("C's exit.rval %d, the tracee got %d (errno %d)", cRet, r.C, r.CErr)
	}
}

// testMixedStops: a signal-delivery stop, a group-stop and single-step
// traps between tagged resumes. Tags given at those stops do nothing: the
// next syscall-entry stop comes, and the stops and calls after it are
// those of plain PTRACE_SYSCALL.
func testMixedStops(t *T) {
	abi := t.cfg.abi()
	// toSignalStop queues sig at A's entry stop and resumes it with
	// SKIPEXIT, to the delivery stop of sig.
	toSignalStop := func(t *T, tr *ptrace.Tracee, sig syscall.Signal) {
		if err := syscall.Tgkill(tr.Pid, tr.Pid, sig); err != nil {
			t.Fatalf("tgkill: %v", err)
		}
		s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
		if !t.patched() {
			expect(t, tr, s, exit, abi.A)
			s = resume(t, tr, ptrace.Syscall, 0, 0)
		}
		if s.Exited || s.Syscall || s.Signal != sig {
			tr.Kill()
			t.Fatalf("want the delivery stop of %v after A, got %v", sig, s)
		}
		if group, err := tr.GroupStop(); err != nil || group {
			tr.Kill()
			t.Fatalf("the stop by %v must be its signal-delivery stop: group-stop %v, %v", sig, group, err)
		}
	}
	// throughB wants the stop after a tagged resume to be B's entry, and
	// gets B's exit stop with B's result.
	throughB := func(t *T, tr *ptrace.Tracee, s ptrace.Stop) {
		expect(t, tr, s, entry, abi.B)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, exit, abi.B)
		if s.Ret < 3 {
			t.Errorf("B's exit stop: result %d, want a new fd", s.Ret)
		}
	}
	ran := func(t *T, r TraceeReport) {
		if r.AErr != 0 || r.A != r.Pid || r.BErr != 0 || r.B < 3 || r.CErr != 0 || r.C <= 0 {
			t.Errorf("A, B and C must all run: %+v", r)
		}
	}
	t.Run("signal_stop", func(t *T) {
		tr := startAtA(t, ScenarioBasic)
		defer tr.Kill()
		toSignalStop(t, tr, syscall.SIGUSR1)
		// SKIPCALL at the delivery stop, the signal dropped.
		throughB(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0))
		r := finish(t, tr)
		ran(t, r)
		if r.Has(syscall.SIGUSR1) {
			t.Errorf("SIGUSR1, dropped at its delivery stop, is pending")
		}
	})
	t.Run("group_stop", func(t *T) {
		tr := startAtA(t, ScenarioBasic)
		defer tr.Kill()
		toSignalStop(t, tr, syscall.SIGSTOP)
		// SIGSTOP delivered with SKIPCALL: the group-stop.
		s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, syscall.SIGSTOP)
		if s.Exited || s.Syscall || s.Signal != syscall.SIGSTOP {
			tr.Kill()
			t.Fatalf("want the group-stop, got %v", s)
		}
		if group, err := tr.GroupStop(); err != nil || !group {
			tr.Kill()
			t.Fatalf("the stop after SIGSTOP's delivery must be a group-stop: group-stop %v, %v", group, err)
		}
		// Before 3.1 a tracee resumed while its group is still stopping
		// stops again when it leaves the kernel (seen on 2.6.29): resume
		// it once the whole group has stopped.
		waitGroupStopped(t, tr)
		throughB(t, tr, resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0))
		// The runtime's other threads stopped with the group.
		if err := syscall.Kill(tr.Pid, syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT: %v", err)
		}
		ran(t, finish(t, tr))
	})
	t.Run("singlestep_trap", func(t *T) {
		tr := start(t, ScenarioBasic)
		defer tr.Kill()
		// Step with SKIPCALL up to A's system call instruction; then
		// PTRACE_SYSCALL with SKIPCALL from that trap: A's entry stop
		// comes and, resumed plainly, A runs with its exit stop.
		stepTo(t, tr)
		s := resume(t, tr, ptrace.Syscall, ptrace.TagSkipCall, 0)
		expect(t, tr, s, entry, abi.A)
		s = resume(t, tr, ptrace.Syscall, 0, 0)
		expect(t, tr, s, exit, abi.A)
		if s.Ret != int64(tr.Pid) {
			t.Errorf("A's exit stop: result %d, want pid %d", s.Ret, tr.Pid)
		}
		// From A's exit stop, step with SKIPCALL across B's instruction:
		// B runs (no syscall stop; the trap after it holds its result).
		stepTo(t, tr)
		s = resume(t, tr, ptrace.SingleStep, ptrace.TagSkipCall, 0)
		if s.Exited || s.Syscall || s.Signal != syscall.SIGTRAP {
			t.Fatalf("stepping B's system call instruction: want a single-step SIGTRAP, got %v", s)
		}
		regs, err := ptrace.GetRegs(tr.Pid)
		if err != nil {
			t.Fatalf("PTRACE_GETREGS: %v", err)
		}
		if regs.Ret() < 3 {
			t.Errorf("B stepped with SKIPCALL from a trap must run: ax %d", regs.Ret())
		}
		// SKIPEXIT from the trap after B: C's entry and exit stops come.
		s = resume(t, tr, ptrace.Syscall, ptrace.TagSkipExit, 0)
		expect(t, tr, s, entry, abi.C)
		expect(t, tr, resume(t, tr, ptrace.Syscall, 0, 0), exit, abi.C)
		ran(t, finish(t, tr))
	})
}

// stepTo single-steps tr with PTRACE_SINGLESTEP|SKIPCALL until it stands
// on a system call instruction; every stop on the way must be a
// single-step SIGTRAP.
func stepTo(t *T, tr *ptrace.Tracee) {
	for steps := 0; ; steps++ {
		if steps == maxSteps {
			tr.Kill()
			t.Fatalf("%d single steps without reaching a system call instruction", maxSteps)
		}
		s := resume(t, tr, ptrace.SingleStep, ptrace.TagSkipCall, 0)
		if s.Exited || s.Syscall || s.Signal != syscall.SIGTRAP {
			tr.Kill()
			t.Fatalf("step %d: want a single-step SIGTRAP, got %v", steps, s)
		}
		regs, err := ptrace.GetRegs(tr.Pid)
		if err != nil {
			t.Fatalf("PTRACE_GETREGS: %v", err)
		}
		if atSyscallInsn(t, tr.Pid, regs.PC()) {
			return
		}
	}
}

// waitGroupStopped waits until every thread of tr's process is stopped (a
// group-stop is complete), as /proc/PID/task/*/stat says. It counts polls,
// not time: an i386 guest under TCG has been seen on the PIT clocksource
// with its monotonic clock jumping by hours.
func waitGroupStopped(t *T, tr *ptrace.Tracee) {
	const polls = 20000 // 1 ms apart: 20 s on a sane clock
	dir := fmt.Sprintf("/proc/%d/task", tr.Pid)
	running := ""
	for range polls {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v", err)
		}
		running = ""
		for _, task := range tasks {
			b, err := os.ReadFile(dir + "/" + task.Name() + "/stat")
			if err != nil {
				continue // gone
			}
			if p, err := parseProcStat(string(b)); err != nil || (p.State != 'T' && p.State != 't') {
				wchan, _ := os.ReadFile(dir + "/" + task.Name() + "/wchan")
				running = fmt.Sprintf("task %s: stat %q, wchan %q", task.Name(), strings.TrimSpace(string(b)), wchan)
				break
			}
		}
		if running == "" {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tr.Kill()
	t.Fatalf("the group-stop of %d did not complete in %d polls: %s", tr.Pid, polls, running)
}
