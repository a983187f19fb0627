// Package crossbuild compiles the series on an architecture that the lab
// does not boot, with Debian's cross gcc, as a check that the series builds
// where the PTRACE_VM tags are not offered: tinyconfig plus a small
// fragment, through ccache, kept in the cache under a content key so that a
// second identical check runs no make at all.
//
// It keeps its own make runner rather than kbuild.Build's because kbuild's
// toolchain is the host gcc (CC="ccache gcc") with no CROSS_COMPILE; the
// shape (work copy, Prepare, key, Fill) is kbuild's.
package crossbuild

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
	"runtime"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/progress"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// recipe changes whenever the way a cross build is made or checked changes;
// it is part of every key.
const recipe = "crossbuild/1"

// TagsSymbol is the Kconfig symbol an architecture selects to opt in to the
// PTRACE_VM tags (PTRACE_SYSCALL_SKIPEXIT, PTRACE_SYSCALL_SKIPCALL).
const TagsSymbol = "HAVE_ARCH_PTRACE_SYSCALL_TAGS"

// Arch is one architecture the check cross-builds.
type Arch struct {
	Name         string // the name users type: arm64
	MakeArch     string // ARCH= for make, and the directory under arch/
	CrossCompile string // CROSS_COMPILE= prefix of Debian's cross binutils (and gcc)
	Since        string // the first kernel version that has the architecture
	Target       string // the make goal: vmlinux links everything; no boot image is needed
	// Toolchains are the compilers that can build it, in order of
	// preference: the first whose programs are all on PATH is used.
	Toolchains []Toolchain
	// Objects must exist in the object directory after the build: the
	// files whose compilation the check is about.
	Objects []string
	// Symbols must be in System.map: the syscall tracing path the series
	// changes (ptrace_report_syscall_entry/exit are inlined into these).
	Symbols []string
	// OptsIn says whether the series means this architecture to select
	// TagsSymbol: only x86 and UML store a skipped call's return value and
	// skip it the way the tags promise.
	OptsIn bool
}

// Toolchain is one compiler for a cross build.
type Toolchain struct {
	Name     string   // what --cc chooses: gcc, clang
	CC       string   // the compiler command, CC= for make
	Programs []string // must all be on PATH
	Packages string   // the Debian packages that bring them
	// Setup says whether make setup installs Packages.
	Setup bool
}

// Arches lists the architectures the check can cross-build, by name.
//
// Debian's cross gcc comes first, as the x86 builds use gcc; but every
// Debian 12 cross gcc Conflicts with gcc-multilib (both would own the
// role of /usr/include/asm), which the i386 and 32-bit UML builds need, so
// on the lab's own machines it is clang (a cross compiler for every
// target) with Debian's cross binutils that builds.
var Arches = map[string]Arch{
	"arm64": {
		Name: "arm64", MakeArch: "arm64", CrossCompile: "aarch64-linux-gnu-", Since: "3.7", Target: "vmlinux",
		Toolchains: []Toolchain{
			{Name: "gcc", CC: "aarch64-linux-gnu-gcc", Programs: []string{"aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ld"},
				Packages: "gcc-aarch64-linux-gnu"}, // not in make setup: Conflicts: gcc-multilib
			{Name: "clang", CC: "clang", Programs: []string{"clang", "aarch64-linux-gnu-ld"},
				Packages: "clang binutils-aarch64-linux-gnu", Setup: true},
		},
		Objects: []string{"kernel/ptrace.o", "arch/arm64/kernel/ptrace.o", "arch/arm64/kernel/syscall.o"},
		Symbols: []string{"ptrace_request", "syscall_trace_enter", "syscall_trace_exit"},
	},
}

// LookupArch returns the Arch called name, or an error listing the choices.
func LookupArch(name string) (Arch, error) {
	a, ok := Arches[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown cross-build arch %q: choose arm64", name)
	}
	return a, nil
}

// Tags is what a built .config says of TagsSymbol.
type Tags string

// The states of TagsSymbol in a build.
const (
	TagsSet    Tags = "set"
	TagsUnset  Tags = "not set"
	TagsAbsent Tags = "absent" // no Kconfig file of the patched tree defines the symbol
)

// TagsOf reads TagsSymbol's state from a final .config, given whether the
// patched tree defines the symbol at all. An invisible bool that nothing
// selects is left out of .config entirely, so absence from .config means
// "not set" once the tree defines it.
func TagsOf(defined bool, cfg kconfig.Config) Tags {
	switch {
	case !defined:
		return TagsAbsent
	case cfg.Value(TagsSymbol) == "y":
		return TagsSet
	}
	return TagsUnset
}

// TagsMismatchError is a build whose TagsSymbol contradicts the
// architecture's opt-in: the tags would be accepted where the arch's
// syscall path cannot honour them, or ignored where it can.
type TagsMismatchError struct {
	Arch string
	Got  Tags
	Want Tags
}

func (e *TagsMismatchError) Error() string {
	return fmt.Sprintf("CONFIG_%s is %s on %s, want %s: fix the select in the series' Kconfig", TagsSymbol, e.Got, e.Arch, e.Want)
}

// CheckTags returns a TagsMismatchError when state contradicts a.OptsIn.
// A series that does not define the symbol (TagsAbsent) passes: the check
// then says so instead of failing, so that it works before the opt-in
// symbol exists.
func CheckTags(a Arch, state Tags) error {
	want := TagsUnset
	if a.OptsIn {
		want = TagsSet
	}
	if state == TagsAbsent || state == want {
		return nil
	}
	return &TagsMismatchError{Arch: a.Name, Got: state, Want: want}
}

// Describe is the tags part of the check's report line.
func (t Tags) Describe(a Arch, series string) string {
	switch t {
	case TagsAbsent:
		if series == "none" {
			return fmt.Sprintf("CONFIG_%s: symbol absent from the unpatched tree", TagsSymbol)
		}
		return fmt.Sprintf("CONFIG_%s: symbol absent from this series", TagsSymbol)
	case TagsSet:
		return fmt.Sprintf("CONFIG_%s=y", TagsSymbol)
	}
	return fmt.Sprintf("CONFIG_%s not set", TagsSymbol)
}

// DefinesSymbol reports whether any Kconfig file below tree defines sym
// ("config SYM" or "menuconfig SYM").
func DefinesSymbol(tree, sym string) (bool, error) {
	found := false
	err := filepath.WalkDir(tree, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if found {
			return filepath.SkipAll
		}
		if de.IsDir() {
			if n := de.Name(); n == ".git" || n == "Documentation" || n == "tools" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(de.Name(), "Kconfig") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found = kconfigDefines(b, sym)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for %s in %s: %w", sym, tree, err)
	}
	return found, nil
}

func kconfigDefines(b []byte, sym string) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "config" || f[0] == "menuconfig") && f[1] == sym {
			return true
		}
	}
	return false
}

// MissingSymbols returns the names of want that the System.map text lacks
// ("ADDRESS TYPE NAME" lines), in want's order.
func MissingSymbols(systemMap []byte, want []string) []string {
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(systemMap))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			have[f[2]] = true
		}
	}
	var out []string
	for _, s := range want {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}

// ToolchainError is a missing cross compiler.
type ToolchainError struct {
	Arch    string
	Missing []string  // per toolchain tried, "NAME: PROGRAM not found"
	Install Toolchain // the toolchain to install
	Err     error
}

func (e *ToolchainError) Error() string {
	fix := fmt.Sprintf("install one with make setup (apt-get install %s)", e.Install.Packages)
	if !e.Install.Setup {
		fix = fmt.Sprintf("apt-get install %s (make setup does not: it Conflicts with gcc-multilib), or use --cc auto", e.Install.Packages)
	}
	return fmt.Sprintf("no %s cross compiler (%s): %s", e.Arch, strings.Join(e.Missing, "; "), fix)
}

func (e *ToolchainError) Unwrap() error { return e.Err }

// ChooseToolchain returns a's toolchain called name, or with name "auto"
// or "" the first whose programs lookPath finds.
func ChooseToolchain(a Arch, name string, lookPath func(string) (string, error)) (Toolchain, error) {
	var names, missing []string
	var last error
	install := a.Toolchains[len(a.Toolchains)-1]
	for _, t := range a.Toolchains {
		names = append(names, t.Name)
		if t.Setup {
			install = t
		}
		if name != "" && name != "auto" && name != t.Name {
			continue
		}
		ok := true
		for _, p := range t.Programs {
			if _, err := lookPath(p); err != nil {
				missing = append(missing, t.Name+": "+p+" not found")
				ok, last = false, err
				break
			}
		}
		if ok {
			return t, nil
		}
		if name == t.Name {
			return Toolchain{}, &ToolchainError{Arch: a.Name, Missing: missing, Install: t, Err: last}
		}
	}
	if len(missing) == 0 {
		return Toolchain{}, fmt.Errorf("unknown compiler %q for %s: choose auto, %s", name, a.Name, strings.Join(names, " or "))
	}
	return Toolchain{}, &ToolchainError{Arch: a.Name, Missing: missing, Install: install, Err: last}
}

// UnsupportedError is a tree older than the architecture.
type UnsupportedError struct {
	Arch    Arch
	Version string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("Linux %s has no arch/%s (it arrived in %s): cross-build a %s or later tree, e.g. --kernel debian:6.12",
		e.Version, e.Arch.MakeArch, e.Arch.Since, e.Arch.Since)
}

// Request says what to cross-build.
type Request struct {
	Tree source.Tree
	// Series is applied to the work copy before configuration; nil builds
	// the unpatched tree.
	Series    *patch.Series
	Arch      Arch
	Fragments []kconfig.Fragment // merged onto tinyconfig, in order
	// Compiler chooses among Arch.Toolchains by name; "" or "auto" takes
	// the first that is installed.
	Compiler string
	Jobs     int // make -j; zero means runtime.NumCPU()
	// Progress shows the compile as it goes (objects out of the last
	// cross build's count, time); nil shows nothing.
	Progress *progress.Reporter
}

// Result is a checked cross build in the cache.
type Result struct {
	Key    string
	Dir    string // the cache entry: .config, System.map, build.log, result.json
	Cached bool   // true when no make ran
	Took   time.Duration
	Entry  // what the entry records
}

// Entry is written to result.json in each cache entry: what went into the
// key, and what the build found.
type Entry struct {
	Recipe   string         `json:"recipe"`
	Source   string         `json:"source"`
	Version  string         `json:"version"`
	Arch     string         `json:"arch"`
	Patches  []kbuild.Patch `json:"patches"`
	Compiler string         `json:"compiler"`
	HostCC   string         `json:"host_compiler"`
	Vars     []string       `json:"make_vars"`
	Config   string         `json:"config_fragments"`
	Tags     Tags           `json:"tags"`
	Symbols  []string       `json:"symbols_linked"`
	BuildS   float64        `json:"build_s"`
}

// Build returns the cached check of req, cross-building first when needed.
// A compile failure is a *kbuild.Error quoting the first error line; a
// missing cross compiler is a *ToolchainError.
func Build(ctx context.Context, c cache.Dir, req Request) (Result, error) {
	start := time.Now()
	a := req.Arch
	if err := supports(req.Tree, a); err != nil {
		return Result{}, err
	}
	tc, err := toolchain(ctx, a, req.Compiler)
	if err != nil {
		return Result{}, err
	}
	e := Entry{Recipe: recipe, Source: req.Tree.Digest, Version: req.Tree.Version, Arch: a.Name,
		Compiler: tc.version, HostCC: tc.hostVersion, Vars: tc.makeVars, Config: kconfig.Text(req.Fragments)}
	if req.Series != nil {
		for _, p := range req.Series.Patches {
			e.Patches = append(e.Patches, kbuild.Patch{Name: p.Name, Digest: p.Digest})
		}
	}
	key := e.key()
	if dir, ok := c.Lookup("crossbuild", key); ok {
		if cached, err := readEntry(dir); err == nil {
			return Result{Key: key, Dir: dir, Cached: true, Took: time.Since(start), Entry: cached}, nil
		}
		slog.Warn("unreadable cross-build entry: building again", "dir", dir)
	}

	work, doneWork, err := cache.ScratchDir(mkdir(c.Path("work")), "cross-"+a.Name+"-")
	if err != nil {
		return Result{}, fmt.Errorf("crossbuild: %w", err)
	}
	defer doneWork()
	src, obj := filepath.Join(work, "src"), filepath.Join(work, "obj")
	if err := source.CopyTree(req.Tree.Dir, src); err != nil {
		return Result{}, fmt.Errorf("crossbuild: copy %s: %w", req.Tree.Dir, err)
	}
	if req.Series != nil {
		if err := patch.Apply(ctx, src, req.Series, patch.Options{}); err != nil {
			return Result{}, err
		}
	}
	defined, err := DefinesSymbol(src, TagsSymbol)
	if err != nil {
		return Result{}, err
	}
	if err := os.Mkdir(obj, 0o755); err != nil {
		return Result{}, fmt.Errorf("crossbuild: %w", err)
	}
	logPath := filepath.Join(work, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return Result{}, fmt.Errorf("crossbuild: %w", err)
	}
	defer logf.Close()
	m := maker{src: src, obj: obj, arch: a, env: tc.env(c, work), vars: tc.makeVars, log: logf}

	cfg, err := m.configure(ctx, req.Fragments)
	if err != nil {
		return Result{}, failed(c, a.Name, logPath, err)
	}
	jobs := req.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	slog.Info("cross-building kernel", "arch", a.Name, "version", req.Tree.Version, "compiler", tc.version, "key", key[:12], "jobs", jobs)
	buildStart := time.Now()
	family := Family(req)
	objects := 0
	m.task, m.objects = req.Progress.Build(a.Name, progress.LastCount(c, family)), &objects
	err = m.run(ctx, fmt.Sprintf("-j%d", jobs), a.Target)
	m.task.Done(err)
	if err != nil {
		return Result{}, failed(c, a.Name, logPath, err)
	}
	if err := progress.SaveCount(c, family, objects); err != nil {
		slog.Debug("the cross build's object count, the next one's estimate, was not kept", "err", err)
	}
	logf.Close()
	e.BuildS = time.Since(buildStart).Seconds()
	e.Tags = TagsOf(defined, cfg)
	if e.Symbols, err = checkCompiled(obj, a); err != nil {
		return Result{}, err
	}
	dir, err := c.Fill("crossbuild", key, func(tmp string) error {
		for _, f := range []string{".config", "System.map"} {
			if err := cache.CopyFile(filepath.Join(obj, f), filepath.Join(tmp, f)); err != nil {
				return err
			}
		}
		if err := cache.CopyFile(logPath, filepath.Join(tmp, "build.log")); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(e, "", "  ")
		return os.WriteFile(filepath.Join(tmp, "result.json"), append(b, '\n'), 0o644)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Key: key, Dir: dir, Took: time.Since(start), Entry: e}, nil
}

// supports refuses a tree older than the architecture.
func supports(t source.Tree, a Arch) error {
	v, err := era.ParseVersion(t.Version)
	if err != nil {
		return err
	}
	since, err := era.ParseVersion(a.Since)
	if err != nil {
		return err
	}
	if _, statErr := os.Stat(filepath.Join(t.Dir, "arch", a.MakeArch)); v.Less(since) || statErr != nil {
		return &UnsupportedError{Arch: a, Version: t.Version}
	}
	return nil
}

// checkCompiled makes sure the build compiled the files and linked the
// symbols the check is about, and returns the symbols.
func checkCompiled(obj string, a Arch) ([]string, error) {
	for _, o := range a.Objects {
		if _, err := os.Stat(filepath.Join(obj, o)); err != nil {
			return nil, fmt.Errorf("crossbuild: %s was not compiled for %s; the check's config leaves out what it is meant to check", o, a.Name)
		}
	}
	sm, err := os.ReadFile(filepath.Join(obj, "System.map"))
	if err != nil {
		return nil, fmt.Errorf("crossbuild: %w", err)
	}
	if miss := MissingSymbols(sm, a.Symbols); len(miss) > 0 {
		return nil, fmt.Errorf("crossbuild: %s System.map lacks %s; the check's config leaves out the syscall tracing path", a.Name, strings.Join(miss, ", "))
	}
	return a.Symbols, nil
}

func (e Entry) key() string {
	var ps strings.Builder
	for _, p := range e.Patches {
		ps.WriteString(p.Name + " " + p.Digest + "\n")
	}
	return cache.Key(e.Recipe, e.Source, e.Arch, ps.String(), e.Compiler, e.HostCC, strings.Join(e.Vars, "\n"),
		strings.Join(kbuild.Env, "\n"), e.Config)
}

func readEntry(dir string) (Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("%s: %w", filepath.Join(dir, "result.json"), err)
	}
	return e, nil
}

// failed keeps a failed build's log in the cache's failed/ directory and
// wraps err as a *kbuild.Error quoting the first error line, as kbuild
// does. Dropped config symbols and cancellation pass through unchanged.
func failed(c cache.Dir, arch, logPath string, err error) error {
	var dropped *kconfig.DroppedError
	if errors.As(err, &dropped) || errors.Is(err, context.Canceled) {
		return err
	}
	b, _ := os.ReadFile(logPath)
	kept := c.Path("failed", fmt.Sprintf("cross-%s-%s.log", arch, time.Now().UTC().Format("20060102T150405")))
	if mkdir(filepath.Dir(kept)) != "" {
		_ = cache.WriteFileAtomic(kept, b, 0o644)
	}
	return &kbuild.Error{Arch: arch, First: kbuild.FirstError(b), Log: kept, Err: err}
}

type toolchainInfo struct {
	version     string // the cross compiler's first --version line
	hostVersion string // the host gcc's, which builds the kernel's host tools
	ccache      bool
	makeVars    []string
}

// toolchain chooses the cross compiler and names it (its version enters
// the key), and fronts it and the host compiler with ccache when there is
// one.
func toolchain(ctx context.Context, a Arch, name string) (toolchainInfo, error) {
	t, err := ChooseToolchain(a, name, exec.LookPath)
	if err != nil {
		return toolchainInfo{}, err
	}
	out, err := proc.Command(ctx, t.CC, "--version").Output()
	if err != nil {
		return toolchainInfo{}, fmt.Errorf("%s --version: %w", t.CC, err)
	}
	host, err := proc.Command(ctx, "gcc", "--version").Output()
	if err != nil {
		return toolchainInfo{}, fmt.Errorf("gcc --version: %w; install it with: apt-get install build-essential", err)
	}
	tc := toolchainInfo{version: proc.FirstLine(out), hostVersion: proc.FirstLine(host),
		makeVars: []string{"ARCH=" + a.MakeArch, "CROSS_COMPILE=" + a.CrossCompile}}
	cc, hostcc := t.CC, "gcc"
	if _, err := exec.LookPath("ccache"); err == nil {
		tc.ccache = true
		cc, hostcc = "ccache "+cc, "ccache "+hostcc
	} else {
		slog.Warn("ccache not found: every cross build compiles from scratch; install it with: apt-get install ccache")
	}
	// With CROSS_COMPILE set, clang takes its --target from it and the
	// binutils from Debian's cross binutils (Documentation/kbuild/llvm.rst).
	tc.makeVars = append(tc.makeVars, "CC="+cc, "HOSTCC="+hostcc)
	return tc, nil
}

// env is make's environment: the caller's PATH and HOME, kbuild's fixed
// reproducible values, and ccache in the lab's cache with base_dir at the
// work area, so that two work copies of one tree share ccache entries (the
// same settings kbuild uses, so host tools hit the same entries too).
func (tc toolchainInfo) env(c cache.Dir, work string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	env = append(env, kbuild.Env...)
	if tc.ccache {
		env = append(env, "CCACHE_DIR="+c.Path("ccache"), "CCACHE_BASEDIR="+filepath.Dir(work),
			"CCACHE_NOHASHDIR=1", "CCACHE_SLOPPINESS=time_macros")
	}
	return env
}

// maker runs make in one work directory.
type maker struct {
	src, obj string
	arch     Arch
	env      []string
	vars     []string
	log      io.Writer
	// task, when set, is told of every object make compiles; objects, when
	// set, counts them (kbuild.IsObjectLine).
	task    *progress.Task
	objects *int
}

// Family names the kind of cross build req is, for its progress estimate
// (progress.LastCount): one era, arch and patched-or-not.
func Family(req Request) string {
	v, err := era.ParseVersion(req.Tree.Version)
	if err != nil {
		return ""
	}
	patched := "unpatched"
	if req.Series != nil && len(req.Series.Patches) > 0 {
		patched = "patched"
	}
	return "crossbuild-" + v.Name() + "-" + req.Arch.Name + "-" + patched
}

// configure makes tinyconfig, merges the fragments, runs olddefconfig and
// checks that every requested symbol survived.
func (m maker) configure(ctx context.Context, frags []kconfig.Fragment) (kconfig.Config, error) {
	if err := m.run(ctx, "tinyconfig"); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(m.obj, ".config")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("crossbuild: %w", err)
	}
	_, err = io.WriteString(f, kconfig.Text(frags))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("crossbuild: %w", err)
	}
	if err := m.run(ctx, "olddefconfig"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("crossbuild: %w", err)
	}
	final, err := kconfig.ParseConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if dropped := kconfig.Verify(final, kconfig.Requested(frags)); len(dropped) > 0 {
		kconfig.Explain(m.src, final, dropped)
		return nil, &kconfig.DroppedError{Arch: m.arch.Name, Dropped: dropped}
	}
	return final, nil
}

// run runs make with goals in its own process group, killed whole on
// cancellation so that no gcc outlives a Ctrl-C, and tees its output into
// the log.
func (m maker) run(ctx context.Context, goals ...string) error {
	args := append([]string{"-C", m.src, "O=" + m.obj}, m.vars...)
	args = append(args, goals...)
	cmd := proc.Command(ctx, "make", args...)
	cmd.Env = m.env
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
// compiles into the task, whose own ticker says when the count is shown.
func (m maker) copyOutput(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(m.log, line)
		if kbuild.IsObjectLine(line) {
			m.task.Add(1)
			if m.objects != nil {
				*m.objects++
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func mkdir(p string) string {
	if os.MkdirAll(p, 0o755) != nil {
		return ""
	}
	return p
}
