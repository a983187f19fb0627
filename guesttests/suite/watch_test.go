package suite

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// TestRunWatchedProgress: a child that keeps printing makes progress
// lines with its latest line; a child that is silent makes none, so the
// host's watchdog still sees a hang.
func TestRunWatchedProgress(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	p := &progress{w: &out, last: time.Now(), every: 100 * time.Millisecond}
	tt := &T{name: "uml", cfg: Config{progress: p}}
	got, err := runWatched(tt, "UML default", exec.Command("sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.1; done"))
	if err != nil || !strings.Contains(string(got), "line 6") {
		t.Fatalf("runWatched: %v, output %q", err, got)
	}
	lines := strings.Split(strings.TrimSpace(string(out.Bytes())), "\n")
	if len(lines) < 2 {
		t.Fatalf("a child printing for 0.6s gave %d progress lines: %q", len(lines), string(out.Bytes()))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, proto.ProgressPrefix+" uml: UML default: ") || !strings.Contains(l, "last line: line ") {
			t.Errorf("progress line %q", l)
		}
	}

	var quiet lockedBuffer
	p = &progress{w: &quiet, last: time.Now(), every: 100 * time.Millisecond}
	tt = &T{name: "kselftest", cfg: Config{progress: p}}
	if _, err := runWatched(tt, "silent", exec.Command("sleep", "0.6")); err != nil {
		t.Fatal(err)
	}
	if string(quiet.Bytes()) != "" {
		t.Errorf("a silent child made progress lines: %q", string(quiet.Bytes()))
	}
}

// TestProgressBetweenResults: progress lines come between results as KTAP
// diagnostics, never inside a result's block, and a subtest's end is
// progress.
func TestProgressBetweenResults(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
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
	if !strings.HasPrefix(string(out.Bytes()), want) {
		t.Errorf("output\n%s\nwant it to start with\n%s", string(out.Bytes()), want)
	}
}

// TestRunWatchedKillsASilentChild: a child silent for childSilence is
// killed, and the error says so.
func TestRunWatchedKillsASilentChild(t *testing.T) {
	old := childSilence
	childSilence = 300 * time.Millisecond
	defer func() { childSilence = old }()
	var out lockedBuffer
	p := &progress{w: &out, last: time.Now(), every: 50 * time.Millisecond}
	tt := &T{name: "uml", cfg: Config{progress: p}}
	start := time.Now()
	got, err := runWatched(tt, "UML default", exec.Command("sh", "-c", "echo booting; exec sleep 30"))
	if err == nil || !strings.Contains(err.Error(), "UML default printed nothing for 300ms and was killed") {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > 5*time.Second || !strings.Contains(string(got), "booting") {
		t.Errorf("took %s, output %q", time.Since(start), got)
	}
}

// TestPlantedFault: Config.Planted fails exactly the named test, after it
// ran, and says the failure was planted; the others pass.
func TestPlantedFault(t *testing.T) {
	t.Parallel()
	ran := map[string]bool{}
	tests := []Test{
		{Name: "a", Run: func(t *T) { ran["a"] = true }},
		{Name: "skipexit", Run: func(t *T) { ran["skipexit"] = true }},
	}
	var out lockedBuffer
	if failed := Run(&out, Config{Planted: "skipexit"}, tests); failed != 1 {
		t.Fatalf("%d failed, want 1:\n%s", failed, out.Bytes())
	}
	got := string(out.Bytes())
	if !ran["a"] || !ran["skipexit"] || !strings.Contains(got, "ok 1 a\n") || !strings.Contains(got, "not ok 2 skipexit\n") ||
		!strings.Contains(got, "planted fault: "+proto.FaultFail+"skipexit") {
		t.Errorf("ran %v, output:\n%s", ran, got)
	}
}
