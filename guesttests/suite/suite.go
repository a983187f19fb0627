// Package suite holds the guest tests and runs them, printing KTAP (the
// kernel selftests' format) on an io.Writer. A test that traces a child
// re-executes this binary in tracee mode (see Tracee).
package suite

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// Test is one guest test.
type Test struct {
	Name string
	Run  func(t *T)
	// Named tests run only when asked for by name: the in-UML tests and the
	// benchmarks.
	Named bool
}

// T is a running test's state, as testing.T is for go test.
type T struct {
	name   string
	cfg    Config
	failed bool
	skip   string
	result string // a short diagnostic for the result line
	log    []string
	subs   []*T     // subtests, printed as nested KTAP before the result line
	nested []string // KTAP from elsewhere (UML), printed nested as it came
}

// Nest adds KTAP lines produced elsewhere (a UML boot) as t's subtests.
func (t *T) Nest(lines []string) { t.nested = append(t.nested, lines...) }

// Config is what a run knows about the kernel under test.
type Config struct {
	// Self is the path of this binary, re-executed for tracees.
	Self string
	// Tracee, when set, is the binary traced instead of Self (an i386
	// build, for ia32 tracees), and TraceeABI its syscall numbering.
	Tracee    string
	TraceeABI ABI
	// Bench runs the benchmarks (bench, bench_loop); they skip otherwise.
	Bench bool
	// IA32 is the suite's 386 build, for the ia32 test; "" means
	// IA32Binary.
	IA32 string
	// Expect is the PTRACE_VM level the kernel must offer; "" accepts
	// any level.
	Expect proto.Level
	// Planted names a test that fails on purpose after it ran
	// (ptvmlab.fault=fail:NAME), for the lab's own tests.
	Planted string
	probed  proto.Level
	// progress, set by Run, sends progress lines on the results channel
	// while a long test runs, so that the host's silence watchdog sees a
	// healthy slow guest move.
	progress *progress
}

func (c Config) traceeBin() string {
	if c.Tracee != "" {
		return c.Tracee
	}
	return c.Self
}

func (c Config) abi() ABI {
	if c.Tracee != "" {
		return c.TraceeABI
	}
	return NativeABI
}

// patched reports whether the kernel must honour the tags. With no
// expectation (a run outside the lab) the probe decides.
func (t *T) patched() bool {
	switch t.cfg.Expect {
	case proto.LevelSkipCall:
		return true
	case proto.LevelNone:
		return false
	}
	if t.cfg.probed == "" {
		t.cfg.probed = Probe(&T{name: "probe", cfg: t.cfg})
	}
	return t.cfg.probed == proto.LevelSkipCall
}

// Logf adds a diagnostic line to the test's output.
func (t *T) Logf(format string, args ...any) { t.log = append(t.log, fmt.Sprintf(format, args...)) }

// Errorf records a failure and goes on.
func (t *T) Errorf(format string, args ...any) {
	t.failed = true
	t.Logf(format, args...)
}

// Fatalf records a failure and ends the test.
func (t *T) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

// Skipf ends the test as skipped, with the reason shown in KTAP.
func (t *T) Skipf(format string, args ...any) {
	t.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Result sets the diagnostic printed on the test's result line.
func (t *T) Result(s string) { t.result = s }

// Run runs fn as a subtest named name, on the calling goroutine's thread. A
// failed subtest fails t.
func (t *T) Run(name string, fn func(t *T)) bool {
	return t.RunWith(name, t.cfg, fn)
}

// RunWith is Run with another configuration (an ia32 tracee, say).
func (t *T) RunWith(name string, cfg Config, fn func(t *T)) bool {
	sub := &T{name: name, cfg: cfg}
	sub.runLocked(fn)
	t.Progressf("%s ended", name)
	t.subs = append(t.subs, sub)
	if sub.failed {
		t.failed = true
	}
	return !sub.failed
}

// runLocked runs fn(t) on a goroutine locked to a thread of its own, which
// is dropped when fn ends: a tracer's requests must all come from one
// thread. Fatalf and Skipf end fn early; a panic fails t.
func (t *T) runLocked(fn func(*T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("panic: %v", r)
			}
		}()
		fn(t)
	}()
	<-done
}

// Config returns what the run knows about the kernel under test.
func (t *T) Config() Config { return t.cfg }

// write prints t as KTAP result number n at the given indentation.
func (t *T) write(w io.Writer, n int, indent string) {
	for _, l := range t.nested {
		fmt.Fprintf(w, "%s  %s\n", indent, l)
	}
	if len(t.subs) > 0 {
		fmt.Fprintf(w, "%s  KTAP version 1\n%s  1..%d\n", indent, indent, len(t.subs))
		for i, sub := range t.subs {
			sub.write(w, i+1, indent+"  ")
		}
	}
	for _, l := range t.log {
		for _, line := range strings.Split(l, "\n") {
			fmt.Fprintf(w, "%s# %s: %s\n", indent, t.name, line)
		}
	}
	status, text := proto.StatusPass, t.result
	switch {
	case t.failed:
		status = proto.StatusFail
	case t.skip != "":
		status, text = proto.StatusSkip, t.skip
	}
	fmt.Fprintf(w, "%s%s\n", indent, proto.ResultLine(status, n, t.name, text))
}

// Run runs tests in order and writes a KTAP report to w. It returns the
// number of failed tests. While a test runs, progress lines ("# progress:
// …", KTAP diagnostics) may go to w between results.
func Run(w io.Writer, cfg Config, tests []Test) int {
	p := &progress{w: w, last: time.Now(), every: ProgressEvery}
	cfg.progress = p
	p.write(func() { fmt.Fprintf(w, "KTAP version 1\n1..%d\n", len(tests)) })
	failed := 0
	for i, tc := range tests {
		t := &T{name: tc.Name, cfg: cfg}
		start := time.Now()
		t.runLocked(tc.Run)
		if tc.Name == cfg.Planted {
			t.Errorf("planted fault: %s%s on the kernel command line fails this test on purpose", proto.FaultFail, tc.Name)
		}
		t.Logf("took %s", time.Since(start).Round(time.Microsecond))
		p.write(func() { t.write(w, i+1, "") })
		if t.failed {
			failed++
		}
	}
	return failed
}

// ProgressEvery is the least time between two progress lines.
const ProgressEvery = 5 * time.Second

// progress writes progress lines between a run's results.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	last  time.Time     // when anything was last written
	every time.Duration // the least time between two progress lines
}

// interval is how often a watcher looks for progress.
func (p *progress) interval() time.Duration {
	if p == nil || p.every <= 0 {
		return ProgressEvery
	}
	return p.every
}

func (p *progress) write(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	p.last = time.Now()
}

// say writes one progress line when ProgressEvery has passed since the
// run last wrote anything, or always when force is set.
func (p *progress) say(msg string, force bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < p.every {
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", proto.ProgressPrefix, strings.ReplaceAll(msg, "\n", " "))
	p.last = time.Now()
}

// Progressf says that t is moving, at most every ProgressEvery: a long
// test calls it as it makes progress (a subtest ends, a child prints).
func (t *T) Progressf(format string, args ...any) {
	t.cfg.progress.say(t.name+": "+fmt.Sprintf(format, args...), false)
}

// Select returns the tests named in names (when names is empty, every test
// that is not Named), or an error naming an unknown test.
func Select(all []Test, names []string) ([]Test, error) {
	if len(names) == 0 {
		var out []Test
		for _, t := range all {
			if !t.Named {
				out = append(out, t)
			}
		}
		return out, nil
	}
	byName := map[string]Test{}
	for _, t := range all {
		byName[t.Name] = t
	}
	var out []Test
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown test %q", n)
		}
		out = append(out, t)
	}
	return out, nil
}
