package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/bisect"
	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// cmdBisect is "ptvmlab bisect run -- <cell options>" (a git bisect run
// step) and "ptvmlab bisect --good A --bad B [-- <cell options>]" (the
// driver).
func cmdBisect(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "run" {
		return bisectStep(ctx, args[1:], stdout)
	}
	return bisectDrive(ctx, args, stdout)
}

// stepFlags are the cell options of a bisect step.
type stepFlags struct {
	repo    string
	arch    string
	expect  string
	timeout time.Duration
	jobs    int
	out     string
	appends multiString
	accel   accelFlags
}

func (s *stepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.repo, "repo", ".", "the kernel git work tree (git bisect runs steps in it)")
	fs.StringVar(&s.arch, "arch", "x86_64", "the guest: x86_64 or i386")
	fs.StringVar(&s.expect, "expect", "skipcall", "the PTRACE_VM level a good kernel offers: skipcall, skipexit or none")
	fs.DurationVar(&s.timeout, "timeout", 5*time.Minute, "limit for the boot")
	fs.IntVar(&s.jobs, "jobs", 0, "make -j (default: the CPU count)")
	fs.StringVar(&s.out, "out", "", "directory for the step's console.log and results.raw (default: a temporary one)")
	fs.Var(&s.appends, "append", "an extra kernel argument (repeatable), e.g. ptvmlab.tests=probe,skipexit")
	s.accel.register(fs)
}

// dropDashes lets "run -- --arch x86_64" read the options after "--".
func dropDashes(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// bisectStep answers git bisect run: 0 good, 1 bad, 125 skip. It never
// returns another code (git aborts on codes above 127): bad options are a
// skip too, said loudly, since no commit can be judged with them.
func bisectStep(ctx context.Context, args []string, stdout io.Writer) error {
	var s stepFlags
	fs := flag.NewFlagSet("bisect run", flag.ContinueOnError)
	s.register(fs)
	if err := parse(fs, dropDashes(args)); err != nil {
		fmt.Fprintf(stdout, "ptvmlab bisect run: %v: skipping this commit (exit 125)\n", err)
		return exitError{code: bisect.Skip}
	}
	expect, err := proto.ParseLevel(s.expect)
	if err != nil {
		fmt.Fprintf(stdout, "ptvmlab bisect run: --expect: %v; skipping (exit 125)\n", err)
		return exitError{code: bisect.Skip}
	}
	c := common{jobs: s.jobs, accel: s.accel, timeout: s.timeout, boots: true}
	env, err := c.env()
	if err != nil {
		fmt.Fprintf(stdout, "ptvmlab bisect run: %v; skipping (exit 125)\n", err)
		return exitError{code: bisect.Skip}
	}
	out := s.out
	if out == "" {
		var done func()
		if out, done, err = cache.ScratchDir("", "ptvmlab-bisect-"); err != nil {
			return exitError{code: bisect.Skip, err: err}
		}
		defer done()
	}
	v := bisect.Step(ctx, env, bisect.Options{Repo: s.repo, Arch: s.arch, Expect: expect, Appends: s.appends,
		Timeout: s.timeout, Silence: s.accel.silence, Jobs: s.jobs, Out: out})
	if ctx.Err() != nil {
		return exitError{code: bisect.Skip, err: ctx.Err()}
	}
	word := map[int]string{bisect.Good: "good", bisect.Bad: "bad", bisect.Skip: "skip"}[v.Code]
	fmt.Fprintf(stdout, "ptvmlab bisect run: %s (exit %d): %s\n", word, v.Code, v.Reason)
	if v.Code == bisect.Good {
		return nil
	}
	return exitError{code: v.Code}
}

// bisectDrive runs git bisect over --good..--bad with ptvmlab as the step
// and prints the first bad commit.
func bisectDrive(ctx context.Context, args []string, stdout io.Writer) error {
	var good, bad, repo string
	fs := flag.NewFlagSet("bisect", flag.ContinueOnError)
	fs.StringVar(&good, "good", "", "a commit that passes (required)")
	fs.StringVar(&bad, "bad", "", "a commit that fails (required)")
	fs.StringVar(&repo, "repo", ".", "the kernel git work tree")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if good == "" || bad == "" {
		return usagef("bisect: --good and --bad are required, e.g. ptvmlab bisect --good v6.12 --bad HEAD -- --arch x86_64")
	}
	stepArgs := fs.Args()
	// Check the step's options now, not at every commit.
	var s stepFlags
	sfs := flag.NewFlagSet("bisect run", flag.ContinueOnError)
	s.register(sfs)
	if err := parse(sfs, dropDashes(stepArgs)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("bisect: the step options after --: %v", err)
	}
	if s.repo != "." {
		return usagef("bisect: give the repository with --repo before --, not in the step options")
	}
	if err := checkTimeout("bisect: --timeout", s.timeout); err != nil {
		return err
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return usageError{err}
	}
	root, err := moduleRoot()
	if err != nil {
		return usageError{err}
	}
	self := os.Getenv("PTVMLAB_BIN")
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	// The steps run in the kernel tree: tell them (and only them) where
	// ptvmlab's kconfigs and guest tests are.
	stepEnv := []string{"PTVMLAB_ROOT=" + root}
	step := append([]string{self, "bisect", "run", "--repo", abs}, dropDashes(stepArgs)...)
	fmt.Fprintf(stdout, "bisecting %s: good %s, bad %s; step: %s\n", abs, good, bad, strings.Join(step, " "))
	res, err := bisect.Run(ctx, abs, good, bad, step, stepEnv, stdout)
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		if isInputError(err) {
			return err
		}
		if res.Log != "" {
			fmt.Fprintf(stdout, "\ngit bisect log:\n%s\n", res.Log)
		}
		return exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(stdout, "\ngit bisect log:\n%s\n\nfirst bad commit: %s %s\n", res.Log, res.Commit, res.Subject)
	return nil
}
