// Package bisect runs ptvmlab under git bisect: a step builds the commit
// git checked out, in place and incrementally (the object directory
// persists between steps, so a step recompiles what the commit changed,
// not the kernel), boots it and answers good, bad or skip; a driver runs
// git bisect start/run/reset and reports the first bad commit.
package bisect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// The exit codes git bisect run understands. Any code above 127 aborts the
// bisection, so a step returns only these.
const (
	Good = 0
	Bad  = 1
	Skip = 125
)

// Options describe the cell a step boots.
type Options struct {
	Repo    string        // the kernel git work tree git bisect checks out
	Arch    string        // x86_64 or i386
	Expect  proto.Level   // the PTRACE_VM level a good kernel offers
	Appends []string      // extra kernel arguments, e.g. ptvmlab.tests=...
	Timeout time.Duration // the boot's limit
	Silence time.Duration // the boot's silence watchdog; 0 is the default
	Jobs    int           // make -j; 0 is the CPU count
	Out     string        // console.log and results.raw of the step
}

// Verdict is one step's answer and why.
type Verdict struct {
	Code   int
	Reason string
	Record report.Boot
}

// Step builds the checked-out commit of o.Repo in place (object directory
// under the cache, one per repository and arch) and boots it. A build that
// fails, a config that cannot be met or a boot that never got going is
// Skip; a boot whose tests pass is Good; anything else is Bad.
func Step(ctx context.Context, env cell.Env, o Options) Verdict {
	v, err := step(ctx, env, o)
	if err != nil {
		return Verdict{Code: Skip, Reason: err.Error()}
	}
	return v
}

func step(ctx context.Context, env cell.Env, o Options) (Verdict, error) {
	repo, err := filepath.Abs(o.Repo)
	if err != nil {
		return Verdict{}, err
	}
	head, err := git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		return Verdict{}, fmt.Errorf("%s is not a git work tree: %w", repo, err)
	}
	version, err := source.Version(repo)
	if err != nil {
		return Verdict{}, err
	}
	tree := source.Tree{Spec: source.Spec{Raw: repo, Kind: source.Dir, Path: repo}, Dir: repo, Digest: "git:" + head, Version: version}
	arch, err := kbuild.LookupArch(o.Arch)
	if err != nil {
		return Verdict{}, err
	}
	prof, err := era.For(version)
	if err != nil {
		return Verdict{}, err
	}
	if prof.CompatDir(filepath.Join(env.ModuleDir, "patches")) != "" {
		return Verdict{}, fmt.Errorf("kernel %s needs the era's build fixes, which an in-place build cannot apply", version)
	}
	frags, err := cell.Fragments(env.ModuleDir, prof, arch)
	if err != nil {
		return Verdict{}, err
	}
	obj := ObjDir(env.Cache, repo, o.Arch)
	b, err := kbuild.BuildInPlace(ctx, env.Cache, kbuild.Request{Tree: tree, Arch: arch, Fragments: frags, CFlags: prof.CFlags,
		Jobs: o.Jobs, Progress: env.Progress}, obj)
	if err != nil {
		return Verdict{}, fmt.Errorf("build of %.12s: %w", head, err)
	}
	rec, err := cell.Run(ctx, env, cell.Cell{Tree: tree, SeriesName: "in tree", Arch: o.Arch, Cmdline: o.Appends,
		Expect: o.Expect, Timeout: o.Timeout, Silence: o.Silence, Out: o.Out, NoUML: true, Kernel: &b})
	if err != nil {
		return Verdict{}, fmt.Errorf("boot of %.12s: %w", head, err)
	}
	v := Verdict{Record: rec}
	switch boot.Status(rec.Status) {
	case boot.Passed:
		v.Code, v.Reason = Good, fmt.Sprintf("%.12s: passed (%s)", head, rec.Title)
	case boot.Infra:
		v.Code, v.Reason = Skip, fmt.Sprintf("%.12s: infrastructure failure, not the commit's fault: %s", head, rec.Title)
	default:
		v.Code, v.Reason = Bad, fmt.Sprintf("%.12s: %s: %s", head, rec.Status, rec.Title)
	}
	v.Reason += fmt.Sprintf("; %d objects compiled in %s", b.Compiled, b.Took.Round(time.Second))
	return v, nil
}

// ObjDir is the object directory the steps of a bisection of repo (an
// absolute path) build arch into: one per repository and arch, kept
// between steps and between bisections of the same repository.
func ObjDir(c cache.Dir, repo, arch string) string {
	sum := sha256.Sum256([]byte(repo))
	return c.Path("bisect", hex.EncodeToString(sum[:8])+"-"+arch)
}

var firstBadRe = regexp.MustCompile(`(?m)^([0-9a-f]{40}) is the first bad commit`)

// Result is what a bisection found.
type Result struct {
	Commit  string // the first bad commit
	Subject string // its subject line
	Log     string // git bisect log
}

// InputError is a bisection that cannot start for what the user gave: a
// ref that is not a commit, a work tree with changes.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Run bisects repo between good and bad: it starts git bisect, lets git
// call step (the command line of a ptvmlab bisect run) at each commit,
// and returns the first bad commit. stepEnv is added to the steps'
// environment. The repository is reset afterwards, whatever happened.
// Git's and the steps' output goes to w. Cancelling ctx sends git, the
// step and everything the step runs SIGTERM (proc.Command), and Run
// returns ctx's error.
func Run(ctx context.Context, repo, good, bad string, step, stepEnv []string, w io.Writer) (Result, error) {
	if _, err := git(ctx, repo, "rev-parse", "--verify", good+"^{commit}"); err != nil {
		return Result{}, &InputError{fmt.Errorf("--good %s: not a commit of %s", good, repo)}
	}
	if _, err := git(ctx, repo, "rev-parse", "--verify", bad+"^{commit}"); err != nil {
		return Result{}, &InputError{fmt.Errorf("--bad %s: not a commit of %s", bad, repo)}
	}
	if out, err := git(ctx, repo, "status", "--porcelain", "--untracked-files=no"); err != nil || out != "" {
		return Result{}, &InputError{fmt.Errorf("%s has uncommitted changes (or is not a git work tree): commit or stash them before bisecting", repo)}
	}
	if _, err := git(ctx, repo, "bisect", "start", bad, good); err != nil {
		return Result{}, err
	}
	defer func() { _, _ = git(context.WithoutCancel(ctx), repo, "bisect", "reset") }()
	var out bytes.Buffer
	cmd := proc.Command(ctx, "git", append([]string{"-C", repo, "bisect", "run"}, step...)...)
	cmd.Stdout = io.MultiWriter(w, &out)
	cmd.Stderr = w
	cmd.Env = append(os.Environ(), stepEnv...)
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("git bisect run: %w", ctx.Err())
	}
	log, _ := git(ctx, repo, "bisect", "log")
	commit, found := FirstBad(out.String())
	if !found {
		if runErr != nil {
			return Result{Log: log}, fmt.Errorf("git bisect run: %w (no first bad commit found; see the log above)", runErr)
		}
		return Result{Log: log}, errors.New("git bisect run ended without naming a first bad commit (only skipped commits left?)")
	}
	subject, _ := git(ctx, repo, "log", "-1", "--format=%s", commit)
	return Result{Commit: commit, Subject: subject, Log: log}, nil
}

// FirstBad reads "<sha> is the first bad commit" from git bisect output.
func FirstBad(out string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := firstBadRe.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], true
		}
	}
	return "", false
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	return proc.Output(ctx, "", []string{"LC_ALL=C"}, "git", append([]string{"-C", dir}, args...)...)
}
