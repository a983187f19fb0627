package suite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/guesttests/ptrace"
)

// umlTests run inside UML, on UML's own processes: the behaviours UML
// offers them, and UML's own switches. sysemu is refused in UML
// (sysemu_refused pins that); seccomp stays out: UML has no
// PTRACE_GET_SYSCALL_INFO, and a call a KILL filter rolls back looks like
// an entry stop to the -ENOSYS heuristic.
var umlTests = []string{"probe", "baseline", "skipexit", "skipcall", "skipcall_poked", "unknown_bits",
	"tags_dont_stick", "cont_and_singlestep", "signals", "restart", "detach", "singlestep_syscall", "uml_sysptvm", "sysemu_refused", "uml_escape",
	"event_stops", "mixed_stops", "syscall_info_op"}

// umlBoot is one set of UML boot flags, the matrix's "UML boot flags".
type umlBoot struct {
	name  string
	flags []string
	// tests run inside UML in this boot; umlTests when nil.
	tests []string
	// needs is a boot flag UML must know for this boot to mean anything
	// (UML ignores flags it does not know), as its help text begins: ""
	// for none. without says why a UML may not know it.
	needs, without string
}

// sysemuOffTests run in the boots where UML's own PTRACE_SYSEMU is off
// while sysptvm is on (review finding M4: single-stepping across a system
// call then resumed the host with an untagged PTRACE_SYSCALL while
// handle_trap() took the call as emulated, and the exit stop read as a
// phantom system call -1 whose -ENOSYS replaced the real result).
var sysemuOffTests = []string{"singlestep_syscall", "baseline", "skipexit", "skipcall", "cont_and_singlestep", "uml_escape"}

var umlBoots = []umlBoot{
	{name: "default"},
	{name: "nosysptvm", flags: []string{"nosysptvm"}},
	{name: "usesysemu", flags: []string{"usesysemu"}},
	// Only UMLs before 6.3 have nosysemu and /proc/sysemu.
	{name: "nosysemu", flags: []string{"nosysemu"}, tests: sysemuOffTests, needs: "nosysemu", without: noSysemuModes},
	{name: "sysemu-off", tests: append([]string{"uml_sysemu_off"}, sysemuOffTests...), needs: "nosysemu", without: noSysemuModes},
	// UML's seccomp userspace (6.16): its processes are not traced, so the
	// series changes nothing there and says so at start-up; the
	// behaviours inside UML must pass all the same.
	// UML takes seccomp= off its command line; the ptvmlab.umlboots word
	// stays there and tells the tests inside UML which boot this is.
	{name: "seccomp", flags: []string{"seccomp=on", proto.ArgUMLBoots + "=seccomp"}, needs: "seccomp=<on/auto/off>",
		without: "seccomp userspace arrived in 6.16"},
}

const noSysemuModes = "removed in 6.3: UML always uses PTRACE_SYSEMU"

// seccompVerdict is the patched UML's start-up verdict in its seccomp mode.
const seccompVerdict = "not used (seccomp)"

const probeMarker = "Checking ptrace new tags for syscall emulation..."

// probeVerdict finds UML's start-up verdict on the tags: the text after
// the marker, or, when UML's buffered stdout got flushed in between (2.6.29
// prints its checks on stderr and other lines on stdout, and forked
// children flush the stdout buffer), the first later line that is a
// verdict. "" when there is no marker.
func probeVerdict(out []byte) string {
	i := bytes.Index(out, []byte(probeMarker))
	if i < 0 {
		return ""
	}
	lines := strings.Split(string(out[i+len(probeMarker):]), "\n")
	for n, l := range lines {
		l = strings.TrimSpace(l)
		if n == 0 && verdictRe.MatchString(l) {
			return l
		}
		if n > 0 && verdictLineRe.MatchString(l) {
			return l
		}
	}
	return strings.TrimSpace(lines[0])
}

var (
	verdictRe     = regexp.MustCompile(`^(OK|OK \(disabled\)|unsupported|not used \(seccomp\))`)
	verdictLineRe = regexp.MustCompile(`^(OK|OK \(disabled\)|unsupported|not used \(seccomp\))$`)
)

// testUML boots the image's User-Mode Linux three times (default,
// nosysptvm, usesysemu), checks its start-up line, and runs the behaviours
// inside it; UML's KTAP is nested under each boot.
func testUML(t *T) {
	guest := guestArgs()
	if guest.UML == proto.UMLUnreliable {
		t.Skipf("this kernel's 32-bit UML is left out: it kills a freshly exec'd Go process in about half the boots, " +
			"patched or not (set_thread_area reads an all-zero user_desc, PTRACE_SET_THREAD_AREA fails with EINVAL); 6.12's passes")
	}
	if guest.UML == proto.UMLOff {
		t.Skipf("this cell runs without UML (ptvmlab run --no-uml)")
	}
	if _, err := os.Stat(proto.UMLKernel); err != nil {
		// Both guests carry a UML of their own width: a 64-bit one in
		// x86_64 guests, a 32-bit one (SUBARCH=i386) in i386 guests.
		t.Fatalf("the %s image lacks %s (run with --no-uml to leave UML out on purpose)", goarch, proto.UMLKernel)
	}
	patched := t.patched()
	boots, err := selectedUMLBoots()
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, b := range boots {
		t.Run(b.name, func(t *T) {
			if b.needs != "" && !umlKnowsFlag(b.needs) {
				t.Skipf("this UML has no %s flag (%s)", strings.Fields(b.needs)[0], b.without)
			}
			if b.name == "sysemu-off" && !patched {
				t.Skipf("unpatched, this UML kills its init when 0 is written to /proc/sysemu at run time " +
					"(the stop PTRACE_SYSEMU started ends with PTRACE_SYSCALL, whose exit stop reads as a new call): " +
					"an upstream bug; with the series UML's resumes do not depend on that switch")
			}
			tests := b.tests
			if tests == nil {
				tests = umlTests
			}
			var want string // the start-up line's verdict; "" for no line
			switch {
			case !patched:
				want = ""
			case b.name == "default", b.name == "nosysemu", b.name == "sysemu-off":
				want = "OK"
			case b.name == "nosysptvm":
				want = "OK (disabled)"
			case b.name == "seccomp":
				want = seccompVerdict
			}
			// The host side of uml_escape's oracle: a directory only UML's
			// host has, which must still be empty when UML is done, and
			// UML's traced host processes, sampled while UML runs, which
			// must never have a second thread (hostthreads.go).
			if err := os.RemoveAll(EscapeHostDir); err != nil {
				t.Fatalf("%v", err)
			}
			if err := os.Mkdir(EscapeHostDir, 0o777); err != nil {
				t.Fatalf("%v", err)
			}
			threads := watchTracedThreads("/proc", 2*time.Millisecond)
			guard, gerr := newCloneGuard()
			if gerr != nil {
				t.Fatalf("%v", gerr)
			}
			out, seen, err := runUMLGuarded(t, "UML", b.flags, patched, guard, tests...)
			switch {
			case len(seen.threads) > 0:
				t.Errorf("guest-to-host escape: UML's host made a thread for a UML process: %s (UML makes no thread on its host; seccomp told the guard)",
					strings.Join(seen.threads, "; "))
			case seen.why != "":
				t.Logf("note: no clone guard on this kernel (%s); the thread oracle is the sampler alone", seen.why)
			}
			if found, samples := threads.Stop(); found != "" {
				t.Errorf("guest-to-host escape: UML's host gained a thread: %s (UML keeps each of its processes in a single-threaded traced host process; %d samples)", found, samples)
			}
			if ents, _ := os.ReadDir(EscapeHostDir); len(ents) > 0 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("guest-to-host escape: UML's host process created %s/{%s}, a path only the host has, for a UML process",
					EscapeHostDir, strings.Join(names, ","))
			}
			got := probeVerdict(out)
			if got != want {
				t.Errorf("start-up probe line says %q, want %q", got, want)
			}
			lines, failed, passed := umlKTAP(out)
			t.Nest(lines)
			switch {
			case err != nil && passed+failed == len(tests) && poweredDown(out):
				// Every behaviour reported and UML's kernel powered down;
				// the UML process then died on its way out (seen under
				// load, patched or not). That is UML's shutdown, not a
				// PTRACE_VM result: say so, and judge the rest.
				t.Logf("note: UML ended with %v after it powered down (a UML shutdown crash, not a PTRACE_VM result); how it ended:", err)
				for _, l := range lastLines(umlTail(out), 15) {
					t.Logf("%s", l)
				}
			case err != nil:
				t.Errorf("UML: %v", err)
				if len(lines) > 0 {
					// The behaviours reported, yet UML ended badly: show
					// how it ended (a panic or an abort at shutdown).
					for _, l := range lastLines(umlTail(out), 15) {
						t.Logf("%s", l)
					}
				}
			}
			switch {
			case len(lines) == 0:
				for _, l := range lastLines(out, 15) {
					t.Logf("%s", l)
				}
				t.Errorf("no KTAP from inside UML")
			case failed > 0:
				t.Errorf("%d behaviours failed inside UML", failed)
			case passed != len(tests):
				t.Errorf("%d of %d behaviours reported inside UML", passed, len(tests))
			default:
				t.Result(fmt.Sprintf("probe line %q, %d behaviours passed inside UML", got, passed))
			}
		})
	}
}

// testUMLBench boots UML with sysptvm (default), with usesysemu and, where
// UML has it, in its seccomp mode, and reports ns per system call of a
// syscall-heavy loop inside it.
func testUMLBench(t *T) {
	if !t.cfg.Bench {
		t.Skipf("a benchmark: runs with ptvm-tests -bench (ptvmlab bench)")
	}
	if _, err := os.Stat(proto.UMLKernel); err != nil {
		t.Skipf("no UML in this image")
	}
	for _, name := range []string{"default", "usesysemu", "seccomp"} {
		b := umlBootNamed(name)
		if b.needs != "" && !umlKnowsFlag(b.needs) {
			t.Logf(proto.BenchUMLSkipped, b.name, fmt.Sprintf("this UML has no %s flag (%s)", strings.Fields(b.needs)[0], b.without))
			continue
		}
		out, err := runUML(t, "UML "+b.name, append(proto.Args{Bench: true}.Cmdline(), b.flags...), t.patched(), "bench_loop")
		if err != nil {
			t.Errorf("UML %s: %v", b.name, err)
		}
		found := false
		for _, l := range strings.Split(string(out), "\n") {
			if i := strings.Index(l, "bench loop "); i >= 0 {
				t.Logf("uml %s: %s", b.name, strings.TrimSpace(l[i:]))
				found = true
			}
		}
		if !found {
			t.Errorf("UML %s printed no benchmark line", b.name)
		}
	}
}

// umlBootNamed is the boot flag set called name in umlBoots.
func umlBootNamed(name string) umlBoot {
	i := slices.IndexFunc(umlBoots, func(b umlBoot) bool { return b.name == name })
	return umlBoots[i]
}

// runUML boots UML with flags, running the named tests (the in-UML
// behaviours when none are named), and returns everything it printed.
// While it runs, t sends progress lines with UML's latest output.
func runUML(t *T, label string, flags []string, patched bool, tests ...string) ([]byte, error) {
	out, _, err := runUMLGuarded(t, label, flags, patched, nil, tests...)
	return out, err
}

// runUMLGuarded is runUML with UML started under guard (see cloneguard.go)
// when guard is not nil; it returns what the guard saw (nil, "" without
// one).
func runUMLGuarded(t *T, label string, flags []string, patched bool, guard *cloneGuard, tests ...string) ([]byte, guardReport, error) {
	expect := proto.LevelNone
	if patched {
		expect = proto.LevelSkipCall
	}
	if len(tests) == 0 {
		tests = umlTests
	}
	guest := proto.Args{Channel: proto.ChannelConsole, Halt: proto.HaltPowerOff, Expect: expect, Tests: tests}
	loglevel := "1"
	if l := guestArgs().UMLLogLevel; l != "" {
		loglevel = l
	}
	args := append(append([]string{"mem=96M", "initrd=" + proto.UMLInitrd, "con0=fd:0,fd:1", "con=null", "loglevel=" + loglevel},
		guest.Cmdline()...), flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// UML's console reads stdin: give it a pipe that stays open and silent.
	stdin, w, err := os.Pipe()
	if err != nil {
		return nil, guardReport{}, err
	}
	cmd := exec.CommandContext(ctx, proto.UMLKernel, args...)
	if guard != nil {
		cmd = exec.CommandContext(ctx, t.cfg.Self, append([]string{CloneGuardFlag, proto.UMLKernel}, args...)...)
		cmd.ExtraFiles = guard.Files()
		go guard.serve()
	}
	defer w.Close()
	defer stdin.Close()
	cmd.Stdin = stdin
	cmd.Env = []string{"PATH=/bin", "TMPDIR=/tmp", "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := runWatched(t, label, cmd)
	if ctx.Err() != nil {
		err = fmt.Errorf("UML did not end within 150s")
	}
	var rep guardReport
	if guard != nil {
		rep.threads, rep.why = guard.Stop()
	}
	return out, rep, err
}

// guardReport is what a clone guard saw: the clone(CLONE_THREAD) calls of
// UML's host processes, or why there was no guard.
type guardReport struct {
	threads []string
	why     string
}

// umlKTAP extracts the KTAP block UML's init printed, and counts the
// top-level results.
func umlKTAP(out []byte) (lines []string, failed, passed int) {
	in := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "KTAP version 1" {
			in, lines, failed, passed = true, nil, 0, 0
		}
		if !in || !looksKTAP(l) {
			continue
		}
		lines = append(lines, l)
		switch {
		case strings.HasPrefix(l, "not ok "):
			failed++
		case strings.HasPrefix(l, "ok "):
			passed++
		}
	}
	return lines, failed, passed
}

func looksKTAP(l string) bool {
	s := strings.TrimLeft(l, " ")
	for _, p := range []string{"KTAP version", "1..", "ok ", "not ok ", "#"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// lastLines is the last n lines of b. A panicking UML prints its reason
// first and a register dump and stack after it, which alone fill them: the
// reason is kept in front.
func lastLines(b []byte, n int) []string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) <= n {
		return ls
	}
	tail := ls[len(ls)-n:]
	for _, l := range ls[:len(ls)-n] {
		if strings.Contains(l, "Kernel panic") {
			return append([]string{l, "..."}, tail...)
		}
	}
	return tail
}

// inUML reports whether this runs on a User-Mode Linux kernel.
func inUML() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	return err == nil && bytes.Contains(b, []byte("User Mode Linux"))
}

// selectedUMLBoots is the UML boot flag sets ptvmlab.umlboots names, in
// their usual order; all three when it names none.
func selectedUMLBoots() ([]umlBoot, error) {
	want := guestArgs().UMLBoots
	if len(want) == 0 {
		return umlBoots, nil
	}
	var out []umlBoot
	for _, name := range want {
		i := slices.IndexFunc(umlBoots, func(b umlBoot) bool { return b.name == name })
		if i < 0 {
			return nil, fmt.Errorf("%s=%s: unknown flag set %q (%s)", proto.ArgUMLBoots, strings.Join(want, ","), name, umlBootNames())
		}
		out = append(out, umlBoots[i])
	}
	return out, nil
}

func umlBootNames() string {
	var names []string
	for _, b := range umlBoots {
		names = append(names, b.name)
	}
	return strings.Join(names, ", ")
}

// umlKnowsFlag reports whether the image's UML kernel has the boot flag:
// its help text ("flag\n    what it does") is in the binary.
func umlKnowsFlag(flag string) bool {
	b, err := os.ReadFile(proto.UMLKernel)
	return err == nil && bytes.Contains(b, []byte("\x00"+flag+"\n"))
}

// poweredDown reports whether UML's kernel said it powered off after the
// last KTAP line.
func poweredDown(out []byte) bool {
	tail := umlTail(out)
	return bytes.Contains(tail, []byte("reboot: Power down")) || bytes.Contains(tail, []byte("System halted"))
}

// umlTail is UML's output after its last KTAP line: how it shut down.
func umlTail(out []byte) []byte {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if bytes.HasPrefix(l, []byte("ok ")) || bytes.HasPrefix(l, []byte("not ok ")) || bytes.HasPrefix(l, []byte("# ")) {
			return bytes.Join(lines[i+1:], []byte("\n"))
		}
	}
	return out
}

// guestArgs is what the host asked of this guest. A value the init could
// not read was reported by the init; here it reads as unset.
func guestArgs() proto.Args {
	b, _ := os.ReadFile("/proc/cmdline")
	a, _ := proto.ParseArgs(strings.Fields(string(b)))
	return a
}

// umlFlags is the set of words on the kernel's command line (UML's boot
// flags, inside UML).
func umlFlags() map[string]bool {
	b, _ := os.ReadFile("/proc/cmdline")
	m := map[string]bool{}
	for _, f := range strings.Fields(string(b)) {
		m[f] = true
	}
	return m
}

// testUMLSysptvm (inside UML): /proc/sysptvm exists when the host offers the
// tags and UML probed for them, says whether they are in use, and writing 0
// and 1 switches them, also while a process is making system calls. In
// UML's seccomp mode (seccomp=on) it does not exist.
func testUMLSysptvm(t *T) {
	if !inUML() {
		t.Skipf("runs inside User-Mode Linux only")
	}
	flags := umlFlags()
	b, err := os.ReadFile("/proc/sysptvm")
	hostHasTags := t.patched() // the QEMU guest kernel and UML carry the same series
	switch {
	case flags[proto.ArgUMLBoots+"=seccomp"]:
		// Seccomp userspace: UML's processes are not traced, nothing
		// to switch; the series makes no /proc/sysptvm there.
		if err == nil {
			t.Errorf("/proc/sysptvm exists (%q) in UML's seccomp mode, where the tags have no stop to act on", b)
		}
		t.Result("no /proc/sysptvm in seccomp mode, as expected")
		return
	case !hostHasTags || flags["usesysemu"]:
		if err == nil {
			t.Errorf("/proc/sysptvm exists (%q) though UML did not find the tags", b)
		}
		t.Result("no /proc/sysptvm, as expected")
		return
	case err != nil:
		t.Fatalf("/proc/sysptvm: %v", err)
	}
	want := "1"
	if flags["nosysptvm"] {
		want = "0"
	}
	if got := strings.TrimSpace(string(b)); got != want {
		t.Errorf("/proc/sysptvm reads %q at boot, want %q", got, want)
	}
	for _, v := range []string{"0", "1", "0", "1"} {
		if err := os.WriteFile("/proc/sysptvm", []byte(v+"\n"), 0); err != nil {
			t.Fatalf("write %s to /proc/sysptvm: %v", v, err)
		}
		if got, _ := os.ReadFile("/proc/sysptvm"); strings.TrimSpace(string(got)) != v {
			t.Errorf("wrote %s to /proc/sysptvm, it reads %q", v, got)
		}
	}
	// Anything but 0 or 1 (a trailing newline allowed) is refused with
	// EINVAL and changes nothing: "10" and "1junk" were taken as 1 by
	// v1 (the v2 review's minor points).
	for _, bad := range []string{"10", "1junk", "2", "y", "-1", " 1"} {
		err := os.WriteFile("/proc/sysptvm", []byte(bad), 0)
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("writing %q to /proc/sysptvm: %v, want EINVAL", bad, err)
		}
		if got, _ := os.ReadFile("/proc/sysptvm"); strings.TrimSpace(string(got)) != "1" {
			t.Errorf("writing %q to /proc/sysptvm changed it to %q", bad, got)
		}
	}
	// Toggle under load: every getpid() must still return the pid.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.WriteFile("/proc/sysptvm", []byte(strconv.Itoa(i%2)), 0)
		}
	}()
	pid := os.Getpid()
	bad := 0
	for i := 0; i < 20000; i++ {
		if syscall.Getpid() != pid {
			bad++
		}
	}
	close(stop)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of 20000 getpid() calls returned a wrong pid while /proc/sysptvm toggled", bad)
	}
	os.WriteFile("/proc/sysptvm", []byte(want), 0)
	t.Result("read " + want + " at boot; 0/1 writes, refusals of anything else, and toggling under load work")
}

// testUMLSysemuOff (inside UML, first in the "sysemu=0" boot): turns UML's
// own PTRACE_SYSEMU off through /proc/sysemu, so that the behaviours after
// it run with sysptvm on and sysemu off, the mix of review finding M4.
func testUMLSysemuOff(t *T) {
	if !inUML() {
		t.Skipf("runs inside User-Mode Linux only")
	}
	if _, err := os.Stat("/proc/sysemu"); err != nil {
		t.Skipf("this UML has no /proc/sysemu (removed in 6.3)")
	}
	if err := os.WriteFile("/proc/sysemu", []byte("0"), 0); err != nil {
		t.Fatalf("write 0 to /proc/sysemu: %v", err)
	}
	b, err := os.ReadFile("/proc/sysemu")
	if err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("/proc/sysemu reads %q (%v) after writing 0", b, err)
	}
	t.Result("/proc/sysemu is 0: the behaviours after this run with UML's PTRACE_SYSEMU off")
}

// testSysemuRefused (inside UML): UML refuses PTRACE_SYSEMU to its own
// processes with EIO.
func testSysemuRefused(t *T) {
	if !inUML() {
		t.Skipf("runs inside User-Mode Linux only")
	}
	tr := start(t, ScenarioBasic)
	defer tr.Kill()
	_, err := ptrace.Raw(ptrace.Sysemu, tr.Pid, 0, 0)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("PTRACE_SYSEMU from a UML process: %v, want EIO", err)
	}
}
