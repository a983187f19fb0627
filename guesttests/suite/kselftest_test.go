package suite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// Outputs as the 6.12 and 6.1 harnesses print them.
const (
	harness612 = `TAP version 13
1..3
# Starting 3 tests from 1 test cases.
#  RUN           syscall_skip.skipexit ...
#            OK  syscall_skip.skipexit
ok 1 syscall_skip.skipexit
#  RUN           syscall_skip.skipcall ...
# syscall_skip.c:260:skipcall:Expected 0 (0) == resume(...) (-1)
# skipcall: Test failed
#          FAIL  syscall_skip.skipcall
not ok 2 syscall_skip.skipcall
#  RUN           global.attach ...
#      SKIP      no sleep(1) here
#            OK  global.attach
ok 3 global.attach # SKIP no sleep(1) here
# FAILED: 2 / 3 tests passed.
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
`
	harness61Skip = `TAP version 13
1..2
#  RUN           global.vmaccess ...
#            OK  global.vmaccess
ok 1 global.vmaccess
#  RUN           global.attach ...
#      SKIP      no reason
ok 2 # SKIP no reason
# PASSED: 2 / 2 tests passed.
`
	skipAll = "1..0 # SKIP kernel ignores the tags: SKIPEXIT still got getppid's exit stop\n"
)

func TestParseSelftest(t *testing.T) {
	t.Parallel()
	type res struct {
		name    string
		verdict selftestVerdict
		reason  string
	}
	for _, tc := range []struct {
		name    string
		out     string
		plan    int
		skipAll string
		want    []res
	}{
		{"6.12 harness", harness612, 3, "", []res{
			{"syscall_skip.skipexit", selftestPass, ""},
			{"syscall_skip.skipcall", selftestFail, ""},
			{"global.attach", selftestSkip, "no sleep(1) here"}}},
		{"6.1 skip without a name", harness61Skip, 2, "", []res{
			{"global.vmaccess", selftestPass, ""},
			{"global.attach", selftestSkip, "no reason"}}},
		{"skip all", skipAll, 0, "kernel ignores the tags: SKIPEXIT still got getppid's exit stop", nil},
		{"not TAP", "[RUN]\tcheck\n[OK]\tfine\n", -1, "", nil},
		{"duplicate and unnamed", "1..4\nok 1 a\nok 2 a_2\nok 3 a\nnot ok 4 # XFAIL flaky\n", 4, "", []res{
			{"a", selftestPass, ""}, {"a_2", selftestPass, ""}, {"a_3", selftestPass, ""}, {"test_4", selftestKnownFailure, "flaky"}}},
		{"names made safe", "1..1\nok 1 - two words\n", 1, "", []res{{"two_words", selftestPass, ""}}},
		{"todo is not a skip", "1..1\nnot ok 1 x # TODO later\n", 1, "", []res{{"x", selftestFail, "TODO later"}}},
	} {
		rep := parseSelftest([]byte(tc.out))
		var got []res
		for _, r := range rep.Results {
			got = append(got, res{r.Name, r.Verdict, r.Reason})
		}
		if rep.Plan != tc.plan || rep.SkipAll != tc.skipAll || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: plan %d skipAll %q results %+v; want %d %q %+v", tc.name, rep.Plan, rep.SkipAll, got, tc.plan, tc.skipAll, tc.want)
		}
	}
}

func TestParseSelftestDiagnostics(t *testing.T) {
	t.Parallel()
	rep := parseSelftest([]byte(harness612))
	d := rep.Results[1].Diag
	if len(d) != 2 || !strings.Contains(d[0], "Expected 0") || !strings.Contains(d[1], "Test failed") {
		t.Errorf("the failure's diagnostics: %q", d)
	}
}

func TestJudgeSelftest(t *testing.T) {
	t.Parallel()
	allPass := "1..2\nok 1 syscall_skip.skipexit\nok 2 syscall_skip.skipcall\n"
	oneSkipped := "1..2\nok 1 syscall_skip.skipexit\nok 2 syscall_skip.skipcall # SKIP why\n"
	attachFails := "1..2\nok 1 global.vmaccess\nnot ok 2 global.attach\n"
	for _, tc := range []struct {
		name, base, out string
		code            int
		patched         bool
		fail, skip      bool
	}{
		{"series test passes patched", "syscall_skip", allPass, 0, true, false, false},
		{"series test skips unpatched", "syscall_skip", skipAll, ksftSkip, false, false, true},
		{"series test passes unpatched", "syscall_skip", allPass, 0, false, true, false},
		{"series test skips patched", "syscall_skip", skipAll, ksftSkip, true, true, false},
		{"series subtest skips patched", "syscall_skip", oneSkipped, 0, true, true, false},
		{"series test fails unpatched", "syscall_skip", "1..1\nnot ok 1 x\n", 1, false, true, false},
		{"known failure", "vmaccess", attachFails, 1, true, false, false},
		{"known failure elsewhere is not", "peeksiginfo", attachFails, 1, true, true, false},
		{"short of the plan", "vmaccess", "1..3\nok 1 global.vmaccess\n", 0, false, true, false},
		{"not TAP, exit 0", "ptrace_syscall", "[OK]\tall\n", 0, true, false, false},
		{"not TAP, exit 1", "ptrace_syscall", "[FAIL]\tone\n", 1, true, true, false},
		{"exit 4 without a plan", "single_step_syscall", "[SKIP]\tno\n", ksftSkip, true, false, true},
		{"other skip all", "get_set_sud", skipAll, ksftSkip, true, false, true},
		{"TAP selftest printed nothing", "vmaccess", "", 0, true, true, false},
		{"series test printed nothing", "syscall_skip", "", 0, true, true, false},
		{"known failure but a crash", "vmaccess", "1..2\nok 1 global.vmaccess\n", 139, true, true, false},
	} {
		o := judgeSelftest(tc.base, parseSelftest([]byte(tc.out)), tc.code, tc.patched)
		if (o.fail != "") != tc.fail || (o.skip != "") != tc.skip {
			t.Errorf("%s: %+v, want fail %v skip %v", tc.name, o, tc.fail, tc.skip)
		}
	}
}

func TestJudgeSelftestMarksKnownFailures(t *testing.T) {
	t.Parallel()
	rep := parseSelftest([]byte("1..2\nok 1 global.vmaccess\nnot ok 2 global.attach\n"))
	judgeSelftest("vmaccess", rep, 1, false)
	if r := rep.Results[1]; r.Verdict != selftestKnownFailure || r.Reason != knownFailures["vmaccess/global.attach"] {
		t.Errorf("attach: %+v", r)
	}
}

func TestParseLeftOut(t *testing.T) {
	t.Parallel()
	got := parseLeftOut("seccomp_bpf_32: exit status 1: /usr/bin/ld: cannot find -lcap: No such file\n\n")
	want := []leftOutTest{{"seccomp_bpf_32", "exit status 1: /usr/bin/ld: cannot find -lcap: No such file"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%+v", got)
	}
}

func TestSelftestBase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"syscall_skip_64": "syscall_skip", "seccomp_bpf_32": "seccomp_bpf", "odd": "odd", "x_64_32": "x_64"} {
		if got := selftestBase(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// FuzzParseSelftest: any output parses, and every result can be a subtest:
// a name that is not empty, unique, and cannot end the result line early.
func FuzzParseSelftest(f *testing.F) {
	for _, s := range []string{harness612, harness61Skip, skipAll, "ok 1\nok 1\n", "ok 1 a\nok 2 a\nok 3 a_2\n", "1..0 # SKIP\n", "not ok 9 # XFAIL\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep := parseSelftest(b)
		seen := map[string]bool{}
		for _, r := range rep.Results {
			if r.Name == "" || seen[r.Name] || strings.ContainsAny(r.Name, "#\n ") {
				t.Fatalf("bad result name %q in %+v", r.Name, rep.Results)
			}
			seen[r.Name] = true
		}
		judgeSelftest("syscall_skip", rep, 0, true)
	})
}

// TestRunSelftestBinaryOrphan: a child the selftest leaves behind with its
// output open (vmaccess's attach test does) does not keep the run waiting,
// and everything the selftest printed is there.
func TestRunSelftestBinaryOrphan(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	tt := &T{name: "kselftest", cfg: Config{progress: &progress{w: &out, last: time.Now(), every: 50 * time.Millisecond}}}
	start := time.Now()
	got, _, err := runSelftestBinary(tt, "orphan", exec.Command("sh", "-c", "echo 1..1; (exec sleep 30) & sleep 0.2; echo ok 1 x"))
	if err != nil || string(got) != "1..1\nok 1 x\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %s for the orphan", d)
	}
	if p := string(out.Bytes()); !strings.Contains(p, proto.ProgressPrefix+" kselftest: orphan: last line: ") {
		t.Errorf("no progress line: %q", p)
	}
}

// TestRunSelftestBinaryKillsASilentOne: a selftest silent for
// hangProbeAfter has its processes looked at (the real ones, in this
// host's /proc), and one silent for childSilence is killed, and the error
// says so.
func TestRunSelftestBinaryKillsASilentOne(t *testing.T) {
	oldSilence, oldProbe := childSilence, hangProbeAfter
	childSilence, hangProbeAfter = 600*time.Millisecond, 200*time.Millisecond
	defer func() { childSilence, hangProbeAfter = oldSilence, oldProbe }()
	var out lockedBuffer
	tt := &T{name: "kselftest", cfg: Config{progress: &progress{w: &out, last: time.Now(), every: 50 * time.Millisecond}}}
	cmd := exec.Command("sh", "-c", "echo 1..1; sleep 30; echo not reached")
	got, silences, err := runSelftestBinary(tt, "hang", cmd)
	if err == nil || !strings.Contains(err.Error(), "hang printed nothing for 600ms and was killed") || string(got) != "1..1\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if len(silences) != 1 || silences[0].after != "1..1" {
		t.Fatalf("silences %+v, want one, after the plan", silences)
	}
	procs := silences[0].procs
	if len(procs) != 2 || procs[0].PID != cmd.Process.Pid || procs[1].PPID != procs[0].PID || procs[1].Comm != "sleep" {
		t.Fatalf("processes %v, want the shell and its sleep", procs)
	}
	for _, p := range procs {
		if p.State != 'S' || p.Syscall < 0 {
			t.Errorf("%s: want sleeping in a system call", p)
		}
	}
	if runtime.GOARCH == "amd64" && !waitCalls["64"][procs[0].Syscall] {
		t.Errorf("the shell: %s, want a wait for its child", procs[0])
	}
}

// TestRunSelftestNeedsItsPrograms: a selftest that execs a program by
// name (proto.SelftestPrograms) fails at once, saying which, when the
// image lacks it, and is run when it is there; a selftest that failed is
// never run again.
func TestRunSelftestNeedsItsPrograms(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		withTrue     bool
		wantFail     string // "" for a pass
	}{
		{"vmaccess_64", "echo 1..1; echo ok 1 global.vmaccess", true, ""},
		{"vmaccess_32", "echo 1..1; echo ok 1 global.vmaccess", false, "the image lacks /bin/true, which vmaccess_32 execs by name"},
		{"get_syscall_info_64", "echo 1..1; echo ok 1 global.get_syscall_info", false, ""},
		// Fails the first time (no marker yet), would pass a second time.
		{"vmaccess_64", "echo 1..1; if [ -e ran ]; then echo ok 1 global.vmaccess; exit 0; fi; : > ran; echo not ok 1 global.vmaccess; exit 1", true, "1 of 1 failed (exit 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.name), []byte("#!/bin/sh\ncd "+dir+"\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.withTrue {
				os.MkdirAll(filepath.Join(root, "bin"), 0o755)
				os.WriteFile(filepath.Join(root, "bin", "true"), []byte("#!/bin/sh\n"), 0o755)
			}
			old := guestRoot
			guestRoot = root
			defer func() { guestRoot = old }()
			var out lockedBuffer
			tt := &T{name: tc.name, cfg: Config{Expect: proto.LevelNone, progress: &progress{w: &out, last: time.Now(), every: time.Hour}}}
			tt.runLocked(func(tt *T) { runSelftest(tt, dir, tc.name) })
			log := strings.Join(tt.log, "\n")
			if tt.failed != (tc.wantFail != "") || !strings.Contains(log, tc.wantFail) {
				t.Errorf("failed %v, want failure %q; log %q", tt.failed, tc.wantFail, tt.log)
			}
		})
	}
}

// TestRunSelftestLostTeardownSignal: seccomp_bpf is run once more only
// when its one failure is a PTRACE_CONT tracer test that ran into the
// harness's timeout while every process below the harness waited for a
// child, and it printed its whole plan and exited 1; the second attempt
// decides, says so in its result, and the first one's output and
// processes are logged. Anything else fails at once, and so does the same
// hang twice.
func TestRunSelftestLostTeardownSignal(t *testing.T) {
	const (
		negENOSYS = "TRACE_syscall.seccomp.negative_ENOSYS"
		run       = "echo '#  RUN           " + negENOSYS + " ...'; sleep 0.4; "
		hung      = run + "echo '# negative_ENOSYS: Test terminated by timeout'; echo 'not ok 2 " + negENOSYS + "'"
		passed    = "echo 'ok 2 " + negENOSYS + "'"
	)
	self := 0 // the selftest's pid, which the fake snapshot is below
	cycle := func(root int) []procState {
		self = root
		return []procState{{PID: root, State: 'S', Syscall: 7}, {PID: root + 1, PPID: root, State: 'S', Syscall: 114}, {PID: root + 2, PPID: root + 1, State: 'S', Syscall: 114}}
	}
	traced := func(root int) []procState {
		p := cycle(root)
		p[1].State = 't'
		return p
	}
	for _, tc := range []struct {
		name, selftest, first, second string
		snapshot                      func(int) []procState
		wantRuns                      int
		wantFail                      bool
	}{
		{"a seccomp tracer test lost its signal once", "seccomp_bpf_32", hung, passed, cycle, 2, false},
		{"a TRACE_poke test lost its signal once", "seccomp_bpf_32",
			"echo '#  RUN           TRACE_poke.read_has_side_effects ...'; sleep 0.4; echo '# read_has_side_effects: Test terminated by timeout'; echo 'not ok 2 TRACE_poke.read_has_side_effects'",
			"echo 'ok 2 TRACE_poke.read_has_side_effects'", cycle, 2, false},
		{"hung twice", "seccomp_bpf_32", hung, hung, cycle, 2, true},
		{"the tracee was stopped, not waiting", "seccomp_bpf_32", hung, passed, traced, 1, true},
		{"a 64-bit selftest's snapshot with 32-bit calls", "seccomp_bpf_64", hung, passed, cycle, 1, true},
		{"the ptrace variant hung", "seccomp_bpf_32",
			"echo '#  RUN           TRACE_syscall.ptrace.negative_ENOSYS ...'; sleep 0.4; echo '# negative_ENOSYS: Test terminated by timeout'; echo 'not ok 2 TRACE_syscall.ptrace.negative_ENOSYS'",
			"echo 'ok 2 TRACE_syscall.ptrace.negative_ENOSYS'", cycle, 1, true},
		{"a failed check, then the hang", "seccomp_bpf_32",
			run + "echo '# seccomp_bpf.c:2191:negative_ENOSYS:Expected -1 (-1) == syscall(-1) (0)'; echo '# negative_ENOSYS: Test terminated by timeout'; echo 'not ok 2 " + negENOSYS + "'",
			passed, cycle, 1, true},
		{"another test's timeout line", "seccomp_bpf_32", run + "echo '# skip_after: Test terminated by timeout'; echo 'not ok 2 " + negENOSYS + "'", passed, cycle, 1, true},
		{"a failed check, no hang", "seccomp_bpf_32", "echo '# seccomp_bpf.c:2191:negative_ENOSYS:Expected -1 (-1) == syscall(-1) (0)'; echo 'not ok 2 " + negENOSYS + "'", passed, cycle, 1, true},
		{"a test outside the tracer fixtures hung", "seccomp_bpf_32", "echo '#  RUN           global.kcmp ...'; sleep 0.4; echo '# kcmp: Test terminated by timeout'; echo 'not ok 2 global.kcmp'", "echo 'ok 2 global.kcmp'", cycle, 1, true},
		{"another selftest", "get_syscall_info_32", hung, passed, cycle, 1, true},
		{"two hung", "seccomp_bpf_32", hung + "; echo '# skip_after: Test terminated by timeout'; echo 'not ok 3 TRACE_syscall.seccomp.skip_after'",
			passed + "; echo 'ok 3 TRACE_syscall.seccomp.skip_after'", cycle, 1, true},
		{"short of its plan", "seccomp_bpf_32", hung + "; exit 1", passed + "; echo 'ok 3 global.kcmp'", cycle, 1, true},
		{"not the harness's exit code", "seccomp_bpf_32", hung + "; echo 'ok 3 global.kcmp'; exit 139", passed + "; echo 'ok 3 global.kcmp'", cycle, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Two results planned (three where a case prints a third), exit 1
			// when a result failed, unless a case exits itself; the first
			// run leaves a marker.
			plan := "2"
			if strings.Contains(tc.first, "not ok 3") || strings.Contains(tc.second, "ok 3") {
				plan = "3"
			}
			script := "#!/bin/sh\ncd " + dir + "\necho run >> runs\n( (echo 1.." + plan + "\necho 'ok 1 global.mode_strict_support'\n" +
				"if [ -e ran ]; then " + tc.second + "; else : > ran; " + tc.first + "; fi); echo $? > status) | tee out\n" +
				"st=$(cat status); [ \"$st\" != 0 ] && exit $st\ngrep -q '^not ok' out && exit 1\nexit 0\n"
			if err := os.WriteFile(filepath.Join(dir, tc.selftest), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			oldProbe, oldSnap := hangProbeAfter, takeSnapshot
			hangProbeAfter, takeSnapshot = 100*time.Millisecond, tc.snapshot
			defer func() { hangProbeAfter, takeSnapshot = oldProbe, oldSnap }()
			var out lockedBuffer
			tt := &T{name: tc.selftest, cfg: Config{Expect: proto.LevelNone, progress: &progress{w: &out, last: time.Now(), every: 50 * time.Millisecond}}}
			tt.runLocked(func(tt *T) { runSelftest(tt, dir, tc.selftest) })
			runs, err := os.ReadFile(filepath.Join(dir, "runs"))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(runs), "run"); n != tc.wantRuns || tt.failed != tc.wantFail {
				t.Errorf("ran %d times, failed %v; want %d, %v; log %q", n, tt.failed, tc.wantRuns, tc.wantFail, tt.log)
			}
			log := strings.Join(tt.log, "\n")
			retried := strings.Contains(log, "first attempt: ") && strings.Contains(log, fmt.Sprintf("pid %d ", self+1))
			if retried != (tc.wantRuns == 2) {
				t.Errorf("first attempt's output and processes logged: %v; log %q", retried, tt.log)
			}
			if !tc.wantFail && !strings.Contains(tt.result, "second attempt; the first lost ") {
				t.Errorf("result %q does not say it took a second attempt", tt.result)
			}
		})
	}
}
