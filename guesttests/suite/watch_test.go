package suite

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// syncBuffer is what the results channel is to a run: one writer at a
// time, read at the end.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunWatchedProgress: a child that keeps printing makes progress
// lines with its latest line; a child that is silent makes none, so the
// host's watchdog still sees a hang.
func TestRunWatchedProgress(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := &progress{w: &out, last: time.Now(), every: 100 * time.Millisecond}
	tt := &T{name: "uml", cfg: Config{progress: p}}
	got, err := runWatched(tt, "UML default", exec.Command("sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.1; done"))
	if err != nil || !strings.Contains(string(got), "line 6") {
		t.Fatalf("runWatched: %v, output %q", err, got)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("a child printing for 0.6s gave %d progress lines: %q", len(lines), out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, proto.ProgressPrefix+" uml: UML default: ") || !strings.Contains(l, "last line: line ") {
			t.Errorf("progress line %q", l)
		}
	}

	var quiet syncBuffer
	p = &progress{w: &quiet, last: time.Now(), every: 100 * time.Millisecond}
	tt = &T{name: "kselftest", cfg: Config{progress: p}}
	if _, err := runWatched(tt, "silent", exec.Command("sleep", "0.6")); err != nil {
		t.Fatal(err)
	}
	if quiet.String() != "" {
		t.Errorf("a silent child made progress lines: %q", quiet.String())
	}
}

// TestProgressBetweenResults: progress lines come between results as KTAP
// diagnostics, never inside a result's block, and a subtest's end is
// progress.
func TestProgressBetweenResults(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	tests := []Test{{Name: "long", Run: func(t *T) {
		t.cfg.progress.every = 0 // every subtest's end is said
		for _, n := range []string{"a", "b"} {
			t.Run(n, func(t *T) {})
		}
	}}}
	if failed := Run(&out, Config{}, tests); failed != 0 {
		t.Fatalf("%d failed", failed)
	}
	want := "KTAP version 1\n1..1\n" + proto.ProgressPrefix + " long: a ended\n" + proto.ProgressPrefix + " long: b ended\n  KTAP version 1\n  1..2\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("output\n%s\nwant it to start with\n%s", out.String(), want)
	}
}
