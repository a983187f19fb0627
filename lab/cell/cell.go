// Package cell runs one cell of the lab: a kernel source × series × arch ×
// boot flags. It builds (or finds in the cache) the kernel and the
// initramfs, boots them, and returns the boot's record.
package cell

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/kselftest"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/source"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Env is what every cell of a run shares.
type Env struct {
	Cache     cache.Dir
	ModuleDir string // the ptvmlab module root: kconfigs/, guesttests/
	Backend   vm.Backend
	Jobs      int       // make -j; 0 is the CPU count
	Progress  io.Writer // progress lines for long steps; nil for none
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
	// Expect is the PTRACE_VM level the kernel must offer; "none" for an
	// unpatched kernel.
	Expect  string
	Timeout time.Duration
	// NoUML leaves UML out of an x86_64 cell (no um build, the uml test
	// skips and says why).
	NoUML bool
	// Out is the directory for this boot's console.log and results.raw.
	Out string
}

// Build builds tree with series applied (nil: unpatched) for archName, or
// finds the build in the cache.
func Build(ctx context.Context, env Env, tree source.Tree, series *patch.Series, archName string) (kbuild.Result, error) {
	arch, err := kbuild.LookupArch(archName)
	if err != nil {
		return kbuild.Result{}, err
	}
	frags, err := kconfig.Load(filepath.Join(env.ModuleDir, "kconfigs"), arch.Fragments...)
	if err != nil {
		return kbuild.Result{}, err
	}
	req := kbuild.Request{Tree: tree, Arch: arch, Fragments: frags, Jobs: env.Jobs, Progress: env.Progress}
	if series != nil {
		for _, p := range series.Patches {
			req.Patches = append(req.Patches, kbuild.Patch{Name: p.Name, Digest: p.Digest})
		}
		req.Prepare = func(ctx context.Context, dir string) error {
			return patch.Apply(ctx, dir, series, patch.Options{})
		}
	}
	return kbuild.Build(ctx, env.Cache, req)
}

// UML builds the User-Mode Linux kernel of tree with series (stripped: the
// guest has room for the code, not the symbols) and the initramfs it boots,
// and returns both as files for an x86_64 guest image.
func UML(ctx context.Context, env Env, tree source.Tree, series *patch.Series) ([]initramfs.File, error) {
	b, err := Build(ctx, env, tree, series, "um")
	if err != nil {
		return nil, fmt.Errorf("UML: %w", err)
	}
	dir, err := env.Cache.Fill("uml", b.Key, func(tmp string) error {
		out, err := exec.CommandContext(ctx, "strip", "-o", filepath.Join(tmp, "linux"), b.Image).CombinedOutput()
		if err != nil {
			return fmt.Errorf("strip %s: %w: %s", b.Image, err, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	img, err := initramfs.Build(ctx, initramfs.Opts{GOARCH: "amd64", ModuleDir: env.ModuleDir, Cache: env.Cache})
	if err != nil {
		return nil, fmt.Errorf("UML initramfs: %w", err)
	}
	return []initramfs.File{{Src: filepath.Join(dir, "linux"), Dst: proto.UMLKernel}, {Src: img.Path, Dst: proto.UMLInitrd}}, nil
}

// Run builds and boots c. Errors that stop the cell before the boot (a
// build that fails, a config that drops symbols) are returned; everything
// from the boot on is in the record's status.
func Run(ctx context.Context, env Env, c Cell) (report.Boot, error) {
	rec := report.Boot{Kernel: c.Tree.Spec.Raw, Version: c.Tree.Version, Digest: c.Tree.Digest,
		Series: c.SeriesName, Arch: c.Arch}
	arch, err := kbuild.LookupArch(c.Arch)
	if err != nil {
		return rec, err
	}
	if arch.GOARCH == "" {
		return rec, fmt.Errorf("arch %s is not bootable under QEMU: choose x86_64 or i386", c.Arch)
	}
	b, err := Build(ctx, env, c.Tree, c.Series, c.Arch)
	if err != nil {
		return rec, err
	}
	rec.Build = &report.Build{Key: b.Key, Cached: b.Cached, TookS: b.Took.Seconds(), Image: b.Image}
	if b.Cached {
		slog.Info("kernel build: cache hit, no make run", "arch", c.Arch, "key", b.Key[:12])
	} else {
		slog.Info("kernel built", "arch", c.Arch, "key", b.Key[:12], "took", b.Took.Round(time.Second))
	}
	files, err := kselftest.Build(ctx, env.Cache, c.Tree, arch.GOARCH)
	if err != nil {
		return rec, err
	}
	cmdline := append([]string(nil), c.Cmdline...)
	if c.Arch == "x86_64" && c.NoUML {
		cmdline = append(cmdline, proto.ArgUML+"=off")
	}
	if c.Arch == "x86_64" && !c.NoUML {
		uml, err := UML(ctx, env, c.Tree, c.Series)
		if err != nil {
			return rec, err
		}
		files = append(files, uml...)
	}
	img, err := initramfs.Build(ctx, initramfs.Opts{GOARCH: arch.GOARCH, ModuleDir: env.ModuleDir, Cache: env.Cache,
		Files: files, IA32: arch.GOARCH == "amd64"})
	if err != nil {
		return rec, err
	}
	if c.Expect != "" {
		cmdline = append(cmdline, proto.ArgExpect+"="+c.Expect)
	}
	rec.Cmdline = cmdline
	spec := vm.Spec{Arch: c.Arch, Kernel: b.Image, Initrd: img.Path, Cmdline: cmdline, Timeout: c.Timeout, Dir: c.Out}
	slog.Info("booting", "arch", c.Arch, "kernel", c.Tree.Version, "timeout", c.Timeout)
	out, bootErr := env.Backend.Boot(ctx, spec)
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	o := boot.Classify(out, bootErr)
	rec.Status, rec.Title, rec.DurationS, rec.Probe = string(o.Status), o.Title, o.Took.Seconds(), o.Probe
	if o.KTAP != nil {
		rec.Tests = report.Tests(o.KTAP.Results)
	}
	if out != nil {
		rec.ConsoleLog = filepath.Join(c.Out, "console.log")
		rec.ResultsRaw = filepath.Join(c.Out, "results.raw")
		rec.Cmdline = spec.Cmdline
	}
	return rec, nil
}
