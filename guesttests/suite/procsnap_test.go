package suite

import (
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    procState
		wantErr bool
	}{
		{"123 (seccomp_bpf_32) S 120 123 100 0 -1 4194304 96 0 0 0", procState{PID: 123, PPID: 120, Comm: "seccomp_bpf_32", State: 'S', Syscall: -1}, false},
		{"7 (a) b) c) t 6 7", procState{PID: 7, PPID: 6, Comm: "a) b) c", State: 't', Syscall: -1}, false},
		{"8 (with space) R 1 8", procState{PID: 8, PPID: 1, Comm: "with space", State: 'R', Syscall: -1}, false},
		{"303 (ptvm-tests) t 302 303 1 0 -1 4194560", procState{PID: 303, PPID: 302, Comm: "ptvm-tests", State: 't', Syscall: -1}, false},
		{"304 (ptvm-tests) T 302 303 1 0 -1 1077936192", procState{PID: 304, PPID: 302, Comm: "ptvm-tests", State: 'T', Syscall: -1}, false},
		{"305 (a) b) (c) S 1 2 3", procState{PID: 305, PPID: 1, Comm: "a) b) (c", State: 'S', Syscall: -1}, false},
		{"306 (no end S 1", procState{}, true},
		{"307 (x)", procState{}, true},
		{"", procState{}, true},
		{"x (a) S 1", procState{}, true},
		{"9 (a) S", procState{}, true},
		{"9 (a) SS 1", procState{}, true},
		{"9 (a) S one", procState{}, true},
		{"9 a) S 1", procState{}, true},
	} {
		got, err := parseProcStat(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseProcStat(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseProcSyscall(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"61 0xffffffff 0x7ffc 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n": 61,
		"running\n":          -1,
		"-1 0x7ffc 0x7f00\n": -1,
		"":                   -1,
		"114":                114,
		"0x3d":               -1,
	} {
		if got := parseProcSyscall(in); got != want {
			t.Errorf("parseProcSyscall(%q) = %d, want %d", in, got, want)
		}
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("123 (seccomp_bpf_32) S 120 123 100 0")
	f.Add("7 (a) b) c) t 6 7")
	f.Add("(")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseProcStat(s)
		if err != nil {
			return
		}
		if p.Syscall != -1 || !strings.Contains(s, "("+p.Comm+")") {
			t.Errorf("parseProcStat(%q) = %+v", s, p)
		}
	})
}

func TestWaitCycle(t *testing.T) {
	t.Parallel()
	harness := procState{PID: 10, State: 'S', Syscall: 168} // poll(2) on a pidfd, i386
	tracee := procState{PID: 11, PPID: 10, State: 'S', Syscall: 114}
	tracer := procState{PID: 12, PPID: 11, State: 'S', Syscall: 114}
	with := func(p procState, f func(*procState)) procState { f(&p); return p }
	for _, tc := range []struct {
		name  string
		procs []procState
		bits  string
		want  bool
	}{
		{"tracee and tracer wait", []procState{harness, tracee, tracer}, "32", true},
		{"waitid and waitpid", []procState{harness, with(tracee, func(p *procState) { p.Syscall = 7 }), with(tracer, func(p *procState) { p.Syscall = 284 })}, "32", true},
		{"64-bit calls", []procState{harness, with(tracee, func(p *procState) { p.Syscall = 61 }), with(tracer, func(p *procState) { p.Syscall = 61 })}, "64", true},
		{"32-bit numbers for a 64-bit selftest", []procState{harness, tracee, tracer}, "64", false},
		{"the tracee is in a traced stop", []procState{harness, with(tracee, func(p *procState) { p.State = 't' }), tracer}, "32", false},
		{"the tracer runs", []procState{harness, tracee, with(tracer, func(p *procState) { p.State, p.Syscall = 'R', -1 })}, "32", false},
		{"the tracer sleeps elsewhere", []procState{harness, tracee, with(tracer, func(p *procState) { p.Syscall = 3 })}, "32", false},
		{"no tracer", []procState{harness, tracee}, "32", false},
		{"nothing below the harness", []procState{harness}, "32", false},
		{"a word size not known", []procState{harness, tracee, tracer}, "", false},
	} {
		if got := waitCycle(tc.procs, harness.PID, tc.bits); got != tc.want {
			t.Errorf("%s: waitCycle = %v, want %v", tc.name, got, tc.want)
		}
	}
}
