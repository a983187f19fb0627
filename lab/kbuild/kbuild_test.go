package kbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	if cache.Key("ab", "c") == cache.Key("a", "bc") {
		t.Error("digest does not separate its parts")
	}
	if a, b := cache.Key("a", "b"), cache.Key("a", "b"); a != b {
		t.Errorf("digest is not stable: %s vs %s", a, b)
	}
}

func TestLookupArch(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"x86_64", "i386", "um", "um-i386"} {
		if a, err := LookupArch(n); err != nil || a.Name != n {
			t.Errorf("LookupArch(%s) = %+v, %v", n, a, err)
		}
	}
	if _, err := LookupArch("arm64"); err == nil || !strings.Contains(err.Error(), "choose x86_64, i386 or um (or um-i386") {
		t.Errorf("LookupArch(arm64): %v", err)
	}
}

// TestArchUML: every guest arch carries a UML of its own width: the UML
// arch exists, is not booted under QEMU, and boots binaries of the guest's
// GOARCH (the i386 guest's UML is 32-bit, its initramfs 386).
func TestArchUML(t *testing.T) {
	t.Parallel()
	for name, a := range Arches {
		if a.GOARCH == "" {
			if a.UML != "" || a.UMLGOARCH == "" || a.MakeArch != "um" {
				t.Errorf("%s: a um arch must carry no UML, name its binaries' GOARCH and build ARCH=um: %+v", name, a)
			}
			continue
		}
		um, err := LookupArch(a.UML)
		switch {
		case err != nil:
			t.Errorf("%s: UML %q: %v", name, a.UML, err)
		case um.GOARCH != "":
			t.Errorf("%s: its UML %s would be booted under QEMU", name, um.Name)
		case um.UMLGOARCH != a.GOARCH:
			t.Errorf("%s: its UML %s boots %s binaries, the guest is %s", name, um.Name, um.UMLGOARCH, a.GOARCH)
		}
	}
}

// TestMakeFlags: the 32-bit UML's SUBARCH enters its make flags (and so
// its keys); the arches without variables of their own keep the flags, and
// the cached builds, they had.
func TestMakeFlags(t *testing.T) {
	t.Parallel()
	tc := toolchainInfo{makeVars: []string{"CC=ccache gcc", "HOSTCC=ccache gcc"}}
	env := strings.Join(Env, " ")
	for _, c := range []struct{ arch, want string }{
		{"x86_64", "ARCH=x86_64 bzImage " + env + " CC=ccache gcc HOSTCC=ccache gcc"},
		{"i386", "ARCH=i386 bzImage " + env + " CC=ccache gcc HOSTCC=ccache gcc"},
		{"um", "ARCH=um linux " + env + " CC=ccache gcc HOSTCC=ccache gcc"},
		{"um-i386", "ARCH=um linux " + env + " CC=ccache gcc HOSTCC=ccache gcc SUBARCH=i386"},
	} {
		if got := strings.Join(makeFlags(Arches[c.arch], tc), " "); got != c.want {
			t.Errorf("%s: make flags\n got %s\nwant %s", c.arch, got, c.want)
		}
	}
}

// TestCheckM32: this host's gcc builds the 32-bit probe (make setup
// installs gcc-multilib); a compiler that cannot gives one line naming
// the arch, the compiler's first error and the packages to install.
func TestCheckM32(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc on this host")
	}
	if err := checkM32(context.Background(), "gcc", "um-i386"); err != nil {
		t.Errorf("gcc: %v (run make setup)", err)
	}
	fake := filepath.Join(t.TempDir(), "cc")
	script := "#!/bin/sh\ncat >/dev/null\necho '<stdin>:1:10: fatal error: asm/types.h: No such file or directory' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	err := checkM32(context.Background(), fake, "um-i386")
	if err == nil {
		t.Fatal("a failing compiler passed the check")
	}
	for _, want := range []string{"um-i386: ", "fatal error: asm/types.h", "apt-get install gcc-multilib libc6-dev-i386"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is not one line", err)
	}
}

func TestCheckBzImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := make([]byte, 4096)
	copy(good[0x202:], "HdrS")
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name    string
		content []byte // nil: a directory
		want    string
	}{
		{"bzImage", good, ""},
		{"passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"), "no \"HdrS\" boot header"},
		{"random", random, "no \"HdrS\" boot header"},
		{"dir", nil, "not a regular file"},
	} {
		p := filepath.Join(dir, tc.name)
		if tc.content == nil {
			os.Mkdir(p, 0o755)
		} else {
			os.WriteFile(p, tc.content, 0o644)
		}
		err := CheckBzImage(p)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := CheckBzImage(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing file passed")
	}
}

func TestBzImageVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	image := func(at uint16, s string) []byte {
		b := make([]byte, 8192)
		copy(b[0x202:], "HdrS")
		b[0x20E], b[0x20F] = byte(at), byte(at>>8)
		if 0x200+int(at) < len(b) {
			copy(b[0x200+int(at):], s)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		content []byte
		want    string // the release, or a part of the error
		ok      bool
	}{
		{"6.12", image(0x1000, "6.12.117 (ptvmlab@ptvmlab) #1 Mon Mar 16 00:00:00 UTC 2009\x00"), "6.12.117", true},
		{"2.6.29", image(0x300, "2.6.29\x00"), "2.6.29", true},
		{"no pointer", image(0, ""), "names no kernel version", false},
		{"garbage", image(0x300, "\x01\x02\x03"), "not readable", false},
		{"past the end", image(0xF000, ""), "not readable", false},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, tc.content, 0o644)
		got, err := BzImageVersion(p)
		switch {
		case tc.ok && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %q, %v; want an error with %q", tc.name, got, err, tc.want)
		}
	}
	// A real image from the cache, when one is there (the e2e tests build them).
	if imgs, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".cache/ptvmlab/build/*/bzImage")); len(imgs) > 0 {
		v, err := BzImageVersion(imgs[0])
		if err != nil || !regexp.MustCompile(`^\d+\.\d+`).MatchString(v) {
			t.Errorf("%s: %q, %v", imgs[0], v, err)
		}
	}
}

func TestCommonDir(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"/root/.cache/ptvmlab/tests/bisect/linux", "/root/.cache/ptvmlab/bisect/3c08-i386", "/root/.cache/ptvmlab"},
		{"/home/k/linux", "/home/k/linux/obj", "/home/k/linux"},
		{"/a/b", "/a/bc", "/a"},
		{"/tmp/x/linux", "/root/.cache/ptvmlab/bisect/y", "/"},
		{"/a/b/", "/a/b", "/a/b"},
	} {
		if got := commonDir(tc.a, tc.b); got != tc.want {
			t.Errorf("commonDir(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
