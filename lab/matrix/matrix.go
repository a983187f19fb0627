// Package matrix expands a matrix file (lab.toml) into cells — kernel ×
// series × arch × UML boot flag set — runs them within a CPU and memory
// budget, reuses the results of cells whose inputs did not change, splits
// them into shards for CI runners and merges shard results back.
package matrix

import (
	"errors"
	"fmt"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// File is a matrix file. See the README's "Matrix" section.
type File struct {
	// Arches are the QEMU guests: x86_64, i386.
	Arches []string `toml:"arches"`
	// UMLFlags are UML's boot flag sets: default, nosysptvm, usesysemu.
	// Both guests carry a UML (64-bit in x86_64, 32-bit in i386), so every
	// arch gets one cell per flag set.
	UMLFlags []string `toml:"uml_flags"`
	// Timeout bounds each boot (a Go duration); empty is 5m.
	Timeout string `toml:"timeout"`
	// Accel is the accelerator: auto, kvm or tcg; empty is auto. --accel
	// and $PTVMLAB_ACCEL override it.
	Accel string `toml:"accel"`
	// Silence is the boots' silence watchdog (a Go duration); empty is the
	// backend's default (60s under TCG, 30s under KVM). --silence
	// overrides it.
	Silence string `toml:"silence"`
	// Retries is how many times a cell that did not pass runs again; nil
	// is 1. A cell whose rerun passes is report.Flaky.
	Retries *int     `toml:"retries"`
	Kernels []Kernel `toml:"kernel"`
	// Quarantine lists tests whose failures are reported but do not fail
	// the run, each with a reason and an expiry date.
	Quarantine []Quarantine `toml:"quarantine"`
}

// Quarantine is one [[quarantine]] entry: a test (and, under it, its
// subtests) whose failure is reported and does not fail the run, until
// Expires. An expired entry fails the file's check, so that a quarantine
// is looked at again rather than forgotten.
type Quarantine struct {
	// Test is a test's path as reports name it: "skipexit",
	// "kselftests/syscall_skip".
	Test string `toml:"test"`
	// Cells is a cell ID pattern (path.Match, "*" per part, e.g.
	// "6.1/*/x86_64/*"); empty is every cell.
	Cells  string `toml:"cells"`
	Reason string `toml:"reason"`
	// Expires is the last day the entry holds (a TOML date: 2027-01-31).
	Expires time.Time `toml:"expires"`
}

// DefaultRetries is how many times a cell that did not pass runs again
// when the file does not say.
const DefaultRetries = 1

// RetryCount is f's retries, DefaultRetries when unset.
func (f File) RetryCount() int {
	if f.Retries == nil {
		return DefaultRetries
	}
	return *f.Retries
}

// Kernel is one kernel source of the matrix.
type Kernel struct {
	// Name labels the kernel in reports: "6.12", "2.6.29".
	Name string `toml:"name"`
	// Source is a --kernel spec. "$VAR" or "${VAR}" in it comes from the
	// environment; when VAR is unset the kernel's cells are skipped and the
	// reports say why.
	Source string `toml:"source"`
	// Series are what to build: "auto" (the repo's series for the kernel's
	// version), "none" (unpatched: the negative control) or a directory.
	Series []string `toml:"series"`
}

// UMLFlagSets are the valid uml_flags values. nosysemu and sysemu-off
// turn UML's own PTRACE_SYSEMU off (at boot, and at run time) and exist
// before 6.3 only; seccomp boots UML with seccomp=on, its seccomp
// userspace (6.16 and later). Cells leaves each out for kernels named as a
// version without it.
var UMLFlagSets = []string{"default", "nosysptvm", "usesysemu", "nosysemu", "sysemu-off", "seccomp"}

// sysemuFlagSets need a UML with sysemu modes (era.UMLHasSysemuModes).
var sysemuFlagSets = []string{"nosysemu", "sysemu-off"}

// Load reads and checks a matrix file.
func Load(path string) (File, error) {
	var f File
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return f, fmt.Errorf("matrix file %s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return f, fmt.Errorf("matrix file %s: unknown key %q (known: arches, uml_flags, timeout, accel, silence, retries, [[kernel]] name/source/series, [[quarantine]] test/cells/reason/expires)", path, un[0].String())
	}
	for _, k := range []struct {
		key  string
		list []string
	}{{"arches", f.Arches}, {"uml_flags", f.UMLFlags}} {
		if md.IsDefined(k.key) && len(k.list) == 0 {
			return f, fmt.Errorf("matrix file %s: %s = []: an empty list would run nothing; leave the key out for the default", path, k.key)
		}
	}
	return f, f.Check(path)
}

// Check reports the first problem with f, naming where (path) and the fix.
// A quarantine entry that expired before today is a problem.
func (f File) Check(path string) error { return f.check(path, time.Now()) }

func (f File) check(path string, now time.Time) error {
	if len(f.Kernels) == 0 {
		return fmt.Errorf("matrix file %s: no [[kernel]] entries; add one with name, source and series", path)
	}
	if d := firstDuplicate(f.Arches); d != "" {
		return fmt.Errorf("matrix file %s: arches: %q is listed twice (its cells would share one directory)", path, d)
	}
	if d := firstDuplicate(f.UMLFlags); d != "" {
		return fmt.Errorf("matrix file %s: uml_flags: %q is listed twice", path, d)
	}
	for _, k := range f.Kernels {
		if d := firstDuplicate(k.Series); d != "" {
			return fmt.Errorf("matrix file %s: kernel %s: series %q is listed twice", path, k.Name, d)
		}
	}
	for _, a := range f.Arches {
		if a != "x86_64" && a != "i386" {
			return fmt.Errorf("matrix file %s: arches: %q is not bootable; choose x86_64 or i386", path, a)
		}
	}
	for _, u := range f.UMLFlags {
		if !slices.Contains(UMLFlagSets, u) {
			return fmt.Errorf("matrix file %s: uml_flags: unknown flag set %q; choose from %s", path, u, strings.Join(UMLFlagSets, ", "))
		}
	}
	if _, err := f.BootTimeout(); err != nil {
		return fmt.Errorf("matrix file %s: timeout: %w", path, err)
	}
	if _, err := vm.ParseAccel(f.Accel); err != nil {
		return fmt.Errorf("matrix file %s: accel: %w", path, err)
	}
	if _, err := f.BootSilence(); err != nil {
		return fmt.Errorf("matrix file %s: silence: %w", path, err)
	}
	seen := map[string]bool{}
	for i, k := range f.Kernels {
		switch {
		case k.Name == "" || strings.Contains(k.Name, "/"):
			return fmt.Errorf("matrix file %s: kernel #%d: name %q must be set and contain no /", path, i+1, k.Name)
		case seen[k.Name]:
			return fmt.Errorf("matrix file %s: kernel name %q is used twice", path, k.Name)
		case k.Source == "":
			return fmt.Errorf("matrix file %s: kernel %s: source is empty; give a --kernel spec such as debian:6.12", path, k.Name)
		case len(k.Series) == 0:
			return fmt.Errorf("matrix file %s: kernel %s: series is empty; use [\"auto\"], [\"none\"] or both", path, k.Name)
		}
		seen[k.Name] = true
	}
	if f.Retries != nil && (*f.Retries < 0 || *f.Retries > 5) {
		return fmt.Errorf("matrix file %s: retries = %d: choose 0 (no reruns) to 5", path, *f.Retries)
	}
	today := now.Format(time.DateOnly)
	for i, q := range f.Quarantine {
		where := fmt.Sprintf("matrix file %s: quarantine #%d (test %q)", path, i+1, q.Test)
		switch {
		case q.Test == "":
			return fmt.Errorf("%s: test is empty; name the test's path as the reports do, e.g. \"skipexit\"", where)
		case strings.TrimSpace(q.Reason) == "":
			return fmt.Errorf("%s: reason is empty; say why the failure is tolerated (a bug link)", where)
		case q.Expires.IsZero():
			return fmt.Errorf("%s: expires is missing; give the last day it holds, e.g. expires = 2027-01-31", where)
		case q.Expires.Format(time.DateOnly) < today:
			return fmt.Errorf("%s: expired on %s; fix the test, or renew the entry with a new date and reason", where, q.Expires.Format(time.DateOnly))
		}
		if _, err := pathpkg.Match(q.Cells, ""); err != nil {
			return fmt.Errorf("%s: cells %q is not a pattern (%v); use path.Match syntax, e.g. \"6.12/*/x86_64/*\"", where, q.Cells, err)
		}
	}
	return nil
}

func firstDuplicate(list []string) string {
	seen := map[string]bool{}
	for _, v := range list {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

// BootTimeout is the per-boot timeout.
func (f File) BootTimeout() (time.Duration, error) {
	if f.Timeout == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(f.Timeout)
	if err == nil && d <= 0 {
		err = fmt.Errorf("a boot limit must be positive, e.g. \"5m\"")
	}
	if err != nil {
		return 0, fmt.Errorf("%q: %w", f.Timeout, err)
	}
	return d, nil
}

// BootSilence is the boots' silence watchdog; 0 is the backend's default.
func (f File) BootSilence() (time.Duration, error) {
	if f.Silence == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(f.Silence)
	if err == nil && d <= 0 {
		err = fmt.Errorf("%q must be positive, e.g. \"90s\" (leave it out for the default)", f.Silence)
	}
	return d, err
}

// Default is the built-in matrix: every era the repo has a series for
// (patches/<era>/series), patched and unpatched, on both guests with all
// three UML flag sets. Debian eras come from debian:<era>; others from
// $PTVMLAB_LINUX_<ERA> (2.6.29: $PTVMLAB_LINUX_2_6_29).
func Default(patchesDir string) (File, error) {
	ents, err := os.ReadDir(patchesDir)
	if err != nil {
		return File{}, fmt.Errorf("default matrix: %w", err)
	}
	f := File{Arches: []string{"x86_64", "i386"}, UMLFlags: UMLFlagSets}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(patchesDir, e.Name(), "series")); err != nil || !e.IsDir() {
			continue
		}
		src := "debian:" + e.Name()
		if strings.HasPrefix(e.Name(), "2.") {
			src = "${PTVMLAB_LINUX_" + strings.ReplaceAll(e.Name(), ".", "_") + "}"
		}
		f.Kernels = append(f.Kernels, Kernel{Name: e.Name(), Source: src, Series: []string{"auto", "none"}})
	}
	sort.Slice(f.Kernels, func(i, j int) bool { return versionLess(f.Kernels[j].Name, f.Kernels[i].Name) })
	return f, f.Check(patchesDir)
}

// Only keeps the kernels named in names (their Name), in the file's
// order, so that a run of some rows of a matrix has the same cell IDs as
// the whole. A name the file does not have is an error naming those it has.
func (f File) Only(names []string) (File, error) {
	if len(names) == 0 {
		return f, nil
	}
	var have []string
	for _, k := range f.Kernels {
		have = append(have, k.Name)
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			return File{}, fmt.Errorf("the matrix has no kernel %q; it has %s", n, strings.Join(have, ", "))
		}
	}
	out := f
	out.Kernels = nil
	for _, k := range f.Kernels {
		if slices.Contains(names, k.Name) {
			out.Kernels = append(out.Kernels, k)
		}
	}
	return out, nil
}

// versionLess orders era names by era.Version: 2.6.29 < 6.1 < 6.12; a
// name that is not a version sorts before every version, by name.
func versionLess(a, b string) bool {
	va, errA := era.ParseVersion(a)
	vb, errB := era.ParseVersion(b)
	switch {
	case errA == nil && errB == nil:
		return va.Less(vb)
	case errA != nil && errB != nil:
		return a < b
	}
	return errA != nil
}

var envRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// ErrUnset is a kernel source that names an unset environment variable.
var ErrUnset = errors.New("environment variable not set")

// ExpandSource replaces $VAR and ${VAR} in a source spec from getenv; an
// unset variable is an ErrUnset error naming it.
func ExpandSource(src string, getenv func(string) string) (string, error) {
	var missing string
	out := envRe.ReplaceAllStringFunc(src, func(m string) string {
		sub := envRe.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v := getenv(name)
		if v == "" && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("%w: %s (the source is %q)", ErrUnset, missing, src)
	}
	return out, nil
}

// Cell is one expanded cell of the matrix.
type Cell struct {
	ID     string // kernel/series/arch/flags, e.g. 6.12/auto/x86_64/default
	Kernel Kernel
	Series string // as the file gives it: auto, none or a directory
	Arch   string
	Flags  string // a UML boot flag set; "-" for a guest that carries no UML
	// Tests are the guest tests the cell runs; nil is every one. The
	// first cell of a group runs every test; the group's other UML flag
	// sets boot the same kernel, so they run the uml test (every
	// behaviour inside UML, under their flags) and the probe alone,
	// instead of the host's suite, selftests and ia32 again.
	Tests []string
}

// flagSetTests are what a group's cells after its first run.
var flagSetTests = []string{"probe", "uml"}

// Group is the cells that share one kernel build (kernel, series, arch):
// shards keep a group together so that each runner builds fewer kernels.
func (c Cell) Group() string { return c.Kernel.Name + "/" + c.Series + "/" + c.Arch }

// Cells expands f in a fixed order: kernels as listed, then series, arches
// and UML flag sets.
func (f File) Cells() []Cell {
	arches := f.Arches
	if len(arches) == 0 {
		arches = []string{"x86_64", "i386"}
	}
	flags := f.UMLFlags
	if len(flags) == 0 {
		flags = UMLFlagSets
	}
	var out []Cell
	for _, k := range f.Kernels {
		for _, s := range k.Series {
			for _, a := range arches {
				fs := flags
				uml := kbuild.Arches[a].UML
				if uml == "" || uml == "um-i386" && era.UMLi386Unreliable(k.Name) {
					fs = []string{"-"} // no UML in this guest (cell.Prepare says why)
				}
				first := true
				for _, fl := range fs {
					if slices.Contains(sysemuFlagSets, fl) && !era.UMLHasSysemuModes(k.Name) {
						continue
					}
					if fl == "seccomp" && !era.UMLHasSeccompMode(k.Name) {
						continue
					}
					c := Cell{ID: k.Name + "/" + seriesLabel(s) + "/" + a + "/" + fl, Kernel: k, Series: s, Arch: a, Flags: fl}
					if !first {
						c.Tests = flagSetTests
					}
					first = false
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// seriesLabel is a series as it appears in a cell ID: auto, none, or a
// directory's base name.
func seriesLabel(s string) string {
	if s == "auto" || s == "none" {
		return s
	}
	return filepath.Base(filepath.Clean(s))
}

// Shard is "i/n": the i-th of n shards, counted from 1.
type Shard struct{ I, N int }

// ParseShard reads "i/n".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 1 <= i <= n, e.g. 2/4", s)
	}
	return Shard{i, n}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Select returns the cells of shard s: build groups are dealt out in
// order, the largest groups first, each to the shard with the fewest cells
// so far (ties to the lowest shard). Every cell lands in exactly one shard,
// and every runner computes the same split.
func Select(cells []Cell, s Shard) []Cell {
	return Split(cells, s.N)[s.I-1]
}

// Groups counts the build groups among cells: with that many shards,
// Split gives each shard one group, so a runner builds one kernel (and
// the UML its cells run).
func Groups(cells []Cell) int { return len(groupNames(cells)) }

// groupNames lists the build groups among cells, sorted, each once.
func groupNames(cells []Cell) []string {
	var groups []string
	for _, c := range cells {
		groups = append(groups, c.Group())
	}
	slices.Sort(groups)
	return slices.Compact(groups)
}

// CacheName names a shard by the build groups it holds, sorted, in
// characters any CI cache key takes: "7.3-auto-x86_64", or several joined
// by "+". It stays the same while the shard builds the same kernels.
func CacheName(shard []Cell) string {
	keyChar := func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		}
		return '-'
	}
	groups := groupNames(shard)
	for i, g := range groups {
		groups[i] = strings.Map(keyChar, g)
	}
	return strings.Join(groups, "+")
}

// Split deals cells into n shards (see Select).
func Split(cells []Cell, n int) [][]Cell {
	var order []string
	groups := map[string][]Cell{}
	for _, c := range cells {
		g := c.Group()
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], c)
	}
	sort.SliceStable(order, func(i, j int) bool { return len(groups[order[i]]) > len(groups[order[j]]) })
	shards := make([][]Cell, n)
	for _, g := range order {
		min := 0
		for i := range shards {
			if len(shards[i]) < len(shards[min]) {
				min = i
			}
		}
		shards[min] = append(shards[min], groups[g]...)
	}
	pos := make(map[string]int, len(cells))
	for i, c := range cells {
		pos[c.ID] = i
	}
	for _, sh := range shards {
		sort.SliceStable(sh, func(i, j int) bool { return pos[sh[i].ID] < pos[sh[j].ID] })
	}
	return shards
}

// Quarantined returns the reason a failure of the test at path (a test
// path as report.Flatten names it) in cell is tolerated: the first entry
// whose pattern matches the cell and whose test is path or one of its
// parents. "" when none does.
func (f File) Quarantined(cell, path string) string {
	for _, q := range f.Quarantine {
		if q.Cells != "" {
			if ok, _ := pathpkg.Match(q.Cells, cell); !ok {
				continue
			}
		}
		if path == q.Test || strings.HasPrefix(path, q.Test+"/") {
			return q.Reason
		}
	}
	return ""
}
