package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/term"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/progress"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
	"github.com/ptvmlab/ptvmlab/lab/vm"
	"github.com/ptvmlab/ptvmlab/lab/vm/qemu"
)

// DefaultKernel is what ptvmlab runs on when --kernel is not given.
const DefaultKernel = "debian:6.12"

// common are the flags every command shares.
type common struct {
	kernel  string
	series  string
	arches  string
	out     string
	timeout time.Duration
	boots   bool // the command boots: --timeout, --out and the accelerator flags apply
	jobs    int
	appends multiString
	noUML   bool
	accel   accelFlags
	formats extraFormats
}

// accelFlags choose the accelerator and the silence watchdog of the
// commands that boot.
type accelFlags struct {
	accel   string
	silence time.Duration
	// fromFile is the matrix file's accel key, below the flag and
	// $PTVMLAB_ACCEL.
	fromFile string
}

// AccelEnv names the environment variable that sets --accel's default.
const AccelEnv = "PTVMLAB_ACCEL"

func (a *accelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.accel, "accel", "", "accelerator: auto (KVM only where a short probe boot under it reaches its end, else TCG; a KVM boot that goes wrong is retried under TCG), kvm or tcg (default $"+AccelEnv+", else auto)")
	fs.DurationVar(&a.silence, "silence", 0, "stop a guest whose console and results stay silent this long, as timeout (default 60s under TCG, 30s under KVM)")
}

// mode is the accelerator mode: --accel, else $PTVMLAB_ACCEL, else the
// matrix file's accel, else auto.
func (a accelFlags) mode() (vm.AccelMode, error) {
	v, from := a.accel, "--accel"
	if v == "" {
		v, from = os.Getenv(AccelEnv), AccelEnv
	}
	if v == "" {
		v, from = a.fromFile, "the matrix file's accel"
	}
	m, err := vm.ParseAccel(v)
	if err != nil {
		return "", usagef("%s: %v", from, err)
	}
	return m, nil
}

func (a accelFlags) check() error {
	if a.silence < 0 {
		return usagef("--silence %s: must not be negative (0 is the default: 60s under TCG, 30s under KVM)", a.silence)
	}
	_, err := a.mode()
	return err
}

// checkTimeout refuses a boot limit that is not positive: a negative one
// would end every boot as a timeout, and 0 would mean no limit.
func checkTimeout(name string, d time.Duration) error {
	if d <= 0 {
		return usagef("%s %s: a boot limit must be positive, e.g. 5m", name, d)
	}
	return nil
}

type multiString []string

func (m *multiString) String() string     { return strings.Join(*m, " ") }
func (m *multiString) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(name string, c *common, bootFlags bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.kernel, "kernel", DefaultKernel, "kernel source: debian:X.Y, a tarball, a directory, URL#sha256=HEX, or git:DIR@REF")
	fs.StringVar(&c.arches, "arch", "x86_64,i386", "comma-separated arches: x86_64, i386 (and um, um-i386 for build)")
	fs.IntVar(&c.jobs, "jobs", 0, "make -j (default: the CPU count)")
	fs.StringVar(&c.series, "series", "auto", "patch series directory; auto: the repo's patches/<version>; none: the unpatched kernel")
	if bootFlags {
		c.boots = true
		fs.StringVar(&c.out, "out", "ptvmlab-out", "directory for results.json, junit.xml and per-boot logs")
		// 10 minutes: one run boot carries every UML flag set, and 7.3's
		// x86_64 boot (four UML boots, the kselftests) takes about 4 min
		// under TCG on a quiet 2-core machine. A hung guest is caught
		// sooner by --silence; this limit is for one that never stops talking.
		fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "limit for each boot, from QEMU start to its end (a silent guest is stopped sooner, see --silence)")
		fs.Var(&c.appends, "append", "an extra kernel argument (repeatable), e.g. ptvmlab.tests=probe")
		fs.BoolVar(&c.noUML, "no-uml", false, "leave UML out of the cells (no um or um-i386 build; the uml test skips)")
		c.accel.register(fs)
		fs.Var(&c.formats, "format", formatsUsage)
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// env sets up what every cell shares.
func (c *common) env() (cell.Env, error) {
	dir, err := cache.Default()
	if err != nil {
		return cell.Env{}, err
	}
	root, err := moduleRoot()
	if err != nil {
		return cell.Env{}, usageError{err}
	}
	if err := c.accel.check(); err != nil {
		return cell.Env{}, err
	}
	if c.boots {
		if err := checkTimeout("--timeout", c.timeout); err != nil {
			return cell.Env{}, err
		}
	}
	dir.CleanStaleScratch()
	mode, _ := c.accel.mode()
	return cell.Env{Cache: dir, ModuleDir: root, Backend: &qemu.Backend{Accel: mode, Cache: dir}, Jobs: c.jobs, Progress: stderrProgress()}, nil
}

// stderrProgress shows the command's builds and boots on stderr: live
// bars when it is a terminal, else a line per stage and a heartbeat
// every progress.Heartbeat, for CI logs. On a terminal the log goes
// through the bars' writer, so that a log line never tears a bar.
func stderrProgress() *progress.Reporter {
	onTerminal := term.IsTerminal(int(os.Stderr.Fd()))
	r := progress.New(progress.Opts{Out: os.Stderr, Terminal: onTerminal})
	if onTerminal {
		slog.SetDefault(slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: logLevel()})))
	}
	return r
}

func (c *common) archList(bootable bool) ([]string, error) {
	var out []string
	for _, a := range strings.Split(c.arches, ",") {
		a = strings.TrimSpace(a)
		arch, err := kbuild.LookupArch(a)
		if err != nil {
			return nil, usageError{fmt.Errorf("--arch: %w", err)}
		}
		if bootable && arch.GOARCH == "" {
			return nil, usagef("--arch %s: um kernels are not booted under QEMU; choose x86_64 or i386", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func (c *common) tree(ctx context.Context, env cell.Env) (source.Tree, error) {
	spec, err := source.Parse(c.kernel)
	if err != nil {
		return source.Tree{}, usageError{err}
	}
	t, err := source.Resolve(ctx, env.Cache, spec)
	if err != nil {
		if ctx.Err() != nil {
			return t, err
		}
		return t, usageError{err}
	}
	return t, nil
}

// setup is what run, build and bench share once their flags are parsed: the
// cell environment, the kernel tree, and the series with its name and the
// PTRACE_VM level it promises.
type setup struct {
	env        cell.Env
	tree       source.Tree
	series     *patch.Series
	seriesName string
	expect     proto.Level
}

func (c *common) setup(ctx context.Context) (setup, error) {
	var s setup
	var err error
	if s.env, err = c.env(); err != nil {
		return s, err
	}
	if s.tree, err = c.tree(ctx, s.env); err != nil {
		return s, err
	}
	s.series, s.seriesName, s.expect, err = c.seriesFor(s.env, s.tree)
	return s, err
}

// seriesFor resolves --series for tree: the loaded series (nil for none),
// its name for reports, and the PTRACE_VM level the kernel must offer.
func (c *common) seriesFor(env cell.Env, tree source.Tree) (*patch.Series, string, proto.Level, error) {
	s, name, expect, err := cell.ResolveSeries(env.ModuleDir, tree, c.series)
	if err != nil {
		return nil, "", "", usageError{err}
	}
	return s, name, expect, nil
}

func cmdRun(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := newFlags("run", &c, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	arches, err := c.archList(true)
	if err != nil {
		return err
	}
	if err := prepareOut(c.out); err != nil {
		return err
	}
	start := time.Now()
	st, err := c.setup(ctx)
	if err != nil {
		return err
	}
	run := report.Run{Started: start.UTC(), Boots: make([]report.Boot, len(arches))}
	// The arches run side by side, as a matrix's cells do: their builds
	// one at a time (each make uses every CPU), each boot on a CPU of its
	// own, so that one arch boots while the other builds or boots.
	env := st.env
	env.Builds = &sync.Mutex{}
	env.Boots = cell.NewBudget(runtime.NumCPU(), int64(runtime.NumCPU())*768)
	cellErrs := make([]*multierror.Error, len(arches))
	stops := make([]error, len(arches))
	var wg sync.WaitGroup
	for i, a := range arches {
		cc := cell.Cell{Tree: st.tree, Series: st.series, SeriesName: st.seriesName, Arch: a,
			Cmdline: c.appends, Expect: st.expect, Timeout: c.timeout, Silence: c.accel.silence, Out: filepath.Join(c.out, a), NoUML: c.noUML}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.Boots[i], stops[i] = runCell(ctx, env, cc, &cellErrs[i])
		}()
	}
	wg.Wait()
	var errs *multierror.Error
	for _, e := range cellErrs {
		if e != nil {
			errs = multierror.Append(errs, e.Errors...)
		}
	}
	// A usage error or an accelerator no boot can honour stops the
	// command, reports unwritten; an interrupted cell's record says so,
	// and the reports are written.
	for _, err := range stops {
		if err != nil && !errors.Is(err, errInterrupted) {
			return err
		}
	}
	run.TookS = time.Since(start).Seconds()
	return finish(c.out, run, stdout, errs, c.formats)
}

// errInterrupted is runCell's word that a signal ended the cell: its
// record says so, and the command writes its reports and stops.
var errInterrupted = errors.New("interrupted")

// runCell runs one cell for a command. It returns an error only when the
// command must stop (errInterrupted, with the cell's record, or input that
// does not fit: a usage error); any other failure becomes the record's
// infra status and is added to errs.
func runCell(ctx context.Context, env cell.Env, c cell.Cell, errs **multierror.Error) (report.Boot, error) {
	rec, err := cell.Run(ctx, env, c)
	if ctx.Err() != nil {
		return interruptedRecord(rec, c.Out), errInterrupted
	}
	var accelErr *vm.AccelError
	if errors.As(err, &accelErr) {
		return rec, exitError{code: exitInfra, err: accelErr}
	}
	if err != nil {
		if isInputError(err) {
			return rec, usageError{err}
		}
		rec.Status, rec.Title = string(boot.Infra), err.Error()
		*errs = multierror.Append(*errs, fmt.Errorf("%s: %w", c.Arch, err))
	}
	return rec, nil
}

// finish prints the verdict table, then writes the reports (results.json,
// junit.xml, summary.md, index.html), and picks the exit code (runExit).
// The table comes first, so that a directory that cannot be written still
// leaves the verdict on stdout.
func finish(out string, run report.Run, stdout io.Writer, errs *multierror.Error, more extraFormats) error {
	report.Summary(stdout, run)
	if errs.ErrorOrNil() != nil {
		slog.Error("some cells could not run", "err", errs.ErrorOrNil())
	}
	err := report.WriteMatrix(out, run)
	if err == nil {
		err = more.write(out, run)
	}
	if err != nil {
		fmt.Fprintf(stdout, "\n%s; the reports could not be written to %s\n", report.StatusLine(run), out)
		return exitError{code: exitInfra, err: fmt.Errorf("--out %s: writing the reports: %w", out, err)}
	}
	fmt.Fprintf(stdout, "\n%s; reports in %s (%s)\n", report.StatusLine(run), out, strings.Join(append(slices.Clone(reportFiles), more.files()...), ", "))
	if code := runExit(run); code != exitPassed {
		return exitError{code: code}
	}
	return nil
}

// reportFiles are the reports finish writes into --out.
var reportFiles = []string{"index.html", "summary.md", "results.json", "junit.xml"}

// prepareOut checks --out before any work: it must be (or become) a
// directory ptvmlab can write. The reports of an earlier run there are
// removed, so that no old "passed" outlives a run that did not finish.
func prepareOut(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usagef("--out %s: %v: give a directory ptvmlab can create", out, err)
	}
	f, err := os.CreateTemp(out, ".ptvmlab-write-check-")
	if err != nil {
		return usagef("--out %s: cannot write there: %v", out, err)
	}
	f.Close()
	os.Remove(f.Name())
	for _, r := range append(slices.Clone(reportFiles), "kcidb.json", "compare.txt", "compare.md", "compare.json") {
		if err := os.Remove(filepath.Join(out, r)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return usagef("--out %s: cannot remove the earlier run's %s: %v", out, r, err)
		}
	}
	return nil
}

// interruptedRecord is c's record when a signal ended it, or came before
// it started: its status says so, and its console log is kept if QEMU had
// begun one.
func interruptedRecord(rec report.Boot, out string) report.Boot {
	rec.Status, rec.Title = string(boot.Interrupted), "interrupted (SIGINT or SIGTERM) before this boot ended"
	rec.Tests = nil
	if p := filepath.Join(out, "console.log"); fileExists(p) {
		rec.ConsoleLog = p
	}
	return rec
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func cmdBuild(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := newFlags("build", &c, false)
	cachedOnly := fs.Bool("cached-only", false, "look the builds up and build nothing: exit 0 when every one is cached, 1 when one is not (a line says which), e.g. for a CI job deciding what fits its time")
	if err := parse(fs, args); err != nil {
		return err
	}
	arches, err := c.archList(false)
	if err != nil {
		return err
	}
	st, err := c.setup(ctx)
	if err != nil {
		return err
	}
	st.env.CachedOnly = *cachedOnly
	missing := 0
	for _, a := range arches {
		b, err := cell.Build(ctx, st.env, st.tree, st.series, a)
		if errors.Is(err, kbuild.ErrNotCached) {
			fmt.Fprintf(stdout, "%s %s: not cached\n", st.tree.Version, a)
			missing++
			continue
		}
		if err != nil {
			if isInputError(err) {
				return usageError{err}
			}
			return err
		}
		how := "built in " + b.Took.Round(time.Second).String()
		if b.Cached {
			how = "cache hit, no make run"
		}
		fmt.Fprintf(stdout, "%s %s %s: %s (%s)\n", st.tree.Version, a, b.Key[:12], b.Image, how)
	}
	if missing > 0 {
		return exitError{code: exitFailed}
	}
	return nil
}

func cmdBoot(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	var image string
	fs := newFlags("boot", &c, true)
	fs.StringVar(&image, "image", "", "the kernel image to boot (bzImage)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if image == "" {
		return usagef("--image is required: give a bzImage, e.g. from ptvmlab build")
	}
	arches, err := c.archList(true)
	if err != nil {
		return err
	}
	if len(arches) != 1 {
		return usagef("--arch: boot takes exactly one arch, got %q", c.arches)
	}
	env, err := c.env()
	if err != nil {
		return err
	}
	version, err := kbuild.BzImageVersion(image)
	if err != nil {
		return usagef("--image %s: %v: give arch/x86/boot/bzImage from a kernel build (ptvmlab build prints its path)", image, err)
	}
	if err := prepareOut(c.out); err != nil {
		return err
	}
	start := time.Now()
	// A plan with a given kernel and no source tree: no build, no
	// selftests, no UML (the uml test says so); the image's own version
	// picks its era, and so its results channel.
	dir := filepath.Join(c.out, arches[0])
	k := kbuild.Result{Image: image, Config: configBeside(image)}
	pc := cell.Cell{Tree: source.Tree{Spec: source.Spec{Raw: image}, Version: version}, SeriesName: "-", Arch: arches[0],
		Cmdline: c.appends, Timeout: c.timeout, Silence: c.accel.silence, Out: dir, Kernel: &k}
	rec, err := cell.Run(ctx, env, pc)
	var accelErr *vm.AccelError
	switch {
	case ctx.Err() != nil:
		rec = interruptedRecord(rec, dir)
	case errors.As(err, &accelErr):
		return exitError{code: exitInfra, err: accelErr}
	case err != nil:
		return exitError{code: exitInfra, err: err}
	}
	run := report.Run{Started: start.UTC(), TookS: time.Since(start).Seconds(), Boots: []report.Boot{rec}}
	return finish(c.out, run, stdout, nil, c.formats)
}

// configBeside finds the .config of the build a bzImage came from: beside
// it (ptvmlab's cache) or at the top of its tree (arch/x86/boot/bzImage);
// "" when there is none.
func configBeside(image string) string {
	dir := filepath.Dir(image)
	for _, p := range []string{filepath.Join(dir, ".config"), filepath.Join(dir, "..", "..", "..", ".config")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
