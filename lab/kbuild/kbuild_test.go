package kbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

func TestFirstError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, log, want string
	}{
		{"compiler", "  CC      kernel/fork.o\n../src/kernel/ptrace.c:12:3: error: 'x' undeclared\nmake[2]: *** [x] Error 1\n",
			"../src/kernel/ptrace.c:12:3: error: 'x' undeclared"},
		{"fatal", "  CC a.o\na.c:1:10: fatal error: foo.h: No such file or directory\n", "a.c:1:10: fatal error: foo.h: No such file or directory"},
		{"linker", "  LD vmlinux\nld: kernel/x.o: in function `f':\nx.c:(.text+0x1): undefined reference to `g'\n", "x.c:(.text+0x1): undefined reference to `g'"},
		{"make only", "make[1]: *** No rule to make target 'bzImage'.  Stop.\n", "make[1]: *** No rule to make target 'bzImage'.  Stop."},
		{"nothing", "all fine\n", "no error line found in the log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FirstError([]byte(tc.log)); got != tc.want {
				t.Errorf("FirstError = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeepLogQuotesFirstError(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	log := filepath.Join(t.TempDir(), "build.log")
	os.WriteFile(log, []byte("x.c:1:1: error: boom\n"), 0o644)
	err := keepLog(c, "i386", log, os.ErrInvalid)
	be, ok := err.(*Error)
	if !ok {
		t.Fatalf("keepLog returned %T", err)
	}
	if be.First != "x.c:1:1: error: boom" || !strings.Contains(be.Error(), "i386 build failed: x.c:1:1: error: boom") {
		t.Errorf("error %q", be)
	}
	if b, err := os.ReadFile(be.Log); err != nil || !strings.Contains(string(b), "boom") {
		t.Errorf("kept log %s: %v", be.Log, err)
	}
}

func TestDigestSeparatesParts(t *testing.T) {
	t.Parallel()
	if digest("ab", "c") == digest("a", "bc") {
		t.Error("digest does not separate its parts")
	}
	if a, b := digest("a", "b"), digest("a", "b"); a != b {
		t.Errorf("digest is not stable: %s vs %s", a, b)
	}
}

func TestLookupArch(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"x86_64", "i386", "um"} {
		if a, err := LookupArch(n); err != nil || a.Name != n {
			t.Errorf("LookupArch(%s) = %+v, %v", n, a, err)
		}
	}
	if _, err := LookupArch("arm64"); err == nil || !strings.Contains(err.Error(), "choose x86_64, i386 or um") {
		t.Errorf("LookupArch(arm64): %v", err)
	}
}
