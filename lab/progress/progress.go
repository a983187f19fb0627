package progress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
)

// Heartbeat is how often a task off a terminal says how it is going: at
// least this often, so that a CI log never looks hung, and at most, so
// that it stays readable.
const Heartbeat = 30 * time.Second

// Clock is the time a Reporter sees. Tests give a fake one, to tick
// without waiting 30 s.
type Clock interface {
	Now() time.Time
	// Ticker returns a channel that receives a value every d (dropping
	// ticks nobody took, as time.Ticker does) and a function that stops it.
	Ticker(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Ticker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Opts says where a Reporter writes, and how.
type Opts struct {
	// Out receives the bars or the lines: the command's stderr. Nil
	// discards them.
	Out io.Writer
	// Terminal says that Out is a terminal: each task is then a bar,
	// redrawn in place; otherwise each task is a few lines.
	Terminal bool
	// Every is the heartbeat off a terminal; zero is Heartbeat.
	Every time.Duration
	// Clock is the time; nil is the real clock.
	Clock Clock
}

// Reporter shows the tasks of one command. It is safe for concurrent use
// (a matrix boots cells side by side); a nil *Reporter shows nothing.
type Reporter struct {
	out      io.Writer
	terminal bool
	every    time.Duration
	clock    Clock

	// mu orders everything written to out, and guards bars and active.
	mu sync.Mutex
	// bars draws the tasks on a terminal while any runs; nil between.
	bars   *mpb.Progress
	active int
}

// New returns a Reporter writing as o says.
func New(o Opts) *Reporter {
	r := &Reporter{out: o.Out, terminal: o.Terminal, every: o.Every, clock: o.Clock}
	if r.out == nil {
		r.out = io.Discard
	}
	if r.every <= 0 {
		r.every = Heartbeat
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	return r
}

// Terminal reports whether r draws bars (nil: no).
func (r *Reporter) Terminal() bool { return r != nil && r.terminal }

// Write writes p to r's output, above the bars while any are drawn: on a
// terminal the command's log goes through it, so that a log line never
// tears a bar. It never fails the caller for a closed bar container.
func (r *Reporter) Write(p []byte) (int, error) {
	if r == nil {
		return len(p), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bars != nil {
		if n, err := r.bars.Write(p); err == nil {
			return n, nil
		}
	}
	return r.out.Write(p)
}

// println writes one line of its own.
func (r *Reporter) println(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.out, line)
}

// Build starts a build task named name (an arch, "um-i386 (UML)"),
// counting objects; estimate is how many the last build of its kind
// compiled (LastCount), zero when unknown.
func (r *Reporter) Build(name string, estimate int) *Task {
	return r.start("building", name, "objects", max(estimate, 0), true)
}

// Boot starts a boot task named name (a cell); its total is the guest's
// plan (SetTotal), its count the results that came, its Now the test
// that runs.
func (r *Reporter) Boot(name string) *Task {
	return r.start("booting", name, "tests", 0, false)
}

func (r *Reporter) start(verb, name, unit string, total int, guess bool) *Task {
	if r == nil {
		return nil
	}
	t := &Task{r: r, verb: verb, name: name, unit: unit, total: total, guess: guess && total > 0, start: r.clock.Now()}
	if r.terminal {
		r.addBar(t)
		return t
	}
	r.println(t.startLine())
	tick, stopTick := r.clock.Ticker(r.every)
	t.stop, t.stopped = make(chan struct{}), make(chan struct{})
	go t.beat(tick, stopTick)
	return t
}

// Task is one long piece of work: a build or a boot. Its methods are safe
// for concurrent use; those of a nil *Task do nothing.
type Task struct {
	r                *Reporter
	verb, name, unit string
	start            time.Time

	mu    sync.Mutex
	count int
	total int
	guess bool   // total is an estimate: shown as "~800"
	now   string // what runs now, for a boot the test
	ended bool
	end   time.Time // when Done came
	err   error

	// Off a terminal: stop ends the heartbeat, stopped says it ended.
	stop, stopped chan struct{}
	// On a terminal: the task's bar.
	bar *mpb.Bar
}

// Add counts n more (objects compiled, results come).
func (t *Task) Add(n int) { t.update(func() { t.count += n }) }

// Set sets the count to n: a boot retried from its start counts again.
func (t *Task) Set(n int) { t.update(func() { t.count = n }) }

// SetTotal sets how many the task will count, when it is known (a boot's
// plan); zero is unknown.
func (t *Task) SetTotal(n int) { t.update(func() { t.total, t.guess = max(n, 0), false }) }

// update changes a task that has not ended, under its lock, and redraws
// it; a nil or ended task is left alone.
func (t *Task) update(change func()) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	change()
	count, total := t.count, t.total
	t.mu.Unlock()
	t.draw(count, total)
}

// maxNow bounds what Now shows: one line, even on a narrow terminal.
const maxNow = 60

// Now says what the task does at the moment (the test a boot runs); it
// shows in the next heartbeat or redraw, and prints nothing by itself.
func (t *Task) Now(text string) {
	if t == nil {
		return
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > maxNow {
		text = string([]rune(text)[:maxNow-1]) + "…"
	}
	t.mu.Lock()
	t.now = text
	t.mu.Unlock()
}

// Done ends the task: err nil is success, a State names the end. Off a
// terminal it prints the task's last line; on one, it leaves the bar at
// its final state. A second Done does nothing.
func (t *Task) Done(err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	t.ended, t.err, t.end = true, err, t.r.clock.Now()
	t.mu.Unlock()
	if t.bar != nil {
		t.r.endBar(t, err)
		return
	}
	close(t.stop)
	<-t.stopped
	t.r.println(t.endLine())
}

// beat prints the task's heartbeat on every tick until Done.
func (t *Task) beat(tick <-chan time.Time, stopTick func()) {
	defer close(t.stopped)
	defer stopTick()
	for {
		select {
		case <-t.stop:
			return
		case <-tick:
			t.r.println(t.line(t.r.clock.Now()))
		}
	}
}

// startLine is the line a task starts with, off a terminal.
func (t *Task) startLine() string {
	if t.total > 0 {
		return fmt.Sprintf("%s %s: started, ~%d %s expected", t.verb, t.name, t.total, t.unit)
	}
	return fmt.Sprintf("%s %s: started", t.verb, t.name)
}

// line is the task's heartbeat: "building x86_64: 412/~800 objects, 2m10s".
func (t *Task) line(at time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.verb + " " + t.name + ": " + t.counts()
	if t.now != "" {
		s += ", now " + t.now
	}
	return s + ", " + Elapsed(at.Sub(t.start))
}

// endLine is the line a task ends with: "building x86_64: done, 812
// objects, 4m31s".
func (t *Task) endLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.verb + " " + t.name + ": " + t.state() + ", " + t.counts() + ", " + Elapsed(t.end.Sub(t.start))
}

// State is an error that names how a task ended, when "failed" would say
// too little: a boot's verdict ("timeout", "panic").
type State string

func (s State) Error() string { return string(s) }

// state names how an ended task ended: "done", "stopped" (cancelled), a
// State, or "failed".
func (t *Task) state() string {
	var s State
	switch {
	case t.err == nil:
		return "done"
	case errors.Is(t.err, context.Canceled):
		return "stopped"
	case errors.As(t.err, &s):
		return string(s)
	}
	return "failed"
}

// counts is "412/~800 objects", "7/21 tests" or "412 objects"; an ended
// task drops its estimate, which no longer says anything.
func (t *Task) counts() string {
	switch {
	case t.total > 0 && t.guess && !t.ended:
		return fmt.Sprintf("%d/~%d %s", t.count, t.total, t.unit)
	case t.total > 0 && !t.guess:
		return fmt.Sprintf("%d/%d %s", t.count, t.total, t.unit)
	}
	return fmt.Sprintf("%d %s", t.count, t.unit)
}

// Elapsed formats d as a heartbeat shows it: "12s", "2m10s", "1m05s",
// "1h02m03s".
func Elapsed(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}
