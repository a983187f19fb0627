package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// cmdReview is "ptvmlab review --series DIR|MBOX": apply, checkpatch,
// build, boot and run the suite, and print the digest of every input and
// output, so that two reviewers can tell they built the same thing.
func cmdReview(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	var seriesArg, signoff string
	var rebuild bool
	fs := newFlags("review", &c, true)
	fs.Lookup("series").Usage = "the series to review: a directory (quilt series file + mails) or an mbox file as b4 am saves it"
	fs.BoolVar(&rebuild, "rebuild", false, "build everything afresh in a new cache (no kept kernel, no ccache), as a second machine would")
	fs.StringVar(&signoff, "signoff", "", signoffUsage+"; checkpatch judges a series directory as posted by them (none: the placeholder "+
		checkIdentity.String()+"); an mbox is judged as it was posted")
	if err := parse(fs, args); err != nil {
		return err
	}
	seriesArg = c.series
	if seriesArg == "" || seriesArg == "auto" || seriesArg == "none" {
		return usagef("review: --series is required: a series directory or an mbox file (b4 am -o- ... > series.mbx)")
	}
	if signoff != "" {
		if _, _, err := poster(ctx, signoff); err != nil {
			return err // a malformed --signoff, before any work
		}
	}
	arches, err := c.archList(true)
	if err != nil {
		return err
	}
	start := time.Now()
	env, err := c.env()
	if err != nil {
		return err
	}
	if err := prepareOut(c.out); err != nil {
		return err
	}
	scratch, doneScratch, err := cache.ScratchDir("", "ptvmlab-review-")
	if err != nil {
		return err
	}
	defer doneScratch()
	if rebuild {
		env.Cache = cache.Dir(filepath.Join(scratch, "cache"))
	}
	s, mbox, err := loadReviewSeries(seriesArg, filepath.Join(scratch, "series"))
	if err != nil {
		return usageError{err}
	}
	var id patch.Identity
	said := "checkpatch: the mails as they were posted (an mbox)"
	if !mbox {
		if id, said, err = checkPoster(ctx, signoff); err != nil {
			return err
		}
		said = "checkpatch: " + said
	} else if signoff != "" {
		return usagef("--signoff: the mbox %s is mail as it was posted; --signoff is for a series directory", seriesArg)
	}
	tree, err := c.tree(ctx, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "review of %s on %s\n\ninputs:\n", seriesArg, c.kernel)
	fmt.Fprintf(stdout, "  source   %s  %s (%s)\n", tree.Digest, tree.Spec.Raw, tree.Version)
	for _, p := range s.Patches {
		fmt.Fprintf(stdout, "  patch    sha256:%s  %s\n", p.Digest, p.Name)
	}
	ok := true

	// 1. apply, on a scratch copy.
	applyDir := filepath.Join(scratch, "apply")
	if err := source.CopyTree(tree.Dir, applyDir); err != nil {
		return err
	}
	if err := patch.Apply(ctx, applyDir, s, patch.Options{}); err != nil {
		fmt.Fprintf(stdout, "\napply: FAILED: %v\n", err)
		return exitError{code: exitFailed}
	}
	cache.RemoveAll(applyDir)
	fmt.Fprintf(stdout, "\napply: %d patches apply cleanly\n", len(s.Patches))

	// 2. checkpatch, on what is posted: an mbox as it is, a series
	// directory (the lab's stored form, no Signed-off-by) as patches
	// export --signoff would post it.
	posted := s
	if !mbox {
		if posted, err = postedForm(ctx, tree.Dir, s, id, filepath.Join(scratch, "posted")); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, said)
	checkers, skipped, err := checkersFor(ctx, env, tree, filepath.Join(scratch, "checkpatch"))
	if err != nil {
		return err
	}
	for _, ch := range checkers {
		vs, err := patch.Check(ctx, ch, posted)
		if err != nil {
			return err
		}
		for _, v := range vs {
			verdict := "clean"
			switch {
			case !v.Ran:
				verdict, ok = "NOT CHECKED: "+v.Note, false
			case !v.Clean():
				verdict, ok = fmt.Sprintf("NOT CLEAN (%d errors, %d warnings, %d checks)", v.Errors, v.Warnings, v.Checks), false
			}
			if a := v.AcceptedSummary(); a != "" {
				verdict += " (" + a + ")"
			}
			fmt.Fprintf(stdout, "checkpatch: %s: %s: %s\n", ch.Name, v.Patch, verdict)
		}
	}
	for _, sk := range skipped {
		fmt.Fprintf(stdout, "checkpatch: skipped: %s\n", sk)
	}

	// 3. build, boot, suite.
	run := report.Run{Started: start.UTC()}
	fmt.Fprintln(stdout)
	var errs *multierror.Error
	interrupted := false
	for _, a := range arches {
		if interrupted {
			run.Boots = append(run.Boots, interruptedRecord(report.Boot{Kernel: tree.Spec.Raw, Version: tree.Version, Digest: tree.Digest,
				Series: filepath.Base(seriesArg), Arch: a}, filepath.Join(c.out, a)))
			continue
		}
		rec, err := runCell(ctx, env, cell.Cell{Tree: tree, Series: s, SeriesName: filepath.Base(seriesArg), Arch: a, Cmdline: c.appends,
			Expect: proto.LevelSkipCall, Timeout: c.timeout, Silence: c.accel.silence, Out: filepath.Join(c.out, a), NoUML: c.noUML}, &errs)
		interrupted = errors.Is(err, errInterrupted)
		if err != nil && !interrupted {
			return err
		}
		run.Boots = append(run.Boots, rec)
		if rec.Status != string(boot.Passed) {
			ok = false
		}
		fmt.Fprintf(stdout, "%s:\n", a)
		if rec.Build != nil && rec.Digests != nil {
			how := "built"
			if rec.Build.Cached {
				how = "kept from an earlier identical build"
			}
			fmt.Fprintf(stdout, "  build    %s (%s)\n", rec.Build.Key, how)
			fmt.Fprintf(stdout, "  .config  %s\n", rec.Digests.Config)
			fmt.Fprintf(stdout, "  image    %s\n", rec.Digests.Image)
		}
		fmt.Fprintf(stdout, "  boot     %s, probe %s: %s\n", rec.Status, dashIfEmpty(rec.Probe), rec.Title)
	}
	run.TookS = time.Since(start).Seconds()
	if err := report.WriteMatrix(c.out, run); err != nil {
		return exitError{code: exitInfra, err: fmt.Errorf("--out %s: writing the reports: %w", c.out, err)}
	}
	verdict := "the series applies, is checkpatch-clean and passes"
	if !ok {
		verdict = "NOT READY: see above"
	}
	fmt.Fprintf(stdout, "\nreview: %s; reports in %s\n", verdict, c.out)
	// A boot that could not run (interrupted, invalid, infrastructure)
	// decides the code over a failed check; errs says why it could not.
	if code := runExit(run); code != exitPassed && code != exitFailed {
		return exitError{code: code, err: errs.ErrorOrNil()}
	}
	if !ok {
		return exitError{code: exitFailed}
	}
	return nil
}

// loadReviewSeries reads a series directory, or splits an mbox into one
// under dir; mbox says which it was.
func loadReviewSeries(arg, dir string) (s *patch.Series, mbox bool, err error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, false, fmt.Errorf("--series %s: %w", arg, err)
	}
	if st.IsDir() {
		s, err = patch.Load(arg)
		return s, false, err
	}
	s, err = patch.SeriesFromMbox(arg, dir)
	return s, true, err
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
