package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// cmdPatches is "ptvmlab patches apply|export|check|refresh".
func cmdPatches(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("patches: choose apply, export, check or refresh")
	}
	sub := map[string]func(context.Context, []string, io.Writer) error{
		"apply": patchesApply, "export": patchesExport, "check": patchesCheck, "refresh": patchesRefresh,
	}[args[0]]
	if sub == nil {
		return usagef("patches: unknown command %q: choose apply, export, check or refresh", args[0])
	}
	return sub(ctx, args[1:], stdout)
}

// patchFlags are what every patches command takes.
type patchFlags struct {
	common
	out  string
	json bool
}

func newPatchFlags(name string, p *patchFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("patches "+name, flag.ContinueOnError)
	fs.StringVar(&p.kernel, "kernel", DefaultKernel, "kernel source (see ptvmlab run -h)")
	fs.StringVar(&p.series, "series", "auto", "series directory; auto: the repo's patches/<version>")
	return fs
}

// load resolves the kernel and the series.
func (p *patchFlags) load(ctx context.Context) (source.Tree, *patch.Series, error) {
	env, err := p.env()
	if err != nil {
		return source.Tree{}, nil, err
	}
	tree, err := p.tree(ctx, env)
	if err != nil {
		return tree, nil, err
	}
	if p.series == "none" {
		return tree, nil, usagef("--series none: these commands need a series")
	}
	s, _, _, err := p.seriesFor(env, tree)
	return tree, s, err
}

func patchesApply(ctx context.Context, args []string, stdout io.Writer) error {
	var p patchFlags
	fs := newPatchFlags("apply", &p)
	fs.StringVar(&p.out, "out", "", "keep the patched tree here (must not exist); default: check and discard")
	if err := parse(fs, args); err != nil {
		return err
	}
	tree, s, err := p.load(ctx)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "ptvmlab-apply-")
	if err != nil {
		return err
	}
	defer cache.RemoveAll(scratch)
	dst := filepath.Join(scratch, "tree")
	if err := source.CopyTree(tree.Dir, dst); err != nil {
		return err
	}
	if err := patch.Apply(ctx, dst, s, patch.Options{}); err != nil {
		var ae *patch.ApplyError
		if errors.As(err, &ae) {
			return exitError{code: exitFailed, err: err}
		}
		return err
	}
	if p.out != "" {
		if err := os.Rename(dst, p.out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%d patches of %s apply to %s (%s)\n", len(s.Patches), s.Dir, tree.Version, tree.Digest)
	return nil
}

func patchesExport(ctx context.Context, args []string, stdout io.Writer) error {
	var p patchFlags
	fs := newPatchFlags("export", &p)
	fs.StringVar(&p.out, "out", "", "directory for the mails (required; may be the series directory itself)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if p.out == "" {
		return usagef("--out is required: the directory to write the mails to")
	}
	tree, s, err := p.load(ctx)
	if err != nil {
		return err
	}
	if err := patch.Export(ctx, tree.Dir, s, p.out, patch.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d patches and a cover letter to %s\n", len(s.Patches), p.out)
	return nil
}

func patchesCheck(ctx context.Context, args []string, stdout io.Writer) error {
	var p patchFlags
	fs := newPatchFlags("check", &p)
	fs.BoolVar(&p.json, "json", false, "print the verdicts as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	tree, s, err := p.load(ctx)
	if err != nil {
		return err
	}
	env, err := p.env()
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "ptvmlab-check-")
	if err != nil {
		return err
	}
	defer cache.RemoveAll(scratch)
	checkers, skipped, err := checkersFor(ctx, env, tree, scratch)
	if err != nil {
		return err
	}
	type run struct {
		Checker  string          `json:"checker"`
		Verdicts []patch.Verdict `json:"verdicts"`
	}
	var runs []run
	clean := true
	for _, c := range checkers {
		vs, err := patch.Check(ctx, c, s)
		if err != nil {
			return err
		}
		for _, v := range vs {
			clean = clean && v.Clean()
		}
		runs = append(runs, run{Checker: c.Name, Verdicts: vs})
	}
	if p.json {
		b, _ := json.MarshalIndent(runs, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		for _, r := range runs {
			fmt.Fprintf(stdout, "%s:\n", r.Checker)
			for _, v := range r.Verdicts {
				verdict := "clean"
				if !v.Ran {
					verdict = "NOT CHECKED: " + v.Note
				} else if !v.Clean() {
					verdict = "NOT CLEAN"
				}
				fmt.Fprintf(stdout, "  %s: %d errors, %d warnings, %d checks, %d lines: %s\n", v.Patch, v.Errors, v.Warnings, v.Checks, v.Lines, verdict)
				for _, m := range v.Messages {
					fmt.Fprintf(stdout, "      %s\n", m)
				}
			}
		}
		for _, sk := range skipped {
			fmt.Fprintf(stdout, "skipped: %s\n", sk)
		}
		fmt.Fprintf(stdout, "checkpatch.pl of %s (%s)\n", tree.Version, tree.Digest)
	}
	if !clean {
		return exitError{code: exitFailed}
	}
	return nil
}

// checkersFor chooses the checkpatch.pl runs for tree: its own script
// (with the era's perl fix, on a copy, when the era has one) and, for an
// old era, today's script from the default kernel too, with --no-tree
// since it does not know the old tree. A checker that cannot be had is
// returned in skipped with the reason, never dropped silently.
func checkersFor(ctx context.Context, env cell.Env, tree source.Tree, scratch string) ([]patch.Checker, []string, error) {
	prof, err := era.For(tree.Version)
	if err != nil {
		return nil, nil, err
	}
	var out []patch.Checker
	var skipped []string
	own, err := patch.TreeChecker(tree.Dir)
	if err != nil {
		return nil, nil, err
	}
	if d := prof.CheckpatchFixDir(filepath.Join(env.ModuleDir, "patches")); d != "" {
		fix, err := patch.Load(d)
		if err != nil {
			return nil, nil, err
		}
		if own, err = patch.FixedTreeChecker(ctx, tree.Dir, fix, filepath.Join(scratch, "own")); err != nil {
			return nil, nil, err
		}
	}
	out = append(out, own)
	if prof.Name == "" {
		return out, nil, nil
	}
	spec, err := source.Parse(DefaultKernel)
	if err != nil {
		return nil, nil, err
	}
	modern, err := source.Resolve(ctx, env.Cache, spec)
	if err == nil {
		var c patch.Checker
		if c, err = patch.TreeChecker(modern.Dir); err == nil {
			c.Name = fmt.Sprintf("today's checkpatch.pl --strict --no-tree (from %s %s)", DefaultKernel, modern.Version)
			c.Dir = scratch
			c.Args = []string{"--strict", "--no-tree"}
			out = append(out, c)
		}
	}
	if err != nil {
		skipped = append(skipped, fmt.Sprintf("today's checkpatch.pl (%s): %v", DefaultKernel, err))
	}
	return out, skipped, nil
}

func patchesRefresh(ctx context.Context, args []string, stdout io.Writer) error {
	var p patchFlags
	var from, to, toKernel string
	fs := flag.NewFlagSet("patches refresh", flag.ContinueOnError)
	fs.StringVar(&from, "from", "", "era to refresh from, e.g. 6.12 (patches/6.12)")
	fs.StringVar(&to, "to", "", "era to refresh to, e.g. 6.1 (written to patches/6.1)")
	fs.StringVar(&toKernel, "kernel", "", "the new base's source (default debian:<to>)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if from == "" || to == "" {
		return usagef("--from and --to are required, e.g. --from 6.12 --to 6.1")
	}
	if toKernel == "" {
		toKernel = "debian:" + to
	}
	p.kernel = toKernel
	env, err := p.env()
	if err != nil {
		return err
	}
	tree, err := p.tree(ctx, env)
	if err != nil {
		return err
	}
	s, err := patch.Load(filepath.Join(env.ModuleDir, "patches", from))
	if err != nil {
		return usageError{err}
	}
	out := filepath.Join(env.ModuleDir, "patches", to)
	report, err := patch.Refresh(ctx, tree.Dir, s, out)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, report.String())
	if !report.Applied() {
		return exitError{code: exitFailed}
	}
	return nil
}
