package proc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCancelKillsTheGroup: cancelling the context ends the child and the
// grandchild it started (a make and its gcc), not the child alone.
func TestCancelKillsTheGroup(t *testing.T) {
	t.Parallel()
	pidFile := t.TempDir() + "/grandchild"
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Command(ctx, "sh", "-c", "sleep 300 & echo $! > "+pidFile+"; wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && grandchild == 0; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if grandchild == 0 {
		t.Fatal("the grandchild never started")
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(Grace + 10*time.Second):
		t.Fatal("the child outlived its cancelled context")
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !alive(grandchild) {
			return
		}
	}
	syscall.Kill(grandchild, syscall.SIGKILL)
	t.Errorf("the grandchild %d outlived the cancel", grandchild)
}

func TestCommandSetsPdeathsigAndGroup(t *testing.T) {
	t.Parallel()
	cmd := Command(context.Background(), "true")
	if a := cmd.SysProcAttr; a == nil || !a.Setpgid || a.Pdeathsig != syscall.SIGKILL {
		t.Errorf("SysProcAttr %+v, want its own group and Pdeathsig SIGKILL", a)
	}
}

func TestOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	out, err := Output(ctx, t.TempDir(), []string{"PROC_TEST=yes"}, "sh", "-c", "echo \"  $PROC_TEST $(basename $PWD)  \"")
	if err != nil || !strings.HasPrefix(out, "yes ") {
		t.Errorf("Output: %q, %v", out, err)
	}
	_, err = Output(ctx, "", nil, "sh", "-c", "echo first >&2; echo second >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "sh -c") || !strings.HasSuffix(err.Error(), "exit status 3: first") {
		t.Errorf("a failure: %v; want the command, its status and the first line of its stderr", err)
	}
}

func TestFirstLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "  one\ntwo\n": "one", "\n\nthree": "three"} {
		if got := FirstLine([]byte(in)); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// alive reports whether pid runs: a zombie is dead (the orphaned
// grandchild's new parent, init in a container, may be slow to reap it).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestOutputOnce: a tool's output is read once per process while the
// tool's executable stays the same file; a failure is not kept, and a
// replaced executable (an upgrade) is run again.
func TestOutputOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tool, runs := filepath.Join(dir, "fake-gcc"), filepath.Join(dir, "runs")
	write := func(version string, code int) {
		t.Helper()
		script := fmt.Sprintf("#!/bin/sh\necho x >>%s\necho \"%s $*\"\nexit %d\n", runs, version, code)
		// A new file, as a package upgrade installs one.
		tmp := tool + ".new"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tool); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "x")
	}
	ctx := context.Background()
	write("gcc 12", 1)
	if _, err := OutputOnce(ctx, tool, "--version"); err == nil {
		t.Fatal("a failing tool gave no error")
	}
	write("gcc 12", 0)
	for _, step := range []struct {
		args      []string
		want      string
		wantCount int
	}{
		{[]string{"--version"}, "gcc 12 --version\n", 2}, // the failure was not kept
		{[]string{"--version"}, "gcc 12 --version\n", 2}, // kept
		{[]string{"-print-file-name=libc.a"}, "gcc 12 -print-file-name=libc.a\n", 3},
		{[]string{"-print-file-name=libc.a"}, "gcc 12 -print-file-name=libc.a\n", 3},
	} {
		out, err := OutputOnce(ctx, tool, step.args...)
		if err != nil || string(out) != step.want || count() != step.wantCount {
			t.Fatalf("OutputOnce %v: %q %v after %d runs; want %q after %d", step.args, out, err, count(), step.want, step.wantCount)
		}
	}
	write("gcc 14", 0)
	if out, _ := OutputOnce(ctx, tool, "--version"); string(out) != "gcc 14 --version\n" {
		t.Errorf("after the tool was replaced: %q", out)
	}
}
