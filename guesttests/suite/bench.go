package suite

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// ScenarioLoop: after the sync point, argv[3] getppid() calls.
const ScenarioLoop = "loop"

// runLoop is the loop scenario's body.
func runLoop(n int) {
	for i := 0; i < n; i++ {
		syscall.RawSyscall(uintptr(NativeABI.C), 0, 0, 0)
	}
}

// benchRepeats and benchCalls size a benchmark: medians of benchRepeats runs
// of benchCalls emulated calls each.
const (
	benchRepeats = 5
	benchCalls   = 2000
)

// emulation is one way for a tracer to emulate a system call.
type emulation struct {
	name string
	// tags: it needs the PTRACE_VM tags; set: PTRACE_SET_SYSCALL_INFO (6.16).
	tags, set bool
	// step resumes the tracee to the next call's entry stop, emulating the
	// current one (the tracee sees 42), and returns the stops it took.
	step func(tr *ptrace.Tracee) (int, error)
}

var emulations = []emulation{
	{name: "PTRACE_SYSCALL", step: func(tr *ptrace.Tracee) (int, error) {
		// The classic way: skip the call with nr=-1 at the entry stop, set
		// the result at the exit stop.
		if err := tr.PokeNr(-1); err != nil {
			return 0, err
		}
		if _, err := tr.Resume(ptrace.Syscall, 0, 0); err != nil {
			return 0, err
		}
		if err := tr.PokeRet(42); err != nil {
			return 0, err
		}
		_, err := tr.Resume(ptrace.Syscall, 0, 0)
		return 2, err
	}},
	{name: "PTRACE_SYSEMU", step: func(tr *ptrace.Tracee) (int, error) {
		if err := tr.PokeRet(42); err != nil {
			return 0, err
		}
		_, err := tr.Resume(ptrace.Sysemu, 0, 0)
		return 1, err
	}},
	{name: "SET_SYSCALL_INFO", set: true, step: func(tr *ptrace.Tracee) (int, error) {
		// Mainline's own (6.16): number -1 set at the entry stop skips the
		// call, the result is set at the exit stop, which still comes.
		if err := setNr(tr, -1); err != nil {
			return 0, err
		}
		if _, err := tr.Resume(ptrace.Syscall, 0, 0); err != nil {
			return 0, err
		}
		si, err := tr.SyscallInfo()
		if err != nil {
			return 0, err
		}
		si.Rval, si.IsError = 42, false
		if err := tr.SetSyscallInfo(si); err != nil {
			return 0, err
		}
		_, err = tr.Resume(ptrace.Syscall, 0, 0)
		return 2, err
	}},
	{name: "SET_SYSCALL_INFO+SKIPEXIT", tags: true, set: true, step: func(tr *ptrace.Tracee) (int, error) {
		// Mainline's skip with the series' SKIPEXIT: one stop.
		if err := setNr(tr, -1); err != nil {
			return 0, err
		}
		if err := tr.PokeRet(42); err != nil {
			return 0, err
		}
		_, err := tr.Resume(ptrace.Syscall, ptrace.TagSkipExit, 0)
		return 1, err
	}},
	{name: "SKIPEXIT", tags: true, step: func(tr *ptrace.Tracee) (int, error) {
		// Not emulation: the host runs the call, without an exit stop.
		_, err := tr.Resume(ptrace.Syscall, ptrace.TagSkipExit, 0)
		return 1, err
	}},
	{name: "SKIPCALL", tags: true, step: func(tr *ptrace.Tracee) (int, error) {
		if err := tr.PokeRet(42); err != nil {
			return 0, err
		}
		_, err := tr.Resume(ptrace.Syscall, ptrace.TagSkipCall, 0)
		return 1, err
	}},
}

// testBench measures each emulation: ns and host stops per emulated call,
// medians over benchRepeats runs in this boot, with the fastest and slowest
// run so that the host can tell a moved median from noise. It is a benchmark, not a
// test: it fails only when it cannot measure.
func testBench(t *T) {
	if !t.cfg.Bench {
		t.Skipf("a benchmark: runs with ptvm-tests -bench (ptvmlab bench)")
	}
	noSet := setSyscallInfoMissing(t)
	for _, e := range emulations {
		if e.tags && !t.patched() {
			t.Logf(proto.BenchSkipped, e.name, "this kernel has no PTRACE_VM tags")
			continue
		}
		if e.set && noSet != "" {
			t.Logf(proto.BenchSkipped, e.name, noSet)
			continue
		}
		var nsPer []float64
		stopsPer := 0.0
		for r := 0; r < benchRepeats; r++ {
			ns, stops, err := benchOnce(t, e)
			if err != nil {
				t.Fatalf("bench %s: %v", e.name, err)
			}
			nsPer = append(nsPer, ns)
			stopsPer = stops
		}
		lo, hi := spread(nsPer)
		t.Logf(proto.BenchEmulation, e.name, median(nsPer), stopsPer, benchRepeats, benchCalls, lo, hi)
	}
}

// setSyscallInfoMissing says why this kernel has no usable
// PTRACE_SET_SYSCALL_INFO, or "" when it has: it sets a call's number to
// its own at an entry stop.
func setSyscallInfoMissing(t *T) string {
	tr := start(t, ScenarioBasic)
	defer tr.Kill()
	if _, err := tr.Resume(ptrace.Syscall, 0, 0); err != nil {
		return err.Error()
	}
	si, err := tr.SyscallInfo()
	if err == nil {
		err = tr.SetSyscallInfo(si)
	}
	if err != nil {
		return fmt.Sprintf("kernel %s: no PTRACE_SET_SYSCALL_INFO (%v; 6.16 and later)", kernelRelease(), err)
	}
	return ""
}

func benchOnce(t *T, e emulation) (float64, float64, error) {
	tr := start(t, ScenarioLoop, strconv.Itoa(benchCalls))
	defer tr.Kill()
	req := ptrace.Syscall
	if e.name == "PTRACE_SYSEMU" {
		req = ptrace.Sysemu
	}
	s, err := tr.Resume(req, 0, 0)
	if err != nil {
		return 0, 0, err
	}
	if !s.Syscall || s.Nr != t.cfg.abi().C {
		return 0, 0, fmt.Errorf("want the first getppid entry stop, got %v", s)
	}
	stops := 0
	begin := time.Now()
	for i := 0; i < benchCalls; i++ {
		n, err := e.step(tr)
		if err != nil {
			return 0, 0, err
		}
		stops += n
	}
	took := time.Since(begin)
	return float64(took.Nanoseconds()) / benchCalls, float64(stops) / benchCalls, nil
}

// testBenchLoop (inside UML, or anywhere): ns per getppid() for a
// syscall-heavy loop, median of benchRepeats runs.
func testBenchLoop(t *T) {
	if !t.cfg.Bench {
		t.Skipf("a benchmark: runs with ptvm-tests -bench (ptvmlab bench)")
	}
	var nsPer []float64
	const n = 20000
	for r := 0; r < benchRepeats; r++ {
		begin := time.Now()
		runLoop(n)
		nsPer = append(nsPer, float64(time.Since(begin).Nanoseconds())/float64(n))
	}
	mode := "host"
	if inUML() {
		mode = "uml-sysemu"
		if b, err := os.ReadFile("/proc/sysptvm"); err == nil && strings.TrimSpace(string(b)) == "1" {
			mode = "uml-sysptvm"
		}
		if umlFlags()[proto.ArgUMLBoots+"=seccomp"] {
			mode = "uml-seccomp" // UML's processes are not traced
		}
	}
	lo, hi := spread(nsPer)
	t.Logf(proto.BenchLoop, mode, median(nsPer), benchRepeats, n, lo, hi)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// spread is the fastest and the slowest of xs: the range a median of them
// could have fallen anywhere in. 0, 0 for none.
func spread(xs []float64) (lo, hi float64) {
	for i, x := range xs {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}
