package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/compare"
	"github.com/ptvmlab/ptvmlab/lab/labbench"
	"github.com/ptvmlab/ptvmlab/lab/matrix"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/vm/qemu"
)

// benchLabRows are the figures ptvmlab bench lab can print; the cheap
// ones run by default, the ones that build kernels from nothing only when
// asked for.
var benchLabRows = []string{"run", "initramfs", "matrix", "pair", "cold"}

var benchLabDefault = []string{"run", "initramfs", "matrix"}

// benchTests is what the run-vs-bare boots run: the probe alone, so that
// the figure is the lab's cost around one boot, not the tests' time.
const benchTests = "ptvmlab.tests=probe"

// cmdBenchLab is "ptvmlab bench lab": the lab's own speed, as issue 15's
// table has it. Each row is measured from one invocation here and printed
// as a time or a ratio beside its target.
func cmdBenchLab(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench lab", flag.ContinueOnError)
	kernel := fs.String("kernel", DefaultKernel, "the kernel source of the run and pair rows")
	rowsArg := fs.String("rows", strings.Join(benchLabDefault, ","), "rows to measure: "+strings.Join(benchLabRows, ", ")+
		" (pair and cold build kernels from nothing: minutes to an hour)")
	runs := fs.Int("runs", 5, "runs of each timed command whose median is printed (run and initramfs rows)")
	pairArch := fs.String("pair-arch", "x86_64", "the arch of the pair row's builds")
	shardArg := fs.String("shard", "", "the cold row runs only this shard, i/n (see ptvmlab matrix plan): one nightly runner's share")
	out := fs.String("out", "", "also write the rows as DIR/lab-bench.json")
	if err := parse(fs, args); err != nil {
		return err
	}
	rows := strings.Split(*rowsArg, ",")
	for _, r := range rows {
		if !slices.Contains(benchLabRows, r) {
			return usagef("--rows: unknown row %q: choose from %s", r, strings.Join(benchLabRows, ", "))
		}
	}
	if *runs < 1 {
		return usagef("--runs %d: at least 1", *runs)
	}
	var shard *matrix.Shard
	if *shardArg != "" {
		s, err := matrix.ParseShard(*shardArg)
		if err != nil {
			return usageError{fmt.Errorf("--shard: %w", err)}
		}
		if !slices.Contains(rows, "cold") {
			return usagef("--shard %s: only the cold row runs a shard; add --rows cold", s)
		}
		shard = &s
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench lab: finding ptvmlab itself: %w", err)
	}
	scratch, done, err := cache.ScratchDir("", "ptvmlab-bench-lab-")
	if err != nil {
		return err
	}
	defer done()
	b := benchLab{self: self, kernel: *kernel, runs: *runs, scratch: scratch, stdout: stdout, shard: shard}
	var measured []labbench.Row
	for _, r := range rows {
		fmt.Fprintf(stdout, "measuring %s ...\n", r)
		var got []labbench.Row
		switch r {
		case "run":
			got = b.runVsBare(ctx)
		case "initramfs":
			got = b.initramfs(ctx)
		case "matrix":
			got = b.matrix(ctx)
		case "pair":
			got = b.pair(ctx, *pairArch)
		case "cold":
			got = b.cold(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		measured = append(measured, got...)
	}
	fmt.Fprintln(stdout)
	if err := labbench.Table(stdout, measured); err != nil {
		return err
	}
	if *out != "" {
		j, err := json.MarshalIndent(measured, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		if err := cache.WriteFileAtomic(filepath.Join(*out, "lab-bench.json"), append(j, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type benchLab struct {
	self, kernel, scratch string
	runs                  int
	stdout                io.Writer
	shard                 *matrix.Shard // the cold row's shard; nil: the whole matrix
}

// failed is a row whose figure could not be measured, saying why.
func failed(name string, err error) []labbench.Row {
	return []labbench.Row{{Name: name, Value: "not measured", Note: err.Error()}}
}

// ptvmlab runs this binary with args (env added to this process's) and
// returns its wall time; a non-zero exit is an error quoting the output's
// end.
func (b benchLab) ptvmlab(ctx context.Context, env []string, args ...string) (time.Duration, error) {
	cmd := proc.Command(ctx, b.self, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		tail := out.String()
		if len(tail) > 600 {
			tail = "…" + tail[len(tail)-600:]
		}
		return took, fmt.Errorf("ptvmlab %s: %v: %s", strings.Join(args, " "), err, strings.ReplaceAll(strings.TrimSpace(tail), "\n", " | "))
	}
	return took, nil
}

// runVsBare times the whole `ptvmlab run --arch i386` (a process of its
// own: start-up, cache look-ups, the accelerator choice, QMP, the results
// port, the reports) against QEMU alone with the same kernel, initramfs,
// command line and devices, both to the guest's power-off. The guest runs
// the probe only. A first run of each, not counted, warms the caches.
func (b benchLab) runVsBare(ctx context.Context) []labbench.Row {
	const name = "`ptvmlab run --arch i386` (warm) vs bare QEMU"
	outDir := filepath.Join(b.scratch, "run")
	runArgs := []string{"run", "--kernel", b.kernel, "--arch", "i386", "--append", benchTests, "--out", outDir}
	if _, err := b.ptvmlab(ctx, nil, runArgs...); err != nil {
		return failed(name, err)
	}
	rec, err := compare.Load(outDir)
	if err != nil || len(rec.Run.Boots) != 1 {
		return failed(name, fmt.Errorf("reading the run's results: %v", err))
	}
	labTimes, err := labbench.Times(ctx, b.runs, func(ctx context.Context) error {
		_, err := b.ptvmlab(ctx, nil, runArgs...)
		return err
	})
	if err != nil {
		return failed(name, err)
	}

	// The same cell, prepared here: every input is cached by now.
	c := common{kernel: b.kernel, series: "auto", arches: "i386"}
	st, err := c.setup(ctx)
	if err != nil {
		return failed(name, err)
	}
	p, err := cell.Prepare(ctx, st.env, cell.Cell{Tree: st.tree, Series: st.series, SeriesName: st.seriesName, Arch: "i386",
		Cmdline: []string{benchTests}, Expect: st.expect, Timeout: 5 * time.Minute, Out: filepath.Join(b.scratch, "bare")})
	if err != nil {
		return failed(name, err)
	}
	if got, want := strings.Join(p.Record.Cmdline, " "), strings.Join(rec.Run.Boots[0].Cmdline, " "); got != want {
		return failed(name, fmt.Errorf("the bare boot's command line %q is not the run's %q", got, want))
	}
	bareTimes, err := labbench.Times(ctx, b.runs+1, func(ctx context.Context) error { return bareBoot(ctx, p, b.scratch) })
	if err != nil {
		return failed(name, err)
	}
	bareTimes = bareTimes[1:] // the first warms the page cache, as the lab's uncounted run did
	lab, bare := labbench.Median(labTimes), labbench.Median(bareTimes)
	ratio := lab.Seconds() / bare.Seconds()
	r := labbench.Row{Name: name, Value: fmt.Sprintf("%.2f× (%s vs %s)", ratio, labbench.Seconds(lab), labbench.Seconds(bare)),
		Note: fmt.Sprintf("medians of %d, each to the guest's power-off under TCG; the guest runs %s; bare QEMU has the lab's "+
			"command line and devices, no QMP, and writes the results to a file", b.runs, benchTests)}
	r.Against("≤ 1.10×", ratio, 1.10)
	return []labbench.Row{r}
}

// bareBoot runs QEMU alone for p and checks that the guest answered.
func bareBoot(ctx context.Context, p *cell.Plan, scratch string) error {
	dir, err := os.MkdirTemp(scratch, "bare-")
	if err != nil {
		return err
	}
	bin, args, err := qemu.BareCommand(p.Spec, dir)
	if err != nil {
		return err
	}
	cmd := proc.Command(ctx, bin, args...)
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bare %s: %v: %s", bin, err, proc.FirstLine(console.Bytes()))
	}
	ktap, err := os.ReadFile(filepath.Join(dir, "results.raw"))
	if err != nil || !bytes.Contains(ktap, []byte("ok 1 probe")) {
		return fmt.Errorf("bare %s: the guest did not report its probe (%v); console ends: %s", bin, err, qemu.LastLine(console.Bytes()))
	}
	return nil
}

// initramfs times the guest image's build, warm (everything cached: what
// each cell pays) and cold (a fresh cache: the Go builds of the suite and
// of u-root).
func (b benchLab) initramfs(ctx context.Context) []labbench.Row {
	moduleDir, err := moduleRoot()
	if err != nil {
		return failed("initramfs", err)
	}
	c, err := cache.Default()
	if err != nil {
		return failed("initramfs", err)
	}
	opts := initramfs.Opts{GOARCH: "amd64", ModuleDir: moduleDir, Cache: c, IA32: true}
	if _, err := initramfs.Build(ctx, opts); err != nil {
		return failed("initramfs", err)
	}
	warm, err := labbench.Times(ctx, b.runs, func(ctx context.Context) error { _, err := initramfs.Build(ctx, opts); return err })
	if err != nil {
		return failed("initramfs", err)
	}
	opts.Cache = cache.Dir(filepath.Join(b.scratch, "initramfs-cache"))
	cold, err := labbench.Times(ctx, 1, func(ctx context.Context) error { _, err := initramfs.Build(ctx, opts); return err })
	if err != nil {
		return failed("initramfs", err)
	}
	return []labbench.Row{
		{Name: "initramfs (amd64 + ia32), warm", Value: labbench.Seconds(labbench.Median(warm)), Note: fmt.Sprintf("median of %d; what every cell pays", b.runs)},
		{Name: "initramfs (amd64 + ia32), cold", Value: labbench.Seconds(cold[0]), Note: "a fresh lab cache; Go's own build cache stays warm"},
	}
}

// matrix times the default matrix with every kernel cached: every cell
// booted (--fresh), then nothing changed (every record reused).
func (b benchLab) matrix(ctx context.Context) []labbench.Row {
	fresh := filepath.Join(b.scratch, "matrix-fresh")
	took, err := b.ptvmlab(ctx, nil, "matrix", "--fresh", "--out", fresh)
	if err != nil {
		return failed("default matrix, every cell booted (--fresh)", err)
	}
	cells := cellCount(fresh)
	r := labbench.Row{Name: "default matrix, every cell booted (--fresh)", Value: fmt.Sprintf("%s (%s)", labbench.Seconds(took), cells),
		Note: "every kernel cached; one run"}
	r.Against("≤ 60 s", took.Seconds(), 60)
	reuse := filepath.Join(b.scratch, "matrix-reuse")
	took, err = b.ptvmlab(ctx, nil, "matrix", "--out", reuse)
	if err != nil {
		return append([]labbench.Row{r}, failed("default matrix, nothing changed (reuse)", err)...)
	}
	r2 := labbench.Row{Name: "default matrix, nothing changed (reuse)", Value: fmt.Sprintf("%s (%s)", labbench.Seconds(took), cellCount(reuse))}
	r2.Against("< 1 s", took.Seconds(), 1)
	return []labbench.Row{r, r2}
}

func cellCount(dir string) string {
	s, err := compare.Load(dir)
	if err != nil {
		return "cells unknown: " + err.Error()
	}
	booted := 0
	for _, bt := range s.Run.Boots {
		if bt.Status != "skipped" {
			booted++
		}
	}
	return fmt.Sprintf("%d cells, %d run", len(s.Run.Boots), booted)
}

// scratchCache makes an empty lab cache for builds from nothing, whose
// source trees are the real cache's (a tree is an input, not a build):
// its XDG_CACHE_HOME, so Go's build cache starts empty too.
func (b benchLab) scratchCache(name string) (string, error) {
	xdg := filepath.Join(b.scratch, name)
	c, err := cache.Default()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(xdg, "ptvmlab"), 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(c.Path("src"), filepath.Join(xdg, "ptvmlab", "src")); err != nil {
		return "", err
	}
	return xdg, nil
}

// pair builds the patched kernel and then the unpatched one, from nothing
// but through one ccache (as the matrix does), and prints the pair's time
// over the first build's, and what the second recompiled.
func (b benchLab) pair(ctx context.Context, arch string) []labbench.Row {
	name := "patched/unpatched pair through ccache (" + arch + ")"
	xdg, err := b.scratchCache("pair")
	if err != nil {
		return failed(name, err)
	}
	env := []string{"XDG_CACHE_HOME=" + xdg}
	patched, err := b.ptvmlab(ctx, env, "build", "--kernel", b.kernel, "--arch", arch, "--series", "auto")
	if err != nil {
		return failed(name, err)
	}
	ccacheDir := filepath.Join(xdg, "ptvmlab", "ccache")
	before := ccacheMisses(ctx, ccacheDir)
	unpatched, err := b.ptvmlab(ctx, env, "build", "--kernel", b.kernel, "--arch", arch, "--series", "none")
	if err != nil {
		return failed(name, err)
	}
	misses := ccacheMisses(ctx, ccacheDir) - before
	ratio := (patched + unpatched).Seconds() / patched.Seconds()
	r := labbench.Row{Name: name, Value: fmt.Sprintf("%.2f× (%s + %s)", ratio, labbench.Seconds(patched), labbench.Seconds(unpatched)),
		Note: fmt.Sprintf("an empty cache and ccache; the unpatched build recompiled %d objects (ccache misses), the files that see the series", misses)}
	r.Against("≤ 1.3×", ratio, 1.3)
	return []labbench.Row{r}
}

// ccacheMisses reads ccache's miss counter in dir; -1 when it cannot.
func ccacheMisses(ctx context.Context, dir string) int {
	out, err := proc.Output(ctx, "", []string{"CCACHE_DIR=" + dir, "PATH=" + os.Getenv("PATH")}, "ccache", "--print-stats")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "cache_miss\t"); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return -1
}

// cold runs the default matrix from nothing: an empty lab cache, ccache
// and Go build cache (the source trees are the real cache's). With a
// shard it runs that shard alone, as one nightly runner would: the
// nightly's cold wall time is its slowest shard's.
func (b benchLab) cold(ctx context.Context) []labbench.Row {
	name := "default matrix, cold"
	args := []string{"matrix"}
	if b.shard != nil {
		name += ", shard " + b.shard.String() + " (one nightly runner)"
		args = append(args, "run", "--shard", b.shard.String())
	}
	xdg, err := b.scratchCache("cold")
	if err != nil {
		return failed(name, err)
	}
	out := filepath.Join(b.scratch, "matrix-cold")
	took, err := b.ptvmlab(ctx, []string{"XDG_CACHE_HOME=" + xdg}, append(args, "--out", out)...)
	if err != nil {
		return failed(name, err)
	}
	r := labbench.Row{Name: name, Value: fmt.Sprintf("%s (%s)", labbench.Seconds(took), cellCount(out)),
		Note: "an empty lab cache, ccache and Go build cache; the source trees already unpacked"}
	r.Against("≤ 30 min", took.Minutes(), 30)
	return []labbench.Row{r}
}
