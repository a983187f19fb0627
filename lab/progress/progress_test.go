package progress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// fakeClock is a clock whose time moves and whose tickers tick only when
// the test says.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2009, 3, 16, 0, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Ticker(time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1) // as time.Ticker: one tick waits, more are dropped
	f.tickers = append(f.tickers, c)
	return c, func() {}
}

// tick moves the time on by d and ticks every ticker.
func (f *fakeClock) tick(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	cs := append([]chan time.Time(nil), f.tickers...)
	f.mu.Unlock()
	for _, c := range cs {
		select {
		case c <- f.now:
		default:
		}
	}
}

// syncBuffer is a bytes.Buffer for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) lines() []string {
	s := strings.TrimRight(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitLines waits (a second at most) until out holds n lines, and fails
// the test when it does not.
func waitLines(t *testing.T, out *syncBuffer, n int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for len(out.lines()) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := out.lines()
	if len(got) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(got), n, out.String())
	}
	return got
}

// TestBuildLines: off a terminal a build prints a start line, one
// heartbeat per tick however many objects make reports (none between
// ticks, one at a tick with no objects), and an end line.
func TestBuildLines(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	var out syncBuffer
	r := New(Opts{Out: &out, Clock: clk})
	task := r.Build("x86_64", 800)
	waitLines(t, &out, 1)

	// A long link step: make says nothing, the heartbeat comes all the same.
	clk.tick(30 * time.Second)
	waitLines(t, &out, 2)

	// A flood of make lines prints nothing until the next tick.
	for i := 0; i < 10000; i++ {
		task.Add(1)
	}
	time.Sleep(10 * time.Millisecond)
	waitLines(t, &out, 2)
	clk.tick(30 * time.Second)
	waitLines(t, &out, 3)
	clk.tick(70 * time.Second)
	waitLines(t, &out, 4)
	task.Done(nil)
	task.Done(nil) // a second Done prints nothing
	task.Add(5)    // nor an Add after it
	clk.tick(30 * time.Second)
	time.Sleep(10 * time.Millisecond)
	got := waitLines(t, &out, 5)
	want := []string{
		"building x86_64: started, ~800 objects expected",
		"building x86_64: 0/~800 objects, 30s",
		"building x86_64: 10000/~800 objects, 1m00s",
		"building x86_64: 10000/~800 objects, 2m10s",
		"building x86_64: done, 10000 objects, 2m10s",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i+1, got[i], want[i])
		}
	}
}

// TestBootLines: a boot's heartbeat says the results so far of the plan
// and the test that runs; its end says how it ended.
func TestBootLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"passed", nil, "booting 6.12/auto/x86_64/default: done, 7/21 tests, 1m05s"},
		{"failed", errors.New("boom"), "booting 6.12/auto/x86_64/default: failed, 7/21 tests, 1m05s"},
		{"interrupted", fmt.Errorf("boot: %w", context.Canceled), "booting 6.12/auto/x86_64/default: stopped, 7/21 tests, 1m05s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			var out syncBuffer
			r := New(Opts{Out: &out, Clock: clk})
			task := r.Boot("6.12/auto/x86_64/default")
			task.SetTotal(21)
			task.Add(7)
			task.Now("syscall_skip")
			clk.tick(65 * time.Second)
			waitLines(t, &out, 2)
			task.Done(tt.err)
			got := waitLines(t, &out, 3)
			if want := "booting 6.12/auto/x86_64/default: started"; got[0] != want {
				t.Errorf("start: %q, want %q", got[0], want)
			}
			if want := "booting 6.12/auto/x86_64/default: 7/21 tests, now syscall_skip, 1m05s"; got[1] != want {
				t.Errorf("heartbeat: %q, want %q", got[1], want)
			}
			if got[2] != tt.want {
				t.Errorf("end: %q, want %q", got[2], tt.want)
			}
		})
	}
}

// TestHeartbeatRealClock: with the real clock a silent task beats on its
// interval, and a flood of counts over several intervals prints no more
// than one line an interval.
func TestHeartbeatRealClock(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Millisecond
	var out syncBuffer
	r := New(Opts{Out: &out, Every: every})
	task := r.Build("i386", 0)
	deadline := time.Now().Add(2 * time.Second)
	for len(out.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(out.lines()); n < 2 {
		t.Fatalf("no heartbeat from a silent task within %s:\n%s", 2*time.Second, out.String())
	}
	before := len(out.lines())
	start := time.Now()
	for time.Since(start) < 10*every {
		task.Add(1)
	}
	took := time.Since(start)
	task.Done(nil)
	printed := len(out.lines()) - before
	if most := int(took/every) + 2; printed > most {
		t.Errorf("%d lines in %s of a flood with a %s heartbeat, want at most %d:\n%s", printed, took, every, most, out.String())
	}
}

// TestNil: a nil Reporter makes nil tasks, and both do nothing.
func TestNil(t *testing.T) {
	t.Parallel()
	var r *Reporter
	task := r.Build("x86_64", 10)
	task.Add(1)
	task.SetTotal(3)
	task.Now("x")
	task.Done(nil)
	if _, err := r.Write([]byte("x\n")); err != nil || r.Terminal() {
		t.Errorf("nil reporter: %v, terminal %v", err, r.Terminal())
	}
}

// TestNowIsOneShortLine: Now keeps one line of bounded length.
func TestNowIsOneShortLine(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	var out syncBuffer
	r := New(Opts{Out: &out, Clock: clk})
	task := r.Boot("b")
	task.Now("ptrace_vm:\n  " + strings.Repeat("x", 200))
	clk.tick(time.Second)
	got := waitLines(t, &out, 2)[1]
	task.Done(nil)
	if !strings.Contains(got, "now ptrace_vm: xxx") || len([]rune(got)) > 120 {
		t.Errorf("heartbeat %q: want the text on one line, clipped", got)
	}
}

// TestTerminal: on a terminal tasks are bars; log lines written through
// the reporter come above them; after the last task the output ends with
// the final state, and nothing more is drawn.
func TestTerminal(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	r := New(Opts{Out: &out, Terminal: true})
	b := r.Build("x86_64", 800)
	boot := r.Boot("6.12/auto/x86_64/default")
	for i := 0; i < 412; i++ {
		b.Add(1)
	}
	boot.SetTotal(21)
	boot.Add(7)
	boot.Now("syscall_skip")
	fmt.Fprintf(r, "level=INFO msg=%q\n", "a log line")
	b.Done(nil)
	boot.Done(errors.New("boom"))
	s := out.String()
	for _, want := range []string{"building x86_64", "done, 412 objects", "booting 6.12/auto/x86_64/default", "failed, 7/21 tests", "a log line", "\x1b["} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if r.bars != nil {
		t.Errorf("the bar container outlived its last task")
	}
	// A later task draws again, in a container of its own.
	later := r.Build("i386", 0)
	later.Done(nil)
	if !strings.Contains(out.String(), "building i386") {
		t.Errorf("a later task was not drawn:\n%q", out.String())
	}
	n := len(out.String())
	fmt.Fprintln(r, "after")
	if got := out.String()[n:]; got != "after\n" {
		t.Errorf("a log line with no task drawn: %q, want it as it is", got)
	}
}

func TestElapsed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1400 * time.Millisecond, "1s"},
		{59 * time.Second, "59s"},
		{65 * time.Second, "1m05s"},
		{4*time.Minute + 31*time.Second, "4m31s"},
		{time.Hour + 2*time.Minute + 3*time.Second, "1h02m03s"},
	}
	for _, tt := range tests {
		if got := Elapsed(tt.d); got != tt.want {
			t.Errorf("Elapsed(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestCounts: a family's count survives to the next process; a missing,
// broken or unnamable one is no estimate.
func TestCounts(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	if n := LastCount(c, "kbuild-6.12-x86_64-patched"); n != 0 {
		t.Errorf("no count kept: %d, want 0", n)
	}
	if err := SaveCount(c, "kbuild-6.12-x86_64-patched", 812); err != nil {
		t.Fatal(err)
	}
	if err := SaveCount(c, "kbuild-6.12-x86_64-patched", 815); err != nil {
		t.Fatal(err)
	}
	if n := LastCount(c, "kbuild-6.12-x86_64-patched"); n != 815 {
		t.Errorf("kept count: %d, want 815", n)
	}
	if n := LastCount(c, "kbuild-6.12-i386-patched"); n != 0 {
		t.Errorf("another family: %d, want 0", n)
	}
	for _, bad := range []string{"", "..", "a/b", "../x"} {
		if err := SaveCount(c, bad, 1); err == nil {
			t.Errorf("SaveCount(%q): no error", bad)
		}
		if n := LastCount(c, bad); n != 0 {
			t.Errorf("LastCount(%q) = %d", bad, n)
		}
	}
	if err := cache.WriteFileAtomic(c.Path(countKind, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := LastCount(c, "broken"); n != 0 {
		t.Errorf("a broken count file: %d, want 0", n)
	}
}
