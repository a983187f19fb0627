//go:build e2e

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/bisect"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// bisectRepo makes a git history from the Debian 6.12 tree: the series'
// first patch, two harmless commits, the commit that breaks SKIPEXIT, one
// more harmless commit; and, on a branch, a commit that does not build. It
// returns the repository and the commits by name.
//
// The repository is made afresh each run, always at the same place in the
// lab's cache (and removed after): the in-place build's ccache base_dir
// holds the tree and the object directory, so a run's compiles hit the
// last run's ccache entries only when the tree sits at the same place
// relative to the object directory. Its object directory is emptied
// first, so that the first step is a whole build (through ccache) and
// the second an incremental one.
func bisectRepo(t *testing.T) (string, map[string]string) {
	t.Helper()
	c, err := cache.Default()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := source.Parse("debian:6.12")
	tree, err := source.Resolve(context.Background(), c, spec)
	if err != nil {
		t.Fatal(err)
	}
	repo := c.Path("e2e", "bisect-linux")
	clean := func() {
		for _, d := range []string{repo, bisect.ObjDir(c, repo, "i386")} {
			if err := cache.RemoveAll(d); err != nil {
				t.Fatalf("removing %s: %v", d, err)
			}
		}
	}
	clean()
	t.Cleanup(clean)
	if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := source.CopyTreeContents(tree.Dir, repo); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		// gc.auto=0: no repack of the tree's objects between commits.
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "gc.auto=0", "-c", "user.name=ptvmlab tests", "-c", "user.email=tests@example.org"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	edit := func(file, old, new string) {
		t.Helper()
		p := filepath.Join(repo, file)
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s: %v or %q not found", file, err, old)
		}
		os.Chmod(p, 0o644)
		os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
	commits := map[string]string{}
	commit := func(name, msg string) {
		t.Helper()
		git("add", "-A", "-f", ".") // Debian's tree ignores itself (.gitignore: /*)
		git("commit", "-q", "-m", msg)
		commits[name] = git("rev-parse", "HEAD")
	}
	git("init", "-q")
	commit("base", "linux 6.12")
	if out, err := exec.Command("patch", "-p1", "-s", "-d", repo, "-i", mustAbs(t, "../../patches/6.12/0001-ptrace-add-PTRACE_SYSCALL_SKIPCALL-and-PTRACE_SYSCAL.patch")).CombinedOutput(); err != nil {
		t.Fatalf("patch: %v %s", err, out)
	}
	commit("good", "ptrace: add PTRACE_SYSCALL_SKIPCALL and PTRACE_SYSCALL_SKIPEXIT resume tags")
	edit("README", "Linux kernel", "Linux kernel (bisect test)")
	commit("doc", "README: a harmless change")
	edit("kernel/ptrace.c", "static int ptrace_resume(", "/* a harmless comment */\nstatic int ptrace_resume(")
	commit("comment", "ptrace: a harmless comment")
	edit("include/linux/ptrace.h", "\telse if (!(READ_ONCE(current->ptrace) & PT_SYSCALL_TAGS))\n", "\telse\n")
	commit("culprit", "ptrace: break SKIPEXIT on purpose")
	edit("README", "(bisect test)", "(bisect test, again)")
	commit("bad", "README: another harmless change")
	git("checkout", "-q", "-b", "broken", commits["good"])
	edit("kernel/ptrace.c", "static int ptrace_resume(", "#error planted build failure\nstatic int ptrace_resume(")
	commit("broken", "ptrace: a commit that does not build")
	git("checkout", "-q", commits["bad"])
	return repo, commits
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestE2EBisect: ptvmlab bisect names the commit that broke SKIPEXIT in a
// real 6.12 history, building each step in place and incrementally; a
// commit that does not build is a skip (125).
func TestE2EBisect(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 17*time.Minute) // in place: measured 14m cold
	repo, commits := bisectRepo(t)
	bin := filepath.Join(t.TempDir(), "ptvmlab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	step := []string{"--", "--arch", "i386", "--timeout", "3m", "--append", "ptvmlab.tests=probe,baseline,skipexit,skipcall"}
	cmd := exec.Command(bin, append([]string{"bisect", "--repo", repo, "--good", commits["good"], "--bad", commits["bad"]}, step...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("ptvmlab bisect:\n%s", tail(string(out), 6000))
	if err != nil {
		t.Fatalf("bisect: %v", err)
	}
	want := "first bad commit: " + commits["culprit"] + " ptrace: break SKIPEXIT on purpose"
	if !strings.Contains(string(out), want) {
		t.Errorf("bisect did not name the planted commit (want %q)", want)
	}
	// Each step after the first recompiles what its commit changed, not
	// the kernel: the in-place build reuses the object directory.
	var compiled []int
	for _, m := range regexp.MustCompile(`; (\d+) objects compiled in`).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		compiled = append(compiled, n)
	}
	if len(compiled) < 2 {
		t.Fatalf("%d bisect steps reported, want at least 2", len(compiled))
	}
	for i, n := range compiled[1:] {
		if n >= compiled[0] {
			t.Errorf("step %d compiled %d objects, no fewer than the first step's %d: not incremental", i+2, n, compiled[0])
		}
	}

	exec.Command("git", "-C", repo, "checkout", "-q", commits["broken"]).Run()
	run := exec.Command(bin, append([]string{"bisect", "run", "--repo", repo}, step[1:]...)...)
	run.Env = append(os.Environ(), "PTVMLAB_ROOT="+mustAbs(t, "../.."))
	out, err = run.CombinedOutput()
	t.Logf("ptvmlab bisect run at the broken commit:\n%s", tail(string(out), 3000))
	var ee *exec.ExitError
	if err == nil || !errorsAs(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(string(out), "planted build failure") {
		t.Errorf("a commit that does not build: %v, want exit 125 quoting the compiler error", err)
	}
}

func errorsAs(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}
