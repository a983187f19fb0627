package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	out       string
	json      bool
	signoff   string
	noSignoff bool
}

// checkIdentity signs the mails patches check and review look at when the
// poster gave no identity: checkpatch wants a Signed-off-by that matches
// the From, and .invalid (RFC 2606) can never be anybody's address.
var checkIdentity = patch.Identity{Name: "ptvmlab check", Email: "check@ptvmlab.invalid"}

// signoffUsage is --signoff's help, shared by export, check and review.
const signoffUsage = `the poster's identity, "Name <email>": the From of every mail and the last Signed-off-by of every patch; default: git config user.name and user.email`

// poster resolves who posts the series: --signoff, else git config
// user.name and user.email in the working directory (as git format-patch
// -s finds them). It returns where the identity came from, and the zero
// Identity when there is none. A malformed identity is a usage error.
func poster(ctx context.Context, signoff string) (patch.Identity, string, error) {
	if signoff != "" {
		id, err := patch.ParseIdentity(signoff)
		if err != nil {
			return id, "", usagef("--signoff %v (want --signoff \"Full Name <name@domain>\")", err)
		}
		return id, "--signoff", nil
	}
	id, err := patch.GitIdentity(ctx, "")
	if err != nil {
		return id, "", usagef("%v: set both (git config user.name \"Full Name\"; git config user.email name@domain), or pass --signoff \"Full Name <name@domain>\"", err)
	}
	return id, "git config", nil
}

// postedForm is s as patches export --signoff would post it, signed off by
// id, loaded from a fresh export under dir: what checkpatch should judge.
func postedForm(ctx context.Context, base string, s *patch.Series, id patch.Identity, dir string) (*patch.Series, error) {
	if err := patch.ExportSigned(ctx, base, s, dir, patch.Options{}, id); err != nil {
		var ae *patch.ApplyError
		if errors.As(err, &ae) {
			return nil, exitError{code: exitFailed, err: fmt.Errorf("export the mails to check: %w", err)}
		}
		return nil, fmt.Errorf("export the mails to check: %w", err)
	}
	return patch.Load(dir)
}

// checkPoster is the identity patches check and review sign the mails with:
// the poster's, or checkIdentity when there is none, with a line that
// says which.
func checkPoster(ctx context.Context, signoff string) (patch.Identity, string, error) {
	id, from, err := poster(ctx, signoff)
	if err != nil {
		return id, "", err
	}
	if id.IsZero() {
		return checkIdentity, fmt.Sprintf("no --signoff and no git config user.name/user.email: checking the mails signed off by the placeholder %s", checkIdentity), nil
	}
	return id, fmt.Sprintf("checking the mails as %s posts them (from %s)", id, from), nil
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
	scratch, doneScratch, err := cache.ScratchDir("", "ptvmlab-apply-")
	if err != nil {
		return err
	}
	defer doneScratch()
	dst := filepath.Join(scratch, "tree")
	// A tree given to the user (--out) is edited in place by editors and
	// scripts: it must share no inode with the cache's pristine tree, or
	// an edit changes the cache (and every cell built from it). Without
	// --out the tree is only patched (by rename) and dropped: link it.
	copyTree := source.CopyTree
	if p.out != "" {
		copyTree = source.CopyTreeContents
	}
	if err := copyTree(tree.Dir, dst); err != nil {
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
	fs.StringVar(&p.signoff, "signoff", "", signoffUsage)
	fs.BoolVar(&p.noSignoff, "no-signoff", false, "write the stored form (as patches/<era>/ keeps it): the series' own From, no Signed-off-by added")
	if err := parse(fs, args); err != nil {
		return err
	}
	if p.out == "" {
		return usagef("--out is required: the directory to write the mails to")
	}
	var id patch.Identity
	how := "in the stored form (no Signed-off-by added)"
	if p.noSignoff {
		if p.signoff != "" {
			return usagef("--signoff and --no-signoff: choose one (--no-signoff writes the stored form, --signoff the mails to post)")
		}
	} else {
		var from string
		var err error
		if id, from, err = poster(ctx, p.signoff); err != nil {
			return err
		}
		if id.IsZero() {
			return usagef("export: no identity to sign the mails off with: pass --signoff \"Full Name <name@domain>\" or set git config user.name and user.email (--no-signoff writes the stored form)")
		}
		how = fmt.Sprintf("from and signed off by %s (%s)", id, from)
	}
	tree, s, err := p.load(ctx)
	if err != nil {
		return err
	}
	if err := patch.ExportSigned(ctx, tree.Dir, s, p.out, patch.Options{}, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d patches and a cover letter to %s, %s\n", len(s.Patches), p.out, how)
	return nil
}

func patchesCheck(ctx context.Context, args []string, stdout io.Writer) error {
	var p patchFlags
	fs := newPatchFlags("check", &p)
	fs.BoolVar(&p.json, "json", false, "print the verdicts as JSON")
	fs.StringVar(&p.signoff, "signoff", "", signoffUsage+"; none: the placeholder "+checkIdentity.String())
	if err := parse(fs, args); err != nil {
		return err
	}
	id, said, err := checkPoster(ctx, p.signoff)
	if err != nil {
		return err
	}
	tree, stored, err := p.load(ctx)
	if err != nil {
		return err
	}
	env, err := p.env()
	if err != nil {
		return err
	}
	scratch, doneScratch, err := cache.ScratchDir("", "ptvmlab-check-")
	if err != nil {
		return err
	}
	defer doneScratch()
	// checkpatch judges what would be posted, not the stored form: that
	// carries no Signed-off-by, which checkpatch requires.
	s, err := postedForm(ctx, tree.Dir, stored, id, filepath.Join(scratch, "posted"))
	if err != nil {
		return err
	}
	if p.json {
		slog.Info(said)
	} else {
		fmt.Fprintln(stdout, said)
	}
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
				accepted := ""
				if a := v.AcceptedSummary(); a != "" {
					accepted = " (" + a + ")"
				}
				fmt.Fprintf(stdout, "  %s: %d errors, %d warnings, %d checks%s, %d lines: %s\n", v.Patch, v.Errors, v.Warnings, v.Checks, accepted, v.Lines, verdict)
				for _, m := range v.Messages {
					fmt.Fprintf(stdout, "      %s\n", m)
				}
				for _, a := range v.Accepted {
					fmt.Fprintf(stdout, "      accepted: %s\n", a.Message)
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
