package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// procState is one process of a selftest as /proc showed it while the
// selftest was silent.
type procState struct {
	PID, PPID int
	Comm      string
	State     byte // R, S, D, t (traced stop), T, Z, ...
	// Syscall is the system call the process is blocked in, from
	// /proc/PID/syscall; -1 when it is running or that could not be read.
	Syscall int
}

func (p procState) String() string {
	call := "not blocked in a system call"
	if p.Syscall >= 0 {
		call = fmt.Sprintf("in system call %d", p.Syscall)
	}
	return fmt.Sprintf("pid %d (%s), parent %d, state %c, %s", p.PID, p.Comm, p.PPID, p.State, call)
}

// parseProcStat reads /proc/PID/stat's pid, comm, state and ppid. comm
// is in parentheses and may hold spaces and parentheses itself: it ends
// at the last ')'.
func parseProcStat(s string) (procState, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procState{}, fmt.Errorf("stat %q: no (comm)", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procState{}, fmt.Errorf("stat %q: pid: %w", s, err)
	}
	rest := strings.Fields(s[end+1:])
	if len(rest) < 2 || len(rest[0]) != 1 {
		return procState{}, fmt.Errorf("stat %q: no state and ppid", s)
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return procState{}, fmt.Errorf("stat %q: ppid: %w", s, err)
	}
	return procState{PID: pid, PPID: ppid, Comm: s[open+1 : end], State: rest[0][0], Syscall: -1}, nil
}

// parseProcSyscall reads /proc/PID/syscall's first field: the number of
// the system call the task is blocked in, or -1 ("running", or a task
// not in a system call).
func parseProcSyscall(s string) int {
	f := strings.Fields(s)
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// snapshotProcs lists the process root (a pid under guestRoot's /proc)
// and all its descendants, sorted by pid. A process that goes away while
// it is read is left out.
func snapshotProcs(root int) []procState {
	dir := filepath.Join(guestRoot, "/proc")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	all := map[int]procState{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		p, err := parseProcStat(string(b))
		if err != nil || p.PID != pid {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name(), "syscall")); err == nil {
			p.Syscall = parseProcSyscall(string(b))
		}
		all[pid] = p
	}
	in := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for pid, p := range all {
			if !in[pid] && in[p.PPID] {
				in[pid], changed = true, true
			}
		}
	}
	var out []procState
	for pid := range in {
		if p, ok := all[pid]; ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// waitCalls are the system calls that wait for a child, by the word size
// of the program that makes them (a 32-bit program on an x86_64 kernel
// shows the i386 numbers): waitpid, wait4, waitid.
var waitCalls = map[string]map[int]bool{
	"32": {7: true, 114: true, 284: true},
	"64": {61: true, 247: true},
}

// waitCycle reports whether every process in procs below the harness
// (root, whose own wait differs between kernels: waitpid, or poll on a
// pidfd) sleeps in a wait for a child, and none is stopped or traced:
// nobody is left to wake anybody, and only the harness's timeout ends
// it. It takes two such processes at least, a tracee and its tracer. bits
// is the selftest's word size, "32" or "64".
func waitCycle(procs []procState, root int, bits string) bool {
	calls := waitCalls[bits]
	n := 0
	for _, p := range procs {
		if p.PID == root {
			continue
		}
		if p.State != 'S' || !calls[p.Syscall] {
			return false
		}
		n++
	}
	return n >= 2
}
