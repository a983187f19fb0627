// Package cell runs one cell of the lab: a kernel source × series × arch ×
// boot flags. It builds (or finds in the cache) the kernel and the
// initramfs, boots them, and returns the boot's record.
package cell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/kselftest"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/progress"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Env is what every cell of a run shares.
type Env struct {
	Cache     cache.Dir
	ModuleDir string // the ptvmlab module root: kconfigs/, guesttests/
	Backend   vm.Backend
	Jobs      int // make -j; 0 is the CPU count
	// Progress shows the builds and boots as they go; nil shows nothing.
	Progress *progress.Reporter
	// Builds, when set, is the turn the builds of cells that run side by
	// side take (kernels, UMLs, selftests): one make already uses every
	// CPU, and two cells that need the same kernel then build it once. It
	// is held for a build only, never for a cache hit, so a cell whose
	// inputs are all built boots while another cell's kernel compiles.
	Builds sync.Locker
	// Boots, when set, bounds the boots that run at once.
	Boots *Budget
	// CachedOnly looks kernel builds up and never builds one: a build
	// not in the cache is kbuild.ErrNotCached.
	CachedOnly bool
}

// Budget bounds the boots that run at once by CPUs (a TCG guest keeps
// one busy) and by guest memory.
type Budget struct {
	cpu, mem *semaphore.Weighted
	memMB    int64
}

// NewBudget allows cpus boots at once within memMB of guest memory.
func NewBudget(cpus int, memMB int64) *Budget {
	return &Budget{cpu: semaphore.NewWeighted(int64(cpus)), mem: semaphore.NewWeighted(memMB), memMB: memMB}
}

// bootMemMB is what one boot costs the budget: the guest's 512 MiB and
// QEMU's own.
const bootMemMB = 768

func (b *Budget) acquire(ctx context.Context) (func(), error) {
	if b == nil {
		return func() {}, nil
	}
	need := min(int64(bootMemMB), b.memMB)
	if err := b.cpu.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	if err := b.mem.Acquire(ctx, need); err != nil {
		b.cpu.Release(1)
		return nil, err
	}
	return func() { b.mem.Release(need); b.cpu.Release(1) }, nil
}

// Cell is one thing to build and boot.
type Cell struct {
	Tree source.Tree
	// Series is applied before the build; nil builds the unpatched tree.
	Series *patch.Series
	// SeriesName names the series in reports; "none" for the unpatched tree.
	SeriesName string
	Arch       string // x86_64 or i386
	Cmdline    []string
	// Expect is the PTRACE_VM level the kernel must offer; "" accepts any.
	Expect  proto.Level
	Timeout time.Duration
	// Silence is the boot's silence watchdog (vm.Spec.Silence); 0 is the
	// backend's default.
	Silence time.Duration
	// NoUML leaves UML out of the cell (no um or um-i386 build, the uml
	// test skips and says why).
	NoUML bool
	// Out is the directory for this boot's console.log and results.raw.
	Out string
	// UMLBoots names the UML boot flag sets to run (ptvmlab.umlboots);
	// "" runs all three.
	UMLBoots string
	// Reuse keeps the boot's record in the cache under its inputs' key and,
	// when one is there already, returns it instead of booting again.
	Reuse bool
	// Forget drops the record kept under the boot's inputs before it
	// boots, so that a rerun's record replaces an earlier try's.
	Forget bool
	// Keep keeps the boot's record for later reuse even when this boot
	// reuses nothing (a matrix run with --fresh: its boots are the newest
	// word on their inputs). It goes with Forget, which drops the older
	// record first.
	Keep bool
	// ID names the cell in reports (a matrix cell); "" outside a matrix.
	ID string
	// Kernel, when set, is the kernel to boot, built elsewhere (bisect
	// builds in place); Series is then only a name.
	Kernel *kbuild.Result
}

// ResolveSeries reads a --series value for tree: "none" (unpatched: the
// negative control, expected to offer no tags), "auto" or "" (the repo's
// series for the tree's version under moduleDir/patches) or a directory.
// It returns the series (nil for none), its name for reports, and the
// PTRACE_VM level the kernel must offer.
func ResolveSeries(moduleDir string, tree source.Tree, spec string) (*patch.Series, string, proto.Level, error) {
	dir := spec
	switch dir {
	case "none":
		return nil, "none", proto.LevelNone, nil
	case "auto", "":
		d, err := patch.EraDir(filepath.Join(moduleDir, "patches"), tree.Version)
		if err != nil {
			return nil, "", "", err
		}
		dir = d
	}
	s, err := patch.Load(dir)
	if err != nil {
		return nil, "", "", err
	}
	return s, filepath.Base(filepath.Clean(dir)), proto.LevelSkipCall, nil
}

// Fragments loads arch's kconfig fragments for an era from
// moduleDir/kconfigs: the era's own (kconfigs/ERA/NAME.config) where it has
// one, named "ERA/NAME" in messages.
func Fragments(moduleDir string, prof era.Profile, arch kbuild.Arch) ([]kconfig.Fragment, error) {
	kdir := filepath.Join(moduleDir, "kconfigs")
	var frags []kconfig.Fragment
	names := arch.Fragments
	if arch.GOARCH != "" { // booted under QEMU
		names = append(slices.Clip(names), prof.GuestFragments...)
	}
	for _, n := range names {
		path := prof.Fragment(kdir, n)
		rel, _ := filepath.Rel(kdir, path)
		f, err := kconfig.LoadFile(strings.TrimSuffix(rel, ".config"), path)
		if err != nil {
			return nil, err
		}
		frags = append(frags, f)
	}
	return frags, nil
}

// Build builds tree with series applied (nil: unpatched) for archName, or
// finds the build in the cache.
func Build(ctx context.Context, env Env, tree source.Tree, series *patch.Series, archName string) (kbuild.Result, error) {
	arch, err := kbuild.LookupArch(archName)
	if err != nil {
		return kbuild.Result{}, err
	}
	prof, err := era.For(tree.Version)
	if err != nil {
		return kbuild.Result{}, err
	}
	return build(ctx, env, tree, prof, series, arch)
}

// build is Build with the arch and the era resolved.
func build(ctx context.Context, env Env, tree source.Tree, prof era.Profile, series *patch.Series, arch kbuild.Arch) (kbuild.Result, error) {
	frags, err := Fragments(env.ModuleDir, prof, arch)
	if err != nil {
		return kbuild.Result{}, err
	}
	// The series goes on the pristine tree, as it would be posted; the era's
	// build fixes go on top, for the build only.
	var layers []*patch.Series
	if series != nil {
		layers = append(layers, series)
	}
	if d := prof.CompatDir(filepath.Join(env.ModuleDir, "patches")); d != "" {
		compat, err := patch.Load(d)
		if err != nil {
			return kbuild.Result{}, err
		}
		layers = append(layers, compat)
	}
	req := kbuild.Request{Tree: tree, Arch: arch, Fragments: frags, CFlags: prof.CFlags, Jobs: env.Jobs, Progress: env.Progress, Gate: env.Builds, CachedOnly: env.CachedOnly}
	for _, l := range layers {
		for _, p := range l.Patches {
			req.Patches = append(req.Patches, kbuild.Patch{Name: p.Name, Digest: p.Digest})
		}
	}
	if len(layers) > 0 {
		req.Prepare = func(ctx context.Context, dir string) error {
			for _, l := range layers {
				if err := patch.Apply(ctx, dir, l, patch.Options{}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return kbuild.Build(ctx, env.Cache, req)
}

// umlFiles builds the User-Mode Linux kernel that guests of arch carry (um
// for x86_64, a 32-bit um-i386 for i386; see kbuild.Arch.UML) from tree
// with series, stripped (the guest has room for the code, not the
// symbols), and the initramfs it boots with binaries of its own GOARCH,
// and returns both as files for the guest's image.
func umlFiles(ctx context.Context, env Env, tree source.Tree, prof era.Profile, series *patch.Series, arch kbuild.Arch) ([]initramfs.File, error) {
	um, err := kbuild.LookupArch(arch.UML)
	if err != nil {
		return nil, fmt.Errorf("%s guests carry no UML: %w", arch.Name, err)
	}
	b, err := build(ctx, env, tree, prof, series, um)
	if err != nil {
		return nil, fmt.Errorf("UML (%s): %w", um.Name, err)
	}
	if b.Cached {
		slog.Info("UML build: cache hit, no make run", "arch", um.Name, "key", b.Key[:12])
	} else {
		slog.Info("UML built", "arch", um.Name, "key", b.Key[:12], "took", b.Took.Round(time.Second))
	}
	dir, err := env.Cache.Fill("uml", b.Key, func(tmp string) error {
		out, err := proc.Command(ctx, "strip", "-o", filepath.Join(tmp, "linux"), b.Image).CombinedOutput()
		if err != nil {
			return fmt.Errorf("strip %s: %w: %s", b.Image, err, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	img, err := initramfs.Build(ctx, initramfs.Opts{GOARCH: um.UMLGOARCH, ModuleDir: env.ModuleDir, Cache: env.Cache})
	if err != nil {
		return nil, fmt.Errorf("UML (%s) initramfs: %w", um.Name, err)
	}
	return []initramfs.File{{Src: filepath.Join(dir, "linux"), Dst: proto.UMLKernel}, {Src: img.Path, Dst: proto.UMLInitrd}}, nil
}

// Plan is one boot with everything it needs resolved, once: the cell's
// arch and era, the kernel (built, found in the cache, or given), the
// guest's image and arguments, the results channel, and the key of its
// inputs. Prepare makes it; Boot carries it out.
type Plan struct {
	Cell Cell
	Arch kbuild.Arch
	Era  era.Profile
	// Kernel is the kernel to boot.
	Kernel kbuild.Result
	// Guest is what the guest's init is asked to do; Spec.Cmdline holds
	// it as kernel arguments, then the cell's own.
	Guest proto.Args
	// Spec is the boot itself.
	Spec vm.Spec
	// Key names the plan's inputs: two plans with one key boot alike, so
	// a kept record of one stands for the other (Cell.Reuse).
	Key string
	// Record is the boot's record as far as it is known before the boot:
	// what was booted, how it was built, its digests, its command line.
	Record report.Boot
}

// Prepare resolves c into a plan, building (or finding) its kernel, UML,
// selftests and initramfs. A cell with a given kernel (Cell.Kernel)
// builds none; one without a source tree (Cell.Tree.Dir empty: a kernel
// image from elsewhere) also has no selftests and no UML.
func Prepare(ctx context.Context, env Env, c Cell) (*Plan, error) {
	p := &Plan{Cell: c, Record: report.Boot{Cell: c.ID, Kernel: c.Tree.Spec.Raw, Version: c.Tree.Version, Digest: c.Tree.Digest,
		Series: c.SeriesName, Arch: c.Arch, UMLFlags: c.UMLBoots}}
	var err error
	if p.Arch, err = kbuild.LookupArch(c.Arch); err != nil {
		return p, err
	}
	if p.Arch.GOARCH == "" {
		return p, fmt.Errorf("arch %s is not bootable under QEMU: choose x86_64 or i386", c.Arch)
	}
	if p.Era, err = era.For(c.Tree.Version); err != nil {
		return p, err
	}
	if c.Tree.Dir == "" && (c.Kernel == nil || c.Series != nil) {
		return p, fmt.Errorf("cell %s: no source tree to build from: give a tree, or a kernel with no series", c.Arch)
	}
	if err := p.kernel(ctx, env); err != nil {
		return p, err
	}
	files, err := p.guestFiles(ctx, env)
	if err != nil {
		return p, err
	}
	img, err := initramfs.Build(ctx, initramfs.Opts{GOARCH: p.Arch.GOARCH, ModuleDir: env.ModuleDir, Cache: env.Cache,
		Files: files, IA32: p.Arch.GOARCH == "amd64"})
	if err != nil {
		return p, err
	}
	p.Guest.Channel = ResultsVia(p.Era, p.Kernel.Config)
	if c.Expect != "" {
		p.Guest.Expect = c.Expect
	}
	cmdline := append(p.Guest.Cmdline(), c.Cmdline...)
	p.Record.Cmdline = cmdline
	p.Spec = vm.Spec{Arch: c.Arch, Kernel: p.Kernel.Image, Initrd: img.Path, Cmdline: cmdline, Timeout: c.Timeout, Silence: c.Silence,
		Dir: c.Out, Channel: p.Guest.Channel, Probe: proto.Args{Probe: true, Halt: p.Guest.Halt}.Cmdline()}
	p.Key = cache.Key("cell/3", p.Kernel.Key, img.Digest, c.Arch, strings.Join(cmdline, " "), c.Timeout.String(), c.Silence.String())
	return p, nil
}

// kernel builds (or finds, or takes) the plan's kernel.
func (p *Plan) kernel(ctx context.Context, env Env) error {
	c := p.Cell
	if c.Kernel != nil {
		p.Kernel = *c.Kernel
		slog.Info("kernel given, not built", "arch", c.Arch, "image", p.Kernel.Image)
	} else {
		b, err := build(ctx, env, c.Tree, p.Era, c.Series, p.Arch)
		if err != nil {
			return err
		}
		p.Kernel = b
		if b.Cached {
			slog.Info("kernel build: cache hit, no make run", "arch", c.Arch, "key", b.Key[:12])
		} else {
			slog.Info("kernel built", "arch", c.Arch, "key", b.Key[:12], "took", b.Took.Round(time.Second))
		}
	}
	imageDigest := fileDigest(env.Cache, p.Kernel.Image)
	if p.Kernel.Key == "" {
		// A kernel from elsewhere: its image is all that names it.
		p.Kernel.Key = cache.Key("image", imageDigest)
	}
	p.Record.Build = &report.Build{Key: p.Kernel.Key, Cached: p.Kernel.Cached, Given: c.Kernel != nil, TookS: p.Kernel.Took.Seconds(), Image: p.Kernel.Image}
	p.Record.Digests = &report.Digests{Image: imageDigest, Config: fileDigest(env.Cache, p.Kernel.Config)}
	return nil
}

// guestFiles gathers what the guest's image carries beside the suite: the
// kernel's selftests and UML, and sets the guest's UML arguments.
func (p *Plan) guestFiles(ctx context.Context, env Env) ([]initramfs.File, error) {
	c := p.Cell
	if c.Tree.Dir == "" {
		// No tree: no selftests to build, and no UML.
		if p.Arch.UML != "" {
			p.Guest.UML = proto.UMLOff
		}
		return nil, nil
	}
	wantSelftests, wantUML := c.needs()
	var files []initramfs.File
	if wantSelftests {
		var err error
		if files, err = selftests(ctx, env, c, p.Arch); err != nil {
			return nil, err
		}
	} else {
		slog.Info("kernel selftests not built: the cell's ptvmlab.tests does not name kselftest", "arch", c.Arch)
	}
	noUML := c.NoUML || !wantUML
	if !wantUML && !c.NoUML && p.Arch.UML != "" {
		slog.Info("UML not built: the cell's ptvmlab.tests names no uml test", "arch", c.Arch)
	}
	if p.Arch.UML == "um-i386" && !noUML && era.UMLi386Unreliable(c.Tree.Version) {
		slog.Info("32-bit UML left out: this kernel's UML kills a fresh Go process in about half the boots, patched or not (DEVELOPERS.md)", "version", c.Tree.Version)
		p.Guest.UML = proto.UMLUnreliable
		noUML = true
	}
	if p.Arch.UML != "" && noUML && p.Guest.UML == "" {
		p.Guest.UML = proto.UMLOff
	}
	if p.Arch.UML != "" && !noUML {
		uml, err := umlFiles(ctx, env, c.Tree, p.Era, c.Series, p.Arch)
		if err != nil {
			return nil, err
		}
		files = append(files, uml...)
		if c.UMLBoots != "" {
			p.Guest.UMLBoots = strings.Split(c.UMLBoots, ",")
		}
	}
	return files, nil
}

// needs says which of the guest image's optional parts c's tests use: a
// cell whose command line selects tests (ptvmlab.tests=, e.g. a bisect
// step's) gets the kernel's selftests only when kselftest is among them,
// and UML only when a uml test is, so that nothing is built that no test
// runs. A cell that selects nothing runs every test and needs both.
func (c Cell) needs() (selftests, uml bool) {
	a, _ := proto.ParseArgs(c.Cmdline) // a bad value of another key is the guest's to report
	if len(a.Tests) == 0 {
		return true, true
	}
	for _, name := range a.Tests {
		selftests = selftests || name == "kselftest"
		uml = uml || strings.HasPrefix(name, "uml")
	}
	return selftests, uml
}

// Boot carries out p: it returns the kept record of an identical earlier
// boot when the cell allows reuse, else boots. Everything from the boot on
// is in the record's status; the errors returned are a cancel and an
// accelerator that no boot can honour.
func Boot(ctx context.Context, env Env, p *Plan) (report.Boot, error) {
	rec := p.Record
	rec.InputsKey = p.Key
	c := p.Cell
	if c.Forget {
		if err := cache.RemoveAll(env.Cache.Path("results", p.Key)); err != nil {
			return rec, fmt.Errorf("cell %s: removing the kept record %s before its rerun: %w; remove it by hand, or run with --fresh", c.progressName(), env.Cache.Path("results", p.Key), err)
		}
	} else if c.Reuse {
		if old, ok := reuse(env.Cache, p.Key, c.Out); ok {
			old.Cell, old.UMLFlags, old.Build = rec.Cell, rec.UMLFlags, rec.Build
			return old, nil
		}
	}
	release, err := env.Boots.acquire(ctx)
	if err != nil {
		return rec, err
	}
	slog.Info("booting", "arch", c.Arch, "kernel", c.Tree.Version, "cell", c.ID, "timeout", c.Timeout)
	spec := p.Spec
	task := env.Progress.Boot(c.progressName())
	if task != nil {
		spec.Live = boot.Follow(task)
	}
	out, bootErr := env.Backend.Boot(ctx, spec)
	release()
	if ctx.Err() != nil {
		task.Done(ctx.Err())
		return rec, ctx.Err()
	}
	var accelErr *vm.AccelError
	if errors.As(bootErr, &accelErr) {
		task.Done(bootErr)
		return rec, bootErr // no boot can honour it: the run stops
	}
	o := boot.Classify(out, bootErr)
	if o.Status == boot.Passed {
		task.Done(nil)
	} else {
		task.Done(progress.State(o.Status))
	}
	report.Fill(&rec, o)
	if out != nil {
		rec.ConsoleLog = filepath.Join(c.Out, "console.log")
		rec.ResultsRaw = filepath.Join(c.Out, "results.raw")
	}
	if (c.Reuse || c.Keep) && o.Status != boot.Infra {
		keep(env.Cache, p.Key, rec)
	}
	return rec, nil
}

// progressName names c's boot in progress lines: its matrix ID, or
// "version/series/arch".
func (c Cell) progressName() string {
	if c.ID != "" {
		return c.ID
	}
	return c.Tree.Version + "/" + c.SeriesName + "/" + c.Arch
}

// Run prepares c and boots it. Errors that stop the cell before the boot
// (a build that fails, a config that drops symbols) are returned with the
// record as far as it got.
func Run(ctx context.Context, env Env, c Cell) (report.Boot, error) {
	p, err := Prepare(ctx, env, c)
	if err != nil {
		return p.Record, err
	}
	return Boot(ctx, env, p)
}

// IsInputError reports whether err is a cell's input not fitting: a
// config fragment that drops symbols, a series that does not apply.
func IsInputError(err error) bool {
	var dropped *kconfig.DroppedError
	var apply *patch.ApplyError
	return errors.As(err, &dropped) || errors.As(err, &apply)
}

// selftests builds (or finds) the kernel selftests for c's guest. A cell
// without a series borrows its era's selftest changes; when they do not
// apply (the tree under test, a bisect step say, already has them), the
// tree's own selftests are built, and the log says so.
func selftests(ctx context.Context, env Env, c Cell, arch kbuild.Arch) ([]initramfs.File, error) {
	s := selftestSeries(env, c)
	files, err := kselftest.Files(ctx, kselftest.Opts{Cache: env.Cache, Tree: c.Tree, Series: s, GOARCH: arch.GOARCH, Gate: env.Builds})
	var ae *patch.ApplyError
	if err != nil && c.Series == nil && s != nil && errors.As(err, &ae) {
		slog.Info("kernel selftests: the era's selftest changes do not apply to this tree; its own selftests are built", "series", s.Dir, "why", ae.Error())
		return kselftest.Files(ctx, kselftest.Opts{Cache: env.Cache, Tree: c.Tree, GOARCH: arch.GOARCH, Gate: env.Builds})
	}
	return files, err
}

// selftestSeries is the series whose changes to the kernel's selftests the
// cell's selftests are built with: the cell's own or, for the unpatched
// control, the era's, so that the series' own selftest runs there too (and
// must skip).
func selftestSeries(env Env, c Cell) *patch.Series {
	if c.Series != nil {
		return c.Series
	}
	s, _, _, err := ResolveSeries(env.ModuleDir, c.Tree, "auto")
	if err != nil {
		slog.Debug("kernel selftests: no era series for the unpatched control", "err", err)
		return nil
	}
	return s
}

// ResultsVia is how a kernel's guest sends its results: the era's channel
// (a named virtio port, or hvc0 before 2.6.35) when the kernel's .config
// at configPath has the virtio console, else the second serial port.
func ResultsVia(prof era.Profile, configPath string) proto.Channel {
	b, err := os.ReadFile(configPath)
	if err != nil || bytes.Contains(append([]byte("\n"), b...), []byte("\nCONFIG_VIRTIO_CONSOLE=y\n")) {
		return prof.ResultsVia
	}
	return proto.ChannelSerial
}

// reuse returns the record kept under key, with its console log and KTAP
// copied into out.
func reuse(c cache.Dir, key, out string) (report.Boot, bool) {
	dir, ok := c.Lookup("results", key)
	if !ok {
		return report.Boot{}, false
	}
	b, err := os.ReadFile(filepath.Join(dir, "record.json"))
	if err != nil {
		return report.Boot{}, false
	}
	var rec report.Boot
	if json.Unmarshal(b, &rec) != nil || os.MkdirAll(out, 0o755) != nil {
		return report.Boot{}, false
	}
	for _, f := range keptFiles(&rec) {
		if *f.path == "" {
			continue
		}
		if cache.CopyFile(filepath.Join(dir, f.name), filepath.Join(out, f.name)) != nil {
			return report.Boot{}, false
		}
		*f.path = filepath.Join(out, f.name)
	}
	rec.Reused = true
	return rec, true
}

// keep stores rec and its logs under key. A failure to keep costs only a
// rerun, so it is logged, not returned.
func keep(c cache.Dir, key string, rec report.Boot) {
	_, err := c.Fill("results", key, func(tmp string) error {
		for _, f := range keptFiles(&rec) {
			if *f.path == "" {
				continue
			}
			if err := cache.CopyFile(*f.path, filepath.Join(tmp, f.name)); err != nil {
				return err
			}
		}
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "record.json"), b, 0o644)
	})
	if err != nil {
		slog.Warn("could not keep the boot's record for reuse", "key", key[:12], "err", err)
	}
}

// keptFile is a log a kept record carries: its name in the cache entry
// and the record's field that holds its path.
type keptFile struct {
	name string
	path *string
}

// keptFiles lists rec's logs: the console, the KTAP and the console of
// each retried attempt.
func keptFiles(rec *report.Boot) []keptFile {
	files := []keptFile{{"console.log", &rec.ConsoleLog}, {"results.raw", &rec.ResultsRaw}}
	for i := range rec.Attempts {
		files = append(files, keptFile{fmt.Sprintf("console.attempt%d.log", i+1), &rec.Attempts[i].ConsoleLog})
	}
	return files
}

// fileDigest is "sha256:HEX" of the file at path (kept in c, see
// cache.Dir.FileSHA256Kept), or "" when it cannot be read.
func fileDigest(c cache.Dir, path string) string {
	sum, err := c.FileSHA256Kept(path)
	if err != nil {
		return ""
	}
	return "sha256:" + sum
}
