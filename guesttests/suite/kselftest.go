package suite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"golang.org/x/sys/unix"
)

// KselftestDir and KselftestLeftOut are the host's word (proto).
const (
	KselftestDir     = proto.KselftestDir
	KselftestLeftOut = proto.KselftestLeftOut
)

// ksftSkip is the exit code of a selftest that skipped as a whole
// (KSFT_SKIP in kselftest.h).
const ksftSkip = 4

// seriesSelftest is the series' own selftest (patch 3): a patched kernel
// must pass every part of it, an unpatched one must skip it as a whole.
const seriesSelftest = "syscall_skip"

// notTAP are the selftests that print no TAP (the x86 ones print [OK] and
// [FAIL] lines, peeksiginfo "PASS"): their exit code decides. Any other
// must print a plan, or its output was lost.
var notTAP = map[string]bool{"ptrace_syscall": true, "single_step_syscall": true, "peeksiginfo": true}

// needsTime32 are the selftests that cannot run on an i386 kernel without
// the 32-bit time_t system calls (CONFIG_COMPAT_32BIT_TIME), with why:
// static 32-bit glibc falls back to futex(2) and nanosleep(2) where the
// time64 calls are not used or filtered, and gets ENOSYS. They fail the
// same way on patched and unpatched kernels.
var needsTime32 = map[string]string{
	"seccomp_bpf": "its threaded tests (TSYNC.*, KILL_thread) abort in glibc's futex code and syscall_restart gets ENOSYS from nanosleep",
}

// haveTime32 reports whether the kernel has the 32-bit time_t system calls
// (only asked on a 386 guest, where SYS_CLOCK_GETTIME is the time32 one).
func haveTime32() bool {
	var ts [2]int32
	_, _, errno := syscall.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&ts)), 0)
	return errno != syscall.ENOSYS
}

// knownFailures are the selftests' subtests that fail on patched and
// unpatched kernels alike in this guest, keyed "selftest/subtest" (the
// selftest without its _64/_32), each with the reason. Such a failure is
// reported as XFAIL; any other failure fails the test. The list is what
// lets "the kernel's own selftests show no difference" be checked, not
// assumed: an entry must fail for a reason the series cannot touch.
var knownFailures = map[string]string{
	// The test expects PTRACE_ATTACH to fail with EAGAIN while its child's
	// exec of sleep waits in de_thread() for a traced thread. The exec
	// change it was written for is in none of these kernels: there, the
	// attach blocks until the harness's 30 s limit, patched or not. The
	// image leaves sleep out (proto.SelftestPrograms) rather than spend
	// those 30 s a boot: the child's exec fails, the attach succeeds, and
	// the test fails at once.
	"vmaccess/global.attach": "needs an exec/de_thread change these kernels lack (it would block for the harness's 30 s, patched or not; the image leaves out the sleep it execs)",
	// These make an AF_UNIX socketpair; the guest kernels are built from
	// tinyconfig without CONFIG_UNIX.
	"seccomp_bpf/global.user_notification_signal":                         noUnixSockets,
	"seccomp_bpf/global.user_notification_wait_killable_pre_notification": noUnixSockets,
	"seccomp_bpf/global.user_notification_wait_killable":                  noUnixSockets,
	// 6.1's version asserts that unshare(CLONE_NEWPID) works (6.12's
	// skips when it does not); the guest kernels have no CONFIG_PID_NS.
	"seccomp_bpf/global.user_notification_sibling_pid_ns": "unshare(CLONE_NEWPID) fails: the guest kernel has no CONFIG_PID_NS",
	// 7.3's UPROBE fixture asserts that the uprobe PMU's type can be read
	// (its not_attached variant skips without the syscalls instead).
	"seccomp_bpf/UPROBE.uprobe_attached.uprobe_default_allow":                 noUprobes,
	"seccomp_bpf/UPROBE.uprobe_attached.uprobe_default_block":                 noUprobes,
	"seccomp_bpf/UPROBE.uprobe_attached.uprobe_block_syscall":                 noUprobes,
	"seccomp_bpf/UPROBE.uprobe_attached.uprobe_default_block_with_syscall":    noUprobes,
	"seccomp_bpf/UPROBE.uretprobe_attached.uprobe_default_allow":              noUprobes,
	"seccomp_bpf/UPROBE.uretprobe_attached.uprobe_default_block":              noUprobes,
	"seccomp_bpf/UPROBE.uretprobe_attached.uprobe_block_syscall":              noUprobes,
	"seccomp_bpf/UPROBE.uretprobe_attached.uprobe_default_block_with_syscall": noUprobes,
}

const noUprobes = "no uprobe PMU (/sys/bus/event_source/devices/uprobe/type): the guest kernel has no CONFIG_UPROBE_EVENTS, which needs perf events and tracing"

// lostTeardownWhy is why a seccomp_bpf tracer test can hang on any
// kernel. The tracer of the TRACE_poke fixture and of TRACE_syscall's
// seccomp variant (start_tracer) loops "while (tracer_running)
// wait(&status)", and the fixture's teardown stops it with SIGUSR1, whose
// handler clears tracer_running. A SIGUSR1 that comes after the check and
// before wait() is lost: the tracer waits for a tracee that now waits for
// it, until the harness's 30 s timeout. These tracers resume with
// PTRACE_CONT, so the tracee's teardown makes no stop that would wake the
// tracer (TRACE_syscall's ptrace variant resumes with PTRACE_SYSCALL: its
// kill() stops at syscall exit, and it cannot hang this way). PTRACE_CONT
// turns syscall stops off, so the series' entry and exit checks are not
// reached; its only code on this path clears the tag bits in
// ptrace_resume(), which addr 0 does not set.
const lostTeardownWhy = "seccomp_bpf's PTRACE_CONT tracer checks tracer_running, then waits, and can miss its teardown's SIGUSR1"

// lostTeardownFixtures are the seccomp_bpf tests whose tracer resumes with
// PTRACE_CONT.
var lostTeardownFixtures = []string{"TRACE_poke.", "TRACE_syscall.seccomp."}

// lostTeardownSignal reports whether run is a seccomp_bpf run that failed
// only because one tracer test lost its teardown's signal, and which test,
// with what /proc showed while it hung. Everything else must hold too:
// the selftest printed its whole plan and exited 1 (the harness's own
// failure), the test's only diagnostic is the harness's timeout line for
// it, and while the test was silent every process below the harness slept
// waiting for a child.
func lostTeardownSignal(name string, run selftestRun) (string, silence, bool) {
	if selftestBase(name) != "seccomp_bpf" || run.code != 1 || run.rep.Plan != len(run.rep.Results) {
		return "", silence{}, false
	}
	var hung []string
	for _, r := range run.rep.Results {
		if r.Verdict != selftestFail {
			continue
		}
		short := r.Name[strings.LastIndexByte(r.Name, '.')+1:]
		fixture := slices.ContainsFunc(lostTeardownFixtures, func(p string) bool { return strings.HasPrefix(r.Name, p) })
		if !fixture || len(r.Diag) != 1 || r.Diag[0] != "# "+short+": Test terminated by timeout" {
			return "", silence{}, false
		}
		hung = append(hung, r.Name)
	}
	if len(hung) != 1 {
		return "", silence{}, false
	}
	bits := strings.TrimPrefix(name[len(selftestBase(name)):], "_")
	for _, sl := range run.silences {
		if m := ksftRunRe.FindStringSubmatch(sl.after); m != nil && m[1] == hung[0] && waitCycle(sl.procs, run.pid, bits) {
			return hung[0], sl, true
		}
	}
	return "", silence{}, false
}

const noUnixSockets = "socketpair(AF_UNIX) fails: the guest kernel has no CONFIG_UNIX"

// testKselftest runs each of the kernel's selftests in KselftestDir as a
// subtest, with the selftest's own results nested below it: the tracer
// tests of PTRACE_SYSCALL, PTRACE_SYSEMU and single-stepping, the ptrace
// and seccomp selftests must not change with the series, and the series'
// own selftest must pass on a patched kernel and skip on an unpatched one.
func testKselftest(t *T) {
	names, leftOut, err := readKselftestDir(KselftestDir)
	if err != nil || len(names)+len(leftOut) == 0 {
		t.Skipf("no kernel selftests in the image (%s)", KselftestDir)
	}
	noTime32 := goarch == "386" && !haveTime32()
	if noTime32 {
		t.Logf("this i386 kernel has no 32-bit time_t system calls (CONFIG_COMPAT_32BIT_TIME): glibc's threads and sleeps fall back to them, and this guest's clock is not to be trusted")
	}
	for _, n := range names {
		t.Run(n, func(t *T) {
			if why, ok := needsTime32[selftestBase(n)]; ok && noTime32 {
				t.Skipf("needs the 32-bit time_t system calls this kernel lacks (CONFIG_COMPAT_32BIT_TIME): %s", why)
			}
			runSelftest(t, KselftestDir, n)
		})
	}
	for _, l := range leftOut {
		t.Run(l.name, func(t *T) {
			if selftestBase(l.name) == seriesSelftest {
				t.Fatalf("the series' own selftest did not build: %s", l.why)
			}
			t.Skipf("not built: %s", l.why)
		})
	}
}

type leftOutTest struct{ name, why string }

// readKselftestDir lists the selftest binaries in dir, sorted, and the
// selftests that were left out.
func readKselftestDir(dir string) ([]string, []leftOutTest, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range ents {
		// Only the selftests: not the left-out list, not a dotfile.
		if e.Name() != KselftestLeftOut && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	b, err := os.ReadFile(filepath.Join(dir, KselftestLeftOut))
	if errors.Is(err, os.ErrNotExist) {
		return names, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return names, parseLeftOut(string(b)), nil
}

func parseLeftOut(s string) []leftOutTest {
	var out []leftOutTest
	for _, l := range strings.Split(s, "\n") {
		name, why, _ := strings.Cut(strings.TrimSpace(l), ": ")
		if name != "" {
			out = append(out, leftOutTest{name, why})
		}
	}
	return out
}

// selftestBase is a selftest binary's name without its word size.
func selftestBase(name string) string {
	for _, s := range []string{"_64", "_32"} {
		if b, ok := strings.CutSuffix(name, s); ok {
			return b
		}
	}
	return name
}

// guestRoot is where the image's root is: "" in the guest, a temporary
// directory in a host test.
var guestRoot = ""

// runSelftest runs the selftest binary dir/name and reports its results as
// t's subtests. One whose programs (proto.SelftestPrograms) the image
// lacks is not run: it would not test what it claims to.
func runSelftest(t *T, dir, name string) {
	for _, p := range proto.SelftestPrograms[selftestBase(name)] {
		if st, err := os.Stat(guestRoot + p); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("the image lacks %s, which %s execs by name: its child would run on into the test body instead (give the image %s)", p, name, p)
		}
	}
	run := runSelftestOnce(t, dir, name)
	var rerun string
	if hung, snap, ok := lostTeardownSignal(name, run); ok {
		// The first attempt's failures go to the log, never away.
		for _, l := range tailLines(run.rep, 5) {
			t.Logf("first attempt: %s", l)
		}
		for _, p := range snap.procs {
			t.Logf("first attempt: %s silent: %s", hung, p)
		}
		t.Logf("first attempt: %s; %s hung with every process below the harness waiting for a child: %s; running it once more, and the second attempt decides",
			run.outcome.fail, hung, lostTeardownWhy)
		rerun = "second attempt; the first lost " + hung + "'s teardown signal"
		run = runSelftestOnce(t, dir, name)
	}
	rep, v := run.rep, run.outcome
	for _, r := range rep.Results {
		t.Run(r.Name, func(st *T) {
			if r.Verdict != selftestPass {
				for _, d := range r.Diag {
					st.Logf("%s", d)
				}
			}
			switch r.Verdict {
			case selftestSkip:
				st.Skipf("%s", r.Reason)
			case selftestKnownFailure:
				st.Result("XFAIL " + r.Reason)
			case selftestFail:
				st.Errorf("failed%s", prefixed(": ", r.Reason))
			}
		})
	}
	if v.fail != "" {
		// The failed results carry their own diagnostics; the end of the
		// output says how the selftest ended, or all of it when it
		// printed no results; and what its processes did while it was
		// silent.
		for _, l := range tailLines(rep, 5) {
			t.Logf("%s", l)
		}
		for _, sl := range run.silences {
			for _, p := range sl.procs {
				t.Logf("silent after %q: %s", sl.after, p)
			}
		}
		t.Errorf("%s", v.fail)
		return
	}
	if v.skip != "" {
		t.Skipf("%s", v.skip)
	}
	// No duration: the guest's clock is not to be trusted under TCG.
	t.Result(v.summary + prefixed("; ", rerun))
}

// tailLines are the last n lines of rep's output, or all of it when it
// printed no results.
func tailLines(rep selftestReport, n int) []string {
	lines := rep.Lines
	if k := len(lines) - n; k > 0 && len(rep.Results) > 0 {
		lines = lines[k:]
	}
	return lines
}

// selftestRun is one run of a selftest binary.
type selftestRun struct {
	rep      selftestReport
	code     int
	outcome  selftestOutcome
	pid      int       // the selftest's process: the harness
	silences []silence // what /proc showed while it printed nothing
}

// runSelftestOnce runs the selftest binary dir/name once and judges what
// it printed.
func runSelftestOnce(t *T, dir, name string) selftestRun {
	cmd := exec.Command(filepath.Join(dir, name))
	out, silences, err := runSelftestBinary(t, name, cmd)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	case err != nil:
		t.Logf("%s", strings.TrimSpace(string(out)))
		t.Fatalf("%s: %v", name, err)
	}
	rep := parseSelftest(out)
	return selftestRun{rep: rep, code: code, outcome: judgeSelftest(selftestBase(name), rep, code, t.patched()),
		pid: cmd.Process.Pid, silences: silences}
}

// silence is what a selftest's processes were doing once it had printed
// nothing for hangProbeAfter: a hung test, or a slow one.
type silence struct {
	after string // the last line printed before it
	procs []procState
}

// hangProbeAfter is how long a selftest prints nothing before its
// processes are looked at: under the kselftest harness's 30 s limit on a
// test, with a progress tick to spare. The unit tests shorten it.
var hangProbeAfter = 20 * time.Second

// takeSnapshot is snapshotProcs; the unit tests replace it.
var takeSnapshot = snapshotProcs

// runSelftestBinary runs cmd with its output going to a file, not a pipe:
// a selftest's own children (the harness forks every test, tests fork
// tracees) can outlive it and keep their output open, and a pipe would
// keep exec's Wait waiting for them. It returns all the selftest printed
// once the selftest has ended, and what its processes were doing in each
// silence of hangProbeAfter. While it runs, t's progress lines say what it
// last printed; one that prints nothing for ChildSilence is killed, and the
// error says so.
func runSelftestBinary(t *T, name string, cmd *exec.Cmd) ([]byte, []silence, error) {
	f, err := os.CreateTemp("", name+"-*.out")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(t.cfg.progress.interval())
	defer tick.Stop()
	var seen int64
	var silences []silence
	moved, killed, probed := time.Now(), false, false
	for {
		select {
		case err := <-done:
			out, rerr := os.ReadFile(f.Name())
			if rerr != nil {
				return nil, silences, fmt.Errorf("read %s's output: %w", name, rerr)
			}
			if killed {
				err = fmt.Errorf("%s printed nothing for %s and was killed: %v", name, childSilence, err)
			}
			return out, silences, err
		case <-tick.C:
			st, err := f.Stat()
			if err != nil {
				continue
			}
			switch n := st.Size(); {
			case n > seen:
				seen, moved, probed = n, time.Now(), false
				t.Progressf("%s: last line: %s", name, lastOutputLine(f.Name()))
			case !killed && time.Since(moved) >= childSilence:
				killed = true
				_ = cmd.Process.Kill()
			case !probed && time.Since(moved) >= hangProbeAfter:
				probed = true
				silences = append(silences, silence{after: lastOutputLine(f.Name()), procs: takeSnapshot(cmd.Process.Pid)})
			}
		}
	}
}

// lastOutputLine is the last line in the file at path, cut to 120 bytes.
func lastOutputLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	l := lines[len(lines)-1]
	if len(l) > 120 {
		l = l[:120]
	}
	return l
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// selftestVerdict is what one result of a selftest amounts to here.
type selftestVerdict int

const (
	selftestPass selftestVerdict = iota
	selftestSkip
	selftestFail
	selftestKnownFailure
)

// selftestResult is one result line of a selftest's TAP output.
type selftestResult struct {
	Name    string
	Verdict selftestVerdict
	Reason  string   // the SKIP or XFAIL reason, or why a known failure is known
	Diag    []string // the diagnostic lines since the previous result
}

// selftestReport is a selftest's output as kselftest.h and
// kselftest_harness.h print it.
type selftestReport struct {
	Plan    int    // -1 when no plan line came
	SkipAll string // "1..0 # SKIP reason": the whole program skipped
	Results []selftestResult
	Lines   []string // every line, for the log of a failure
}

var (
	ksftPlanRe   = regexp.MustCompile(`^1\.\.(\d+)\s*(?:#\s*SKIP\b\s*(.*))?$`)
	ksftResultRe = regexp.MustCompile(`^(ok|not ok) (\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$`)
	// The harness prints "#  RUN           fixture.test ..." before each
	// test; 6.1's harness leaves the name off a SKIP result line.
	ksftRunRe     = regexp.MustCompile(`^#\s+RUN\s+(\S+)\s+\.\.\.`)
	ksftHarnessRe = regexp.MustCompile(`^#\s+(OK|FAIL|SKIP)\s{2,}`)
)

// parseSelftest reads a selftest's output. It never fails: what is not TAP
// is kept as a diagnostic of the next result. Result names are made unique
// (and never empty) so that each can be a subtest.
func parseSelftest(out []byte) selftestReport {
	rep := selftestReport{Plan: -1}
	var diag []string
	running := ""
	used := map[string]bool{}
	for _, raw := range strings.Split(string(out), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		rep.Lines = append(rep.Lines, line)
		if m := ksftPlanRe.FindStringSubmatch(line); m != nil && rep.Plan < 0 {
			rep.Plan, _ = strconv.Atoi(m[1])
			if m[1] == "0" && strings.Contains(line, "SKIP") {
				rep.SkipAll = strings.TrimSpace(m[2])
				if rep.SkipAll == "" {
					rep.SkipAll = "skipped, no reason given"
				}
			}
			continue
		}
		if m := ksftRunRe.FindStringSubmatch(line); m != nil {
			running, diag = m[1], nil
			continue
		}
		if ksftHarnessRe.MatchString(line) {
			continue // the harness's own "OK", "FAIL" and "SKIP" echo of a result
		}
		m := ksftResultRe.FindStringSubmatch(line)
		if m == nil {
			diag = append(diag, line)
			continue
		}
		r := selftestResult{Name: m[3], Diag: diag}
		if r.Name == "" {
			r.Name = running
		}
		if r.Name == "" {
			r.Name = "test_" + m[2]
		}
		r.Name = strings.NewReplacer(" ", "_", "#", "_").Replace(r.Name)
		for n, i := r.Name, 2; used[r.Name]; i++ {
			r.Name = fmt.Sprintf("%s_%d", n, i)
		}
		used[r.Name] = true
		directive := strings.TrimSpace(m[4])
		upper := strings.ToUpper(directive)
		switch {
		case strings.HasPrefix(upper, "SKIP"):
			r.Verdict, r.Reason = selftestSkip, strings.TrimSpace(directive[len("SKIP"):])
		case m[1] == "not ok" && strings.HasPrefix(upper, "XFAIL"):
			r.Verdict, r.Reason = selftestKnownFailure, strings.TrimSpace(directive[len("XFAIL"):])
		case m[1] == "not ok":
			r.Verdict, r.Reason = selftestFail, directive
		}
		rep.Results = append(rep.Results, r)
		diag, running = nil, ""
	}
	return rep
}

// selftestOutcome is a selftest binary's verdict: fail or skip set, or
// neither and a summary.
type selftestOutcome struct {
	fail, skip, summary string
}

// judgeSelftest decides a selftest binary's verdict from its results and
// exit code, on a kernel that has the series (patched) or not. It marks the
// failures on the known list.
func judgeSelftest(base string, rep selftestReport, code int, patched bool) selftestOutcome {
	var pass, skip, fail, known int
	for i := range rep.Results {
		r := &rep.Results[i]
		if why, ok := knownFailures[base+"/"+r.Name]; ok && r.Verdict == selftestFail {
			r.Verdict, r.Reason = selftestKnownFailure, why
		}
		switch r.Verdict {
		case selftestPass:
			pass++
		case selftestSkip:
			skip++
		case selftestFail:
			fail++
		case selftestKnownFailure:
			known++
		}
	}
	summary := fmt.Sprintf("%d passed, %d skipped, %d known failures", pass, skip, known)
	if len(rep.Results) == 0 && len(rep.Lines) > 0 {
		// Not TAP (the x86 selftests print [OK] and [FAIL] lines): the
		// exit code decides, and the last line says what it ran.
		summary = strings.ReplaceAll(rep.Lines[len(rep.Lines)-1], "#", "")
	}
	var o selftestOutcome
	switch {
	case fail > 0:
		o.fail = fmt.Sprintf("%d of %d failed (exit %d)", fail, len(rep.Results), code)
	case rep.Plan < 0 && !notTAP[base] && code != ksftSkip:
		o.fail = fmt.Sprintf("printed no TAP plan (exit %d)", code)
	case rep.Plan > 0 && len(rep.Results) != rep.Plan:
		o.fail = fmt.Sprintf("planned %d results, printed %d (exit %d)", rep.Plan, len(rep.Results), code)
	case rep.SkipAll != "" || code == ksftSkip:
		o.skip = rep.SkipAll
		if o.skip == "" {
			o.skip = fmt.Sprintf("exit %d (KSFT_SKIP)", code)
		}
	case code != 0 && known == 0:
		o.fail = fmt.Sprintf("exit %d", code)
	default:
		o.summary = summary
	}
	if base != seriesSelftest || o.fail != "" {
		return o
	}
	switch {
	case patched && o.skip != "":
		return selftestOutcome{fail: "a patched kernel must run the series' selftest, it skipped: " + o.skip}
	case patched && skip > 0:
		return selftestOutcome{fail: fmt.Sprintf("a patched kernel must run all of the series' selftest: %d skipped", skip)}
	case !patched && o.skip == "":
		return selftestOutcome{fail: "an unpatched kernel must skip the series' selftest as a whole: " + summary}
	}
	return o
}
