package crossbuild

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

func config(t *testing.T, text string) kconfig.Config {
	t.Helper()
	c, err := kconfig.ParseConfig(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTagsOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		defined bool
		config  string
		want    Tags
	}{
		{"series without the symbol", false, "CONFIG_ARM64=y\n", TagsAbsent},
		// Kconfig leaves an unselected invisible bool out of .config.
		{"defined, not selected", true, "CONFIG_ARM64=y\n", TagsUnset},
		{"defined, is not set line", true, "# CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS is not set\n", TagsUnset},
		{"selected", true, "CONFIG_X86=y\nCONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS=y\n", TagsSet},
		{"selected but not defined is absent", false, "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS=y\n", TagsAbsent},
		{"a prefix of the symbol is not the symbol", true, "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS_X=y\n", TagsUnset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := TagsOf(tc.defined, config(t, tc.config)); got != tc.want {
				t.Errorf("TagsOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckTags(t *testing.T) {
	t.Parallel()
	arm64 := Arches["arm64"]
	optIn := arm64
	optIn.OptsIn = true
	tests := []struct {
		arch  Arch
		state Tags
		ok    bool
	}{
		{arm64, TagsAbsent, true},
		{arm64, TagsUnset, true},
		{arm64, TagsSet, false},
		{optIn, TagsSet, true},
		{optIn, TagsUnset, false},
		{optIn, TagsAbsent, true},
	}
	for _, tc := range tests {
		err := CheckTags(tc.arch, tc.state)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTags(OptsIn=%v, %q) = %v, want ok=%v", tc.arch.OptsIn, tc.state, err, tc.ok)
		}
		var me *TagsMismatchError
		if err != nil && (!errors.As(err, &me) || !strings.Contains(err.Error(), "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS is "+string(tc.state))) {
			t.Errorf("CheckTags(%q): %v", tc.state, err)
		}
	}
	if arm64.OptsIn {
		t.Error("arm64 opts in to the tags: its syscall path returns arg0 for a skipped call")
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	a := Arches["arm64"]
	tests := []struct {
		tags   Tags
		series string
		want   string
	}{
		{TagsAbsent, "6.12", "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS: symbol absent from this series"},
		{TagsAbsent, "none", "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS: symbol absent from the unpatched tree"},
		{TagsUnset, "6.12", "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS not set"},
		{TagsSet, "6.12", "CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS=y"},
	}
	for _, tc := range tests {
		if got := tc.tags.Describe(a, tc.series); got != tc.want {
			t.Errorf("Describe(%q, %q) = %q, want %q", tc.tags, tc.series, got, tc.want)
		}
	}
}

func TestKconfigDefines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       bool
	}{
		{"config", "config HAVE_ARCH_PTRACE_SYSCALL_TAGS\n\tbool\n", true},
		{"menuconfig", "menuconfig HAVE_ARCH_PTRACE_SYSCALL_TAGS\n", true},
		{"indented, tab", "if X\n\tconfig HAVE_ARCH_PTRACE_SYSCALL_TAGS\n\t\tbool\nendif\n", true},
		{"select only", "config X86\n\tselect HAVE_ARCH_PTRACE_SYSCALL_TAGS\n", false},
		{"depends only", "config FOO\n\tdepends on HAVE_ARCH_PTRACE_SYSCALL_TAGS\n", false},
		{"longer name", "config HAVE_ARCH_PTRACE_SYSCALL_TAGS_V2\n", false},
		{"help text", "config FOO\n\thelp\n\t  config HAVE_ARCH_PTRACE_SYSCALL_TAG is not it\n", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		if got := kconfigDefines([]byte(tc.text), TagsSymbol); got != tc.want {
			t.Errorf("%s: kconfigDefines = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDefinesSymbol(t *testing.T) {
	t.Parallel()
	tree := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Kconfig", "source \"arch/Kconfig\"\n")
	write("arch/x86/Kconfig", "config X86\n\tselect HAVE_ARCH_PTRACE_SYSCALL_TAGS\n")
	// Documentation and tools are not Kconfig the kernel reads.
	write("Documentation/Kconfig", "config HAVE_ARCH_PTRACE_SYSCALL_TAGS\n")
	write("tools/Kconfig", "config HAVE_ARCH_PTRACE_SYSCALL_TAGS\n")
	write("arch/Kconfig.txt", "config NOT_KCONFIG_NAME\n")
	if ok, err := DefinesSymbol(tree, TagsSymbol); err != nil || ok {
		t.Fatalf("before the definition: DefinesSymbol = %v, %v; want false", ok, err)
	}
	write("arch/Kconfig", "menu \"General\"\nendmenu\n\nconfig HAVE_ARCH_PTRACE_SYSCALL_TAGS\n\tbool\n")
	if ok, err := DefinesSymbol(tree, TagsSymbol); err != nil || !ok {
		t.Fatalf("after the definition: DefinesSymbol = %v, %v; want true", ok, err)
	}
	if _, err := DefinesSymbol(filepath.Join(tree, "missing"), TagsSymbol); err == nil {
		t.Error("DefinesSymbol on a missing tree: no error")
	}
}

func TestMissingSymbols(t *testing.T) {
	t.Parallel()
	sm := "ffff800080010000 T _text\n" +
		"ffff800080020000 T syscall_trace_enter\n" +
		"ffff800080020100 t report_syscall\n" +
		"ffff800080020200 T syscall_trace_exit_x\n" +
		"garbage line\n"
	tests := []struct {
		want, missing []string
	}{
		{[]string{"syscall_trace_enter"}, nil},
		{[]string{"syscall_trace_enter", "report_syscall"}, nil},
		{[]string{"syscall_trace_exit", "syscall_trace_enter", "ptrace_request"}, []string{"syscall_trace_exit", "ptrace_request"}},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := MissingSymbols([]byte(sm), tc.want); !slices.Equal(got, tc.missing) {
			t.Errorf("MissingSymbols(%v) = %v, want %v", tc.want, got, tc.missing)
		}
	}
}

// FuzzMissingSymbols: every wanted name is reported missing exactly when
// no line of the map has it as its third field, whatever the map holds.
func FuzzMissingSymbols(f *testing.F) {
	f.Add("ffff800080020000 T syscall_trace_enter\n", "syscall_trace_enter")
	f.Add("x T a\ny t b c\n\n", "b")
	f.Fuzz(func(t *testing.T, sm, want string) {
		missing := MissingSymbols([]byte(sm), []string{want})
		has := false
		for _, line := range strings.Split(sm, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[2] == want {
				has = true
			}
		}
		// Lines past the scanner's limit are not read: only check inputs it reads whole.
		if len(sm) < 64*1024 && has == (len(missing) == 1) {
			t.Errorf("map %q, want %q: missing %v", sm, want, missing)
		}
	})
}

func TestChooseToolchain(t *testing.T) {
	t.Parallel()
	a := Arches["arm64"]
	on := func(progs ...string) func(string) (string, error) {
		return func(p string) (string, error) {
			if slices.Contains(progs, p) {
				return "/usr/bin/" + p, nil
			}
			return "", exec.ErrNotFound
		}
	}
	tests := []struct {
		name    string
		choose  string
		path    func(string) (string, error)
		want    string // toolchain name, or "" for an error
		errWant string
	}{
		{"gcc preferred", "auto", on("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ld", "clang"), "gcc", ""},
		{"clang when no cross gcc", "auto", on("aarch64-linux-gnu-ld", "clang"), "clang", ""},
		{"gcc without binutils is not enough", "", on("aarch64-linux-gnu-gcc", "clang"), "",
			"no arm64 cross compiler (gcc: aarch64-linux-gnu-ld not found; clang: aarch64-linux-gnu-ld not found): install one with make setup (apt-get install clang binutils-aarch64-linux-gnu)"},
		{"clang chosen, missing", "clang", on("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ld"), "",
			"no arm64 cross compiler (clang: clang not found): install one with make setup (apt-get install clang binutils-aarch64-linux-gnu)"},
		{"clang chosen", "clang", on("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ld", "clang"), "clang", ""},
		{"gcc chosen, missing", "gcc", on("aarch64-linux-gnu-ld", "clang"), "",
			"no arm64 cross compiler (gcc: aarch64-linux-gnu-gcc not found): apt-get install gcc-aarch64-linux-gnu (make setup does not: it Conflicts with gcc-multilib), or use --cc auto"},
		{"nothing", "auto", on(), "", "apt-get install clang binutils-aarch64-linux-gnu"},
		{"unknown", "tcc", on("clang"), "", `unknown compiler "tcc" for arm64: choose auto, gcc or clang`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ChooseToolchain(a, tc.choose, tc.path)
			if tc.want != "" {
				if err != nil || got.Name != tc.want {
					t.Fatalf("ChooseToolchain = %+v, %v; want %s", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errWant) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ChooseToolchain error %v, want one line containing %q", err, tc.errWant)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	t.Parallel()
	modern, old := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(modern, "arch", "arm64"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(old, "arch", "x86"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := Arches["arm64"]
	if err := supports(source.Tree{Dir: modern, Version: "6.12.117"}, a); err != nil {
		t.Errorf("6.12 with arch/arm64: %v", err)
	}
	var ue *UnsupportedError
	err := supports(source.Tree{Dir: old, Version: "2.6.29"}, a)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Linux 2.6.29 has no arch/arm64 (it arrived in 3.7)") {
		t.Errorf("2.6.29: %v", err)
	}
	// A tree that claims a new version but lacks the directory is refused too.
	if err := supports(source.Tree{Dir: old, Version: "6.1.0"}, a); !errors.As(err, &ue) {
		t.Errorf("6.1 without arch/arm64: %v", err)
	}
}

// TestKeyCoversItsInputs: changing any input of a check changes its key,
// and the same inputs give the same key.
func TestKeyCoversItsInputs(t *testing.T) {
	t.Parallel()
	base := Entry{Recipe: recipe, Source: "sha256:aa", Version: "6.12.117", Arch: "arm64",
		Compiler: "Debian clang version 14.0.6", HostCC: "gcc 12", Vars: []string{"ARCH=arm64", "CC=clang"},
		Config: "CONFIG_WERROR=y\n"}
	if same := base; same.key() != base.key() {
		t.Fatal("key is not stable")
	}
	// Outputs of the build do not enter the key.
	out := base
	out.Tags, out.Symbols, out.BuildS = TagsSet, []string{"x"}, 12
	if out.key() != base.key() {
		t.Error("the build's findings changed the key")
	}
	changes := map[string]func(*Entry){
		"source":   func(e *Entry) { e.Source = "sha256:bb" },
		"arch":     func(e *Entry) { e.Arch = "riscv" },
		"series":   func(e *Entry) { e.Patches = append(e.Patches, kbuild.Patch{Name: "0001", Digest: "d1"}) },
		"compiler": func(e *Entry) { e.Compiler = "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0" },
		"host cc":  func(e *Entry) { e.HostCC = "gcc 13" },
		"vars":     func(e *Entry) { e.Vars = []string{"ARCH=arm64", "CC=gcc"} },
		"config":   func(e *Entry) { e.Config = "" },
		"recipe":   func(e *Entry) { e.Recipe = "crossbuild/0" },
	}
	for name, change := range changes {
		e := base
		change(&e)
		if e.key() == base.key() {
			t.Errorf("changing the %s left the key unchanged", name)
		}
	}
}

// TestBuildWithoutCrossCompiler: with no cross compiler on PATH the check
// fails at once, in one line naming make setup and the packages, before it
// copies or builds anything.
func TestBuildWithoutCrossCompiler(t *testing.T) {
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "arch", "arm64"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	c := cache.Dir(t.TempDir())
	_, err := Build(context.Background(), c, Request{Tree: source.Tree{Dir: tree, Version: "6.12.117"}, Arch: Arches["arm64"]})
	var te *ToolchainError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "install one with make setup (apt-get install clang binutils-aarch64-linux-gnu)") {
		t.Fatalf("Build error %v, want a ToolchainError naming make setup", err)
	}
	if _, statErr := os.Stat(c.Path("work")); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("Build made a work area before finding the compiler: %v", statErr)
	}
}
