//go:build e2e

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildSelf builds ptvmlab into a temporary directory, to be run (and
// signalled) as a process of its own.
func buildSelf(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ptvmlab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// processesWith lists the processes whose command line contains marker,
// as "pid: cmdline".
func processesWith(marker string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(marker)) {
			out = append(out, filepath.Base(filepath.Dir(p))+": "+strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " "))
		}
	}
	return out
}

// waitFor polls cond every 200ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// exitOf waits for cmd and returns its exit code (-1 for a signal).
func exitOf(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(limit):
		cmd.Process.Kill()
		t.Fatalf("ptvmlab still running %s after the signal", limit)
		return 0
	}
}

// TestE2ESignals: a run interrupted while its guest hangs ends at once
// with 130, writes its reports with the boot marked interrupted (and the
// earlier run's "passed" gone), and leaves no QEMU; a SIGKILLed run leaves
// no QEMU either (Pdeathsig).
func TestE2ESignals(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 13*time.Minute, []string{"--series", "none", "--arch", "x86_64"})
	bin := buildSelf(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGINT", syscall.SIGINT},
		{"SIGTERM", syscall.SIGTERM},
		{"SIGKILL", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			stale := `{"boots":[{"arch":"x86_64","status":"passed","title":"an earlier run"}]}`
			os.WriteFile(filepath.Join(out, "results.json"), []byte(stale), 0o644)
			marker := "ptvmlab.signal-test=" + tc.name + time.Now().Format("150405.000")
			cmd := exec.Command(bin, "run", "--arch", "x86_64", "--series", "none", "--no-uml", "--timeout", "3m",
				"--append", "ptvmlab.fault=hang", "--append", marker, "--out", out)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			qemuRuns := func() bool {
				for _, p := range processesWith(marker) {
					if strings.Contains(p, "qemu-system-x86_64") {
						return true
					}
				}
				return false
			}
			if !waitFor(4*time.Minute, qemuRuns) {
				cmd.Process.Kill()
				t.Fatalf("no QEMU with %s started:\n%s", marker, tail(stderr.String(), 2000))
			}
			time.Sleep(2 * time.Second) // QEMU is running the hanging guest
			sent := time.Now()
			cmd.Process.Signal(tc.sig)
			code := exitOf(t, cmd, 60*time.Second)
			t.Logf("%s: exit %d after %s\n--- stdout\n%s--- stderr (tail)\n%s", tc.name, code, time.Since(sent).Round(time.Millisecond),
				stdout.String(), tail(stderr.String(), 1500))
			if !waitFor(10*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
				t.Errorf("processes outlived ptvmlab's %s:\n%s", tc.name, strings.Join(processesWith(marker), "\n"))
			}
			if tc.sig == syscall.SIGKILL {
				return // nothing can be written: only the processes are judged
			}
			if code != exitInterrupted {
				t.Errorf("exit %d, want %d", code, exitInterrupted)
			}
			r := readRun(t, out)
			if len(r.Boots) != 1 || r.Boots[0].Status != "interrupted" {
				t.Errorf("results.json after %s: %+v, want one interrupted boot", tc.name, r.Boots)
			}
			if !strings.Contains(stdout.String(), "interrupted") {
				t.Errorf("the verdict table does not say interrupted")
			}
		})
	}
}

// TestE2EBisectInterrupted: SIGTERM to ptvmlab bisect while a step builds
// ends the bisection within the grace period with 130: git, the step and
// its make are gone, and the repository is reset.
func TestE2EBisectInterrupted(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 4*time.Minute) // in place, interrupted within the build
	repo, commits := bisectRepo(t)
	bin := buildSelf(t)
	cmd := exec.Command(bin, "bisect", "--repo", repo, "--good", commits["good"], "--bad", commits["bad"], "--", "--arch", "i386")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The step's make runs in the repository: its command line names it.
	if !waitFor(5*time.Minute, func() bool {
		for _, p := range processesWith(repo) {
			if strings.Contains(p, "make ") {
				return true
			}
		}
		return false
	}) {
		cmd.Process.Kill()
		t.Fatalf("no step make started:\n%s", tail(out.String(), 3000))
	}
	time.Sleep(3 * time.Second)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	code := exitOf(t, cmd, 60*time.Second)
	t.Logf("exit %d after %s\n%s", code, time.Since(sent).Round(time.Millisecond), tail(out.String(), 3000))
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if !waitFor(10*time.Second, func() bool { return len(processesWith(repo)) == 0 }) {
		t.Errorf("processes outlived ptvmlab bisect:\n%s", strings.Join(processesWith(repo), "\n"))
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "BISECT_LOG")); err == nil {
		t.Errorf("the repository was left mid-bisection (.git/BISECT_LOG)")
	}
}
