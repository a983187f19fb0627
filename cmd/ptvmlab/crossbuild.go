package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/crossbuild"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/patch"
)

// cmdCrossbuild is "ptvmlab crossbuild": the series cross-built for an
// architecture the lab does not boot (arm64), as a check that it builds
// where the PTRACE_VM tags are not offered. It prints one line: built (and
// the state of CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS) or the first compiler
// error. Exit 0 built as expected, 1 the series does not apply or build or
// the opt-in symbol is wrong, 2 bad input, 3 a missing tool.
func cmdCrossbuild(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	var archName, compiler string
	fs := flag.NewFlagSet("crossbuild", flag.ContinueOnError)
	fs.StringVar(&c.kernel, "kernel", DefaultKernel, "kernel source: debian:X.Y, a tarball, a directory, URL#sha256=HEX, or git:DIR@REF")
	fs.StringVar(&c.series, "series", "auto", "patch series directory; auto: the repo's patches/<version>; none: the unpatched kernel")
	fs.StringVar(&archName, "arch", "arm64", "the architecture to cross-build: arm64")
	fs.StringVar(&compiler, "cc", "auto", "the cross compiler: gcc (Debian's cross gcc), clang (with Debian's cross binutils), or auto: the first installed")
	fs.IntVar(&c.jobs, "jobs", 0, "make -j (default: the CPU count)")
	if err := parse(fs, args); err != nil {
		return err
	}
	arch, err := crossbuild.LookupArch(archName)
	if err != nil {
		return usageError{fmt.Errorf("--arch: %w", err)}
	}
	if !knownCompiler(arch, compiler) {
		return usagef("--cc %q: choose auto, %s", compiler, strings.Join(compilerNames(arch), " or "))
	}
	st, err := c.setup(ctx)
	if err != nil {
		return err
	}
	prof, err := era.For(st.tree.Version)
	if err != nil {
		return usageError{err}
	}
	kdir := filepath.Join(st.env.ModuleDir, "kconfigs")
	frag, err := kconfig.LoadFile("crossbuild", prof.Fragment(kdir, "crossbuild"))
	if err != nil {
		return err
	}
	res, err := crossbuild.Build(ctx, st.env.Cache, crossbuild.Request{Tree: st.tree, Series: st.series, Arch: arch,
		Fragments: []kconfig.Fragment{frag}, Compiler: compiler, Jobs: c.jobs, Progress: st.env.Progress})
	what := fmt.Sprintf("%s %s + series %s", arch.Name, st.tree.Version, st.seriesName)
	var buildErr *kbuild.Error
	var applyErr *patch.ApplyError
	var unsupported *crossbuild.UnsupportedError
	var dropped *kconfig.DroppedError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &buildErr), errors.As(err, &applyErr):
		fmt.Fprintf(stdout, "%s: FAILED: %v\n", what, err)
		return exitError{code: exitFailed}
	case errors.As(err, &unsupported), errors.As(err, &dropped):
		return usageError{err}
	case err != nil:
		return err
	}
	fmt.Fprintln(stdout, reportLine(what, arch, st.seriesName, res))
	if crossbuild.CheckTags(arch, res.Tags) != nil {
		return exitError{code: exitFailed}
	}
	return nil
}

// reportLine is the check's one line for a build that compiled.
func reportLine(what string, arch crossbuild.Arch, seriesName string, res crossbuild.Result) string {
	how := fmt.Sprintf("make took %s", (time.Duration(res.BuildS * float64(time.Second))).Round(time.Second))
	if res.Cached {
		how = "cache hit, no make run"
	}
	tags := res.Tags.Describe(arch, seriesName)
	if err := crossbuild.CheckTags(arch, res.Tags); err != nil {
		tags = "FAILED: " + err.Error()
	} else if res.Tags == crossbuild.TagsUnset {
		tags += fmt.Sprintf(" (%s does not opt in: the tags are ignored)", arch.Name)
	}
	return fmt.Sprintf("%s: built with %s, %s linked; %s (%s)", what, res.Compiler, strings.Join(res.Symbols, ", "), tags, how)
}

func compilerNames(a crossbuild.Arch) []string {
	var out []string
	for _, t := range a.Toolchains {
		out = append(out, t.Name)
	}
	return out
}

func knownCompiler(a crossbuild.Arch, name string) bool {
	return name == "auto" || slices.Contains(compilerNames(a), name)
}
