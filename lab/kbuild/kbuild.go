// Package kbuild configures and compiles a kernel tree for one architecture,
// out of tree, through ccache, in a fixed reproducible environment, and keeps
// the result in the cache under a content key: a second identical request
// runs no make at all.
package kbuild

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/progress"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// recipe changes whenever the way ptvmlab builds changes in a way that
// changes the output; it is part of every key.
const recipe = "kbuild/1"

// Env is the fixed build environment (as tuxmake and reproducible-builds.org
// recommend), so that two builds of the same inputs give the same image.
var Env = []string{
	"KBUILD_BUILD_TIMESTAMP=Mon Mar 16 00:00:00 UTC 2009",
	"KBUILD_BUILD_USER=ptvmlab",
	"KBUILD_BUILD_HOST=ptvmlab",
	"KBUILD_BUILD_VERSION=1",
	"SOURCE_DATE_EPOCH=1237161600",
	"LC_ALL=C",
	"TZ=UTC",
}

// Patch is one patch the tree gets before it is built: its name and the
// digest of its content (the patch package applies it; kbuild only keys on it).
type Patch struct {
	Name   string
	Digest string
}

// Request says what to build.
type Request struct {
	Tree      source.Tree
	Arch      Arch
	Fragments []kconfig.Fragment
	// Patches are applied by Prepare into the work copy; they are listed so
	// that they enter the keys.
	Patches []Patch
	// Prepare, when set, runs on the writable work copy of the tree before
	// configuration (patch application).
	Prepare func(ctx context.Context, dir string) error
	// CFlags are added to the compiler command (CC="gcc FLAGS"), for eras
	// whose Makefiles predate today's gcc defaults (see lab/era).
	CFlags []string
	// Jobs is make's -j; zero means runtime.NumCPU().
	Jobs int
	// Progress shows the compile as it goes (objects out of the last
	// build's count, time); nil shows nothing.
	Progress *progress.Reporter
	// Gate, when set, is held from a cache miss to the build's end (copy,
	// configure, make): builds that run side by side take turns (one
	// make already uses every CPU), a cache hit never waits, and a build
	// that waited looks the cache up again, so that two cells that need
	// the same kernel build it once.
	Gate sync.Locker
	// CachedOnly looks the build up and never runs make: a build that is
	// not cached is ErrNotCached (ptvmlab build --cached-only).
	CachedOnly bool
}

// Result is a built kernel in the cache.
type Result struct {
	Key    string // the build's content key
	Dir    string // the cache entry
	Image  string // bzImage, or the um "linux" binary
	Config string // the final .config
	Log    string // make's output
	Cached bool   // true when no make ran
	Took   time.Duration
	// Compiled counts the objects make compiled (in-place builds only: an
	// incremental step compiles few).
	Compiled int
}

// Manifest is written beside each build: what went into its key.
type Manifest struct {
	Recipe       string   `json:"recipe"`
	Source       string   `json:"source"`
	Version      string   `json:"version"`
	Arch         string   `json:"arch"`
	Patches      []Patch  `json:"patches"`
	ConfigSHA256 string   `json:"config_sha256"`
	Compiler     string   `json:"compiler"`
	Flags        []string `json:"flags"`
}

// Error is a failed build: the kernel did not compile. It quotes the first
// compiler error and names the kept log, and is distinct from an
// infrastructure failure (bisect maps it to "skip").
type Error struct {
	Arch  string
	First string // the first error line make or the compiler printed
	Log   string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s build failed: %s (full log: %s)", e.Arch, e.First, e.Log)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotCached is Build's answer to a CachedOnly request whose build is
// not in the cache.
var ErrNotCached = errors.New("not in the cache")

// Build returns the cached build of req, building it first when needed.
func Build(ctx context.Context, c cache.Dir, req Request) (Result, error) {
	start := time.Now()
	tc, err := toolchain(ctx, req.CFlags)
	if err != nil {
		return Result{}, err
	}
	flags := makeFlags(req.Arch, tc)
	cfgKey := cache.Key(recipe, req.Tree.Digest, req.Arch.Name, tc.version, kconfig.Text(req.Fragments), patchList(req.Patches), strings.Join(flags, "\n"))

	// A configured request names its final .config; that .config names the build.
	cached := func() (Result, bool) {
		cfg, err := os.ReadFile(c.Path("config", cfgKey, ".config"))
		if err != nil {
			return Result{}, false
		}
		key := buildKey(req, tc, flags, cfg)
		dir, ok := c.Lookup("build", key)
		return result(key, dir, req.Arch, true, time.Since(start)), ok
	}
	if r, ok := cached(); ok {
		return r, nil
	}
	if req.CachedOnly {
		return Result{}, ErrNotCached
	}
	if req.Gate != nil {
		req.Gate.Lock()
		defer req.Gate.Unlock()
		if r, ok := cached(); ok {
			return r, nil // built by another cell while this one waited
		}
	}

	if req.Arch.HostM32 {
		if err := checkM32(ctx, "gcc", req.Arch.Name); err != nil {
			return Result{}, err
		}
	}
	work, doneWork, err := cache.ScratchDir(mkdir(c.Path("work")), req.Arch.Name+"-")
	if err != nil {
		return Result{}, fmt.Errorf("kbuild: %w", err)
	}
	defer doneWork()
	src, obj := filepath.Join(work, "src"), filepath.Join(work, "obj")
	if err := source.CopyTree(req.Tree.Dir, src); err != nil {
		return Result{}, fmt.Errorf("kbuild: copy %s: %w", req.Tree.Dir, err)
	}
	if req.Prepare != nil {
		if err := req.Prepare(ctx, src); err != nil {
			return Result{}, err
		}
	}
	if err := os.Mkdir(obj, 0o755); err != nil {
		return Result{}, err
	}
	logPath := filepath.Join(work, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return Result{}, err
	}
	defer logf.Close()
	m := maker{src: src, obj: obj, arch: req.Arch, env: tc.env(c, filepath.Dir(work)), vars: tc.makeVars, log: logf}

	cfg, err := configure(ctx, m, req)
	if err != nil {
		return Result{}, keepLog(c, req.Arch.Name, logPath, err)
	}
	if _, err := c.Fill("config", cfgKey, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, ".config"), cfg, 0o644)
	}); err != nil {
		return Result{}, err
	}
	key := buildKey(req, tc, flags, cfg)
	if dir, ok := c.Lookup("build", key); ok {
		return result(key, dir, req.Arch, true, time.Since(start)), nil
	}

	jobs := req.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	slog.Info("building kernel", "arch", req.Arch.Name, "version", req.Tree.Version, "key", key[:12], "jobs", jobs)
	family := Family(req)
	objects := 0
	m.task, m.objects = req.Progress.Build(req.Arch.Name, progress.LastCount(c, family)), &objects
	err = m.run(ctx, fmt.Sprintf("-j%d", jobs), req.Arch.Target)
	m.task.Done(err)
	if err != nil {
		return Result{}, keepLog(c, req.Arch.Name, logPath, err)
	}
	if err := progress.SaveCount(c, family, objects); err != nil {
		slog.Debug("the build's object count, the next one's estimate, was not kept", "err", err)
	}
	logf.Close()
	man := Manifest{Recipe: recipe, Source: req.Tree.Digest, Version: req.Tree.Version, Arch: req.Arch.Name,
		Patches: req.Patches, ConfigSHA256: cache.Key(string(cfg)), Compiler: tc.version, Flags: flags}
	dir, err := c.Fill("build", key, func(tmp string) error {
		if err := cache.CopyFile(filepath.Join(obj, req.Arch.Image), filepath.Join(tmp, filepath.Base(req.Arch.Image))); err != nil {
			return err
		}
		for _, f := range []string{".config", "System.map"} {
			if err := cache.CopyFile(filepath.Join(obj, f), filepath.Join(tmp, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := cache.CopyFile(logPath, filepath.Join(tmp, "build.log")); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(man, "", "  ")
		return os.WriteFile(filepath.Join(tmp, "manifest.json"), append(b, '\n'), 0o644)
	})
	if err != nil {
		return Result{}, err
	}
	return result(key, dir, req.Arch, false, time.Since(start)), nil
}

// makeFlags are the make arguments a build's keys name: the arch, the goal,
// the fixed environment, the toolchain's variables and the arch's own
// (SUBARCH=i386). An arch without variables of its own keeps the flags,
// and so the keys, it had before arches could have them.
func makeFlags(a Arch, tc toolchainInfo) []string {
	flags := append([]string{"ARCH=" + a.MakeArch, a.Target}, Env...)
	flags = append(flags, tc.makeVars...)
	return append(flags, a.MakeVars...)
}

func result(key, dir string, a Arch, cached bool, took time.Duration) Result {
	return Result{Key: key, Dir: dir, Image: filepath.Join(dir, filepath.Base(a.Image)),
		Config: filepath.Join(dir, ".config"), Log: filepath.Join(dir, "build.log"), Cached: cached, Took: took}
}

func buildKey(req Request, tc toolchainInfo, flags []string, cfg []byte) string {
	return cache.Key(recipe, req.Tree.Digest, req.Arch.Name, tc.version, patchList(req.Patches), strings.Join(flags, "\n"), string(cfg))
}

// configure makes the base config, merges the fragments, runs olddefconfig
// and checks that every requested symbol survived.
func configure(ctx context.Context, m maker, req Request) ([]byte, error) {
	base := "tinyconfig"
	if _, err := os.Stat(filepath.Join(m.src, "kernel", "configs", "tiny.config")); err != nil {
		base = "allnoconfig" // tinyconfig arrived in 3.17
	}
	if err := m.run(ctx, base); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(m.obj, ".config")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = io.WriteString(f, kconfig.Text(req.Fragments))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := m.olddefconfig(ctx); err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	final, err := kconfig.ParseConfig(bytes.NewReader(cfg))
	if err != nil {
		return nil, err
	}
	if dropped := kconfig.Verify(final, kconfig.Requested(req.Fragments)); len(dropped) > 0 {
		kconfig.Explain(m.src, final, dropped)
		return nil, &kconfig.DroppedError{Arch: req.Arch.Name, Dropped: dropped}
	}
	return cfg, nil
}

// Family names the kind of build req is, for its progress estimate
// (progress.LastCount): builds of one era, arch and patched-or-not compile
// about as many objects as each other, whatever the patch release.
func Family(req Request) string {
	v, err := era.ParseVersion(req.Tree.Version)
	if err != nil {
		return ""
	}
	patched := "unpatched"
	if len(req.Patches) > 0 {
		patched = "patched"
	}
	return "kbuild-" + v.Name() + "-" + req.Arch.Name + "-" + patched
}

// IsObjectLine reports whether line is make saying it compiles an object
// ("  CC      kernel/fork.o", "  AS      arch/x86/entry/entry_64.o"):
// what a build's progress counts.
func IsObjectLine(line string) bool {
	return strings.HasPrefix(line, "  CC ") || strings.HasPrefix(line, "  AS ")
}

// maker runs make in one work directory.
type maker struct {
	src, obj string
	arch     Arch
	env      []string
	vars     []string
	log      io.Writer
	// task, when set, is told of every object make compiles; objects, when
	// set, counts them (IsObjectLine).
	task    *progress.Task
	objects *int
	// compiled, when set, counts the objects make compiles ("  CC " lines).
	compiled *int
}

func (m maker) run(ctx context.Context, goals ...string) error {
	return m.runStdin(ctx, nil, goals...)
}

func (m maker) runStdin(ctx context.Context, stdin io.Reader, goals ...string) error {
	args := append(append([]string{"-C", m.src, "O=" + m.obj, "ARCH=" + m.arch.MakeArch}, m.vars...), m.arch.MakeVars...)
	args = append(args, goals...)
	cmd := proc.Command(ctx, "make", args...)
	cmd.Env = m.env
	cmd.Stdin = stdin
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	fmt.Fprintf(m.log, "$ make %s\n", strings.Join(args, " "))
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.copyOutput(pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("make %s: %w", strings.Join(goals, " "), ctx.Err())
		}
		return fmt.Errorf("make %s: %w", strings.Join(goals, " "), err)
	}
	return nil
}

// copyOutput tees make's output into the log and counts the objects it
// compiles into the task: the task's own ticker, not make's output, says
// when the count is shown, so a long silent link still shows progress.
func (m maker) copyOutput(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(m.log, line)
		if IsObjectLine(line) {
			m.task.Add(1)
			if m.objects != nil {
				*m.objects++
			}
		}
		if m.compiled != nil && strings.HasPrefix(line, "  CC ") {
			*m.compiled++
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// olddefconfig answers every new symbol with its default. Kernels before 3.7
// have no olddefconfig target: feed oldconfig empty answers instead.
func (m maker) olddefconfig(ctx context.Context) error {
	mk, err := os.ReadFile(filepath.Join(m.src, "scripts", "kconfig", "Makefile"))
	if err == nil && bytes.Contains(mk, []byte("olddefconfig")) {
		return m.run(ctx, "olddefconfig")
	}
	return m.runStdin(ctx, strings.NewReader(strings.Repeat("\n", 100000)), "oldconfig")
}

type toolchainInfo struct {
	version  string
	ccache   bool
	makeVars []string
}

// toolchain names the compiler (its version enters every key), decides
// whether ccache fronts it, and adds cflags to the kernel's compiler (not
// the host tools').
func toolchain(ctx context.Context, cflags []string) (toolchainInfo, error) {
	out, err := proc.OutputOnce(ctx, "gcc", "--version")
	if err != nil {
		return toolchainInfo{}, fmt.Errorf("gcc --version: %w; install it with: apt-get install build-essential", err)
	}
	tc := toolchainInfo{version: proc.FirstLine(out)}
	cc, hostcc := "gcc", "gcc"
	if _, err := exec.LookPath("ccache"); err == nil {
		tc.ccache = true
		cc, hostcc = "ccache gcc", "ccache gcc"
	} else {
		slog.Warn("ccache not found: every build compiles from scratch; install it with: apt-get install ccache")
	}
	if len(cflags) > 0 {
		cc += " " + strings.Join(cflags, " ")
	}
	if tc.ccache || len(cflags) > 0 {
		tc.makeVars = []string{"CC=" + cc, "HOSTCC=" + hostcc}
	}
	return tc, nil
}

// m32Probe is what a 32-bit UML's user-space half needs of the build
// host: the kernel's uapi headers through <asm/...> (Debian's gcc-multilib
// links /usr/include/asm) and a static 32-bit glibc (libc6-dev-i386).
const m32Probe = "#include <linux/types.h>\n#include <sys/ptrace.h>\nint main(void) { return ptrace(PTRACE_TRACEME, 0, 0, 0) < 0; }\n"

// checkM32 compiles and statically links m32Probe with cc -m32, so that a
// host without the 32-bit headers or libc fails in one line naming the
// packages, not minutes into make with "asm/types.h: No such file".
func checkM32(ctx context.Context, cc, arch string) error {
	cmd := proc.Command(ctx, cc, "-m32", "-static", "-x", "c", "-", "-o", os.DevNull)
	cmd.Stdin = strings.NewReader(m32Probe)
	if out, err := cmd.CombinedOutput(); err != nil {
		first := FirstError(out)
		if first == "no error line found in the log" {
			first = proc.FirstLine(out)
		}
		return fmt.Errorf("%s: %s -m32 cannot build a static 32-bit program (%v: %s); install the 32-bit headers and libc with: apt-get install gcc-multilib libc6-dev-i386",
			arch, cc, err, first)
	}
	return nil
}

// env is the environment make runs in: the caller's PATH and HOME, the fixed
// reproducible values, and ccache pointed at the cache with base_dir at
// base (the work areas' parent, for a copied tree), so that the same file
// in two work copies (patched and unpatched, two eras) hits the same
// ccache entry.
func (tc toolchainInfo) env(c cache.Dir, base string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	env = append(env, Env...)
	if tc.ccache {
		env = append(env, "CCACHE_DIR="+c.Path("ccache"), "CCACHE_BASEDIR="+base,
			"CCACHE_NOHASHDIR=1", "CCACHE_SLOPPINESS=time_macros")
	}
	return env
}

var errorLineRe = regexp.MustCompile(`(: (fatal )?error: )|(^make(\[\d+\])?: \*\*\* )|(: undefined reference to )`)

// FirstError returns the first line of a build log that looks like a compiler,
// linker or make error.
func FirstError(log []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if errorLineRe.MatchString(sc.Text()) {
			return strings.TrimSpace(sc.Text())
		}
	}
	return "no error line found in the log"
}

// keepLog copies a failed build's log into the cache's failed/ directory and
// wraps err as a build Error quoting the first error line. Configuration
// errors (dropped symbols) pass through unchanged.
func keepLog(c cache.Dir, arch, logPath string, err error) error {
	var dropped *kconfig.DroppedError
	if errors.As(err, &dropped) || errors.Is(err, context.Canceled) {
		return err
	}
	b, _ := os.ReadFile(logPath)
	kept := c.Path("failed", fmt.Sprintf("%s-%s.log", arch, time.Now().UTC().Format("20060102T150405")))
	if mkdir(filepath.Dir(kept)) != "" {
		_ = cache.WriteFileAtomic(kept, b, 0o644)
	}
	return &Error{Arch: arch, First: FirstError(b), Log: kept, Err: err}
}

func mkdir(p string) string {
	if os.MkdirAll(p, 0o755) != nil {
		return ""
	}
	return p
}

func patchList(ps []Patch) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Name + " " + p.Digest + "\n")
	}
	return b.String()
}

// BuildInPlace builds req.Tree.Dir itself — a git work tree that git bisect
// checks out commit after commit — into obj, an object directory that
// persists between calls: make then recompiles only what the checkout
// changed (as ktest.pl and a kernel developer's own tree do), instead of
// starting from a copy. Nothing is kept under a key: every call is another
// commit. The tree must be clean (no in-tree .config or objects), and
// req.Prepare must be nil: the tree is never written to.
func BuildInPlace(ctx context.Context, c cache.Dir, req Request, obj string) (Result, error) {
	start := time.Now()
	if req.Prepare != nil {
		return Result{}, fmt.Errorf("kbuild: an in-place build cannot patch the tree")
	}
	tc, err := toolchain(ctx, req.CFlags)
	if err != nil {
		return Result{}, err
	}
	if req.Arch.HostM32 {
		if err := checkM32(ctx, "gcc", req.Arch.Name); err != nil {
			return Result{}, err
		}
	}
	if err := os.MkdirAll(obj, 0o755); err != nil {
		return Result{}, fmt.Errorf("kbuild: %w", err)
	}
	logPath := obj + ".log"
	logf, err := os.Create(logPath)
	if err != nil {
		return Result{}, err
	}
	defer logf.Close()
	compiled := 0
	// ccache's base_dir holds both the tree and the object directory, so
	// that the compiler's paths into the tree are relative ones and a
	// second clone at the same place relative to obj (the bisect test's
	// history, made afresh each run) hits the first one's entries.
	m := maker{src: req.Tree.Dir, obj: obj, arch: req.Arch, env: tc.env(c, commonDir(absPath(req.Tree.Dir), absPath(obj))), vars: tc.makeVars, log: logf}
	if _, err := configure(ctx, m, req); err != nil {
		return Result{}, keepLog(c, req.Arch.Name, logPath, err)
	}
	jobs := req.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	slog.Info("building kernel in place", "arch", req.Arch.Name, "tree", req.Tree.Dir, "obj", obj, "jobs", jobs)
	m.compiled = &compiled // the configure steps compile host tools only
	// No estimate: how much a checkout recompiles depends on the commit.
	m.task = req.Progress.Build(req.Arch.Name, 0)
	err = m.run(ctx, fmt.Sprintf("-j%d", jobs), req.Arch.Target)
	m.task.Done(err)
	if err != nil {
		return Result{}, keepLog(c, req.Arch.Name, logPath, err)
	}
	cfg, err := os.ReadFile(filepath.Join(obj, ".config"))
	if err != nil {
		return Result{}, err
	}
	key := cache.Key(recipe, "in-place", req.Tree.Digest, req.Arch.Name, tc.version, string(cfg))
	slog.Info("built in place", "arch", req.Arch.Name, "compiled", compiled, "took", time.Since(start).Round(time.Second))
	return Result{Key: key, Dir: obj, Image: filepath.Join(obj, req.Arch.Image), Config: filepath.Join(obj, ".config"),
		Log: logPath, Took: time.Since(start), Compiled: compiled}, nil
}

// commonDir is the deepest directory holding both a and b (absolute,
// clean paths): "/" when they share nothing else.
func commonDir(a, b string) string {
	as, bs := strings.Split(filepath.Clean(a), "/"), strings.Split(filepath.Clean(b), "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	if d := strings.Join(as[:n], "/"); d != "" {
		return d
	}
	return "/"
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// CheckBzImage checks that path is an x86 kernel image QEMU can boot
// with -kernel: a regular file with the boot protocol's "HdrS" magic at
// offset 0x202 (Documentation/arch/x86/boot.rst; every kernel since
// 2.0). It is cheap, and saves building an initramfs for a file that is
// not a kernel.
func CheckBzImage(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], 0x202); err != nil || string(hdr[:]) != "HdrS" {
		return fmt.Errorf("not an x86 bzImage (no \"HdrS\" boot header at 0x202)")
	}
	return nil
}

// BzImageVersion reads the kernel release a bzImage carries ("6.12.117",
// "2.6.29"): the boot protocol's kernel_version field (at 0x20E, since
// protocol 2.00) points, less 0x200, at the "RELEASE (builder) #N ..."
// string. It checks the image as CheckBzImage does first.
func BzImageVersion(path string) (string, error) {
	if err := CheckBzImage(path); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var off [2]byte
	if _, err := f.ReadAt(off[:], 0x20E); err != nil {
		return "", fmt.Errorf("boot header: %w", err)
	}
	at := int64(off[0]) | int64(off[1])<<8
	if at == 0 {
		return "", fmt.Errorf("the boot header names no kernel version string")
	}
	buf := make([]byte, 128)
	n, _ := f.ReadAt(buf, 0x200+at)
	release, _, _ := strings.Cut(string(buf[:n]), " ")
	release, _, _ = strings.Cut(release, "\x00")
	if release == "" || !isPrint(release) {
		return "", fmt.Errorf("the boot header's kernel version string is not readable")
	}
	return release, nil
}

func isPrint(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}
