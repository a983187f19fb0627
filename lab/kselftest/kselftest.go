// Package kselftest builds the kernel's own selftests that concern ptrace and
// seccomp from the tree under test, static, 64- and 32-bit, for the guest:
// the tracer tests of PTRACE_SYSCALL, PTRACE_SYSEMU and single-stepping, the
// ptrace/ and seccomp/ selftests, and the series' own selftest. They run in
// the guest as the "kselftest" test, which must show no difference between a
// patched and an unpatched kernel except in the series' own test.
//
// The selftests are built from the tree with a series' changes to
// tools/testing/selftests laid over it: the series under test, or for the
// unpatched control the era's series, so that the test the series adds runs
// on the kernel without it too (and must skip there).
package kselftest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// GuestDir is where the selftests live in the guest; LeftOutFile, in it,
// lists the selftests the tree has that did not build, so that the guest
// reports them instead of silently running fewer. Both are the guest's
// contract (proto).
const (
	GuestDir    = proto.KselftestDir
	LeftOutFile = proto.KselftestLeftOut
)

// selftestsDir is where a kernel tree keeps its selftests.
const selftestsDir = "tools/testing/selftests"

// Test is one selftest program, as the directory's Makefile builds it.
type Test struct {
	Name string
	Dir  string // below tools/testing/selftests
	// Std is the C dialect the Makefile asks for ("" for the compiler's).
	Std string
	// Extra32 are more sources of the 32-bit build, in Dir.
	Extra32 []string
	// Libs are linked after the sources.
	Libs []string
}

// Tests are the selftests built, each 64- and 32-bit. syscall_skip is the
// series' own (patch 3); the others are the tree's.
var Tests = []Test{
	{Name: "ptrace_syscall", Dir: "x86", Std: "gnu99", Extra32: []string{"raw_syscall_helper_32.S"}},
	{Name: "single_step_syscall", Dir: "x86", Std: "gnu99"},
	{Name: "get_syscall_info", Dir: "ptrace", Std: "c99"},
	{Name: "peeksiginfo", Dir: "ptrace", Std: "c99"},
	{Name: "vmaccess", Dir: "ptrace", Std: "c99"},
	{Name: "get_set_sud", Dir: "ptrace", Std: "c99"},
	{Name: "set_syscall_info", Dir: "ptrace", Std: "c99"}, // 6.16 and later
	{Name: "syscall_skip", Dir: "ptrace", Std: "c99"},
	// The Makefile links with -Wl,-no-as-needed and -lcap; static, libcap.a
	// must exist for each word size (libcap-dev and libcap-dev:i386).
	{Name: "seccomp_bpf", Dir: "seccomp", Libs: []string{"-Wl,-no-as-needed", "-lpthread", "-lcap"}},
}

// Opts says which selftests to build, and for which guest.
type Opts struct {
	Cache cache.Dir
	// Tree is the kernel tree under test, without the series.
	Tree source.Tree
	// Series, when set, is applied over the tree's selftests, so that the
	// selftests a series adds or changes are built as it has them. The
	// unpatched control passes its era's series.
	Series *patch.Series
	// GOARCH is the guest's: amd64 gets the 64- and 32-bit builds, 386 the
	// 32-bit ones.
	GOARCH string
	// Gate, when set, is held while the selftests compile (a cache miss
	// only): the lab's builds take turns (kbuild.Request.Gate).
	Gate sync.Locker
}

// Files builds (or finds in the cache) the selftests of o and returns them
// as initramfs files under GuestDir: NAME_BITS for each that built and, when
// any the tree has did not build, LeftOutFile. A tree without selftests (the
// 2.6 era) gives none.
func Files(ctx context.Context, o Opts) ([]initramfs.File, error) {
	src, srcKey, err := sources(ctx, o)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(src, selftestsDir)); err != nil {
		slog.Info("kernel selftests: the tree has none", "tree", o.Tree.Version)
		return nil, nil
	}
	hdr, err := headers(ctx, o.Cache, o.Tree)
	if err != nil {
		return nil, err
	}
	bits := []int{32}
	if o.GOARCH == "amd64" {
		bits = []int{64, 32}
	}
	tc, err := toolchain(ctx, o.Cache, bits)
	if err != nil {
		return nil, err
	}
	key := cache.Key("kselftest/2", srcKey, o.Tree.Digest, o.GOARCH, tc, recipe(bits))
	dir, err := o.Cache.Fill("kselftest", key, func(tmp string) error {
		if o.Gate != nil {
			o.Gate.Lock()
			defer o.Gate.Unlock()
		}
		var leftOut []string
		for _, t := range Tests {
			if !t.inTree(src) {
				continue
			}
			for _, b := range bits {
				if err := compile(ctx, src, hdr, t, b, tmp); err != nil {
					slog.Warn("kernel selftest left out", "test", t.Name, "bits", b, "why", err)
					leftOut = append(leftOut, fmt.Sprintf("%s_%d: %v", t.Name, b, err))
				}
			}
		}
		if len(leftOut) == 0 {
			return nil
		}
		return os.WriteFile(filepath.Join(tmp, LeftOutFile), []byte(strings.Join(leftOut, "\n")+"\n"), 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("kernel selftests: %w", err)
	}
	names, err := cache.EntryFiles(dir)
	if err != nil {
		return nil, err
	}
	var files []initramfs.File
	for _, n := range names {
		files = append(files, initramfs.File{Src: filepath.Join(dir, n), Dst: GuestDir + "/" + n})
	}
	return files, nil
}

func (t Test) inTree(src string) bool {
	_, err := os.Stat(filepath.Join(src, selftestsDir, t.Dir, t.Name+".c"))
	return err == nil
}

// SelftestPatches lists the patches of s that change tools/testing/selftests.
func SelftestPatches(s *patch.Series) []patch.Patch {
	if s == nil {
		return nil
	}
	var out []patch.Patch
	for _, p := range s.Patches {
		if touchesSelftests(p.Raw) {
			out = append(out, p)
		}
	}
	return out
}

func touchesSelftests(raw []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "+++ b/"); ok && strings.HasPrefix(f, selftestsDir+"/") {
			return true
		}
	}
	return false
}

// sources returns the root of a tree whose tools/testing/selftests are the
// ones to build, and a key naming them. Without a series that changes them
// it is the tree itself. Otherwise it is a copy of the tree's selftests
// and of every file the series touches, with the series applied: GNU patch
// needs all of a patch's files, and a patch may change the kernel and its
// selftests at once.
func sources(ctx context.Context, o Opts) (string, string, error) {
	ps := SelftestPatches(o.Series)
	if len(ps) == 0 {
		return o.Tree.Dir, "tree", nil
	}
	parts := []string{"kselftest-src/1", o.Tree.Digest}
	for _, p := range o.Series.Patches {
		parts = append(parts, p.Name, p.Digest)
	}
	key := cache.Key(parts...)
	dir, err := o.Cache.Fill("kselftest-src", key, func(tmp string) error {
		from := filepath.Join(o.Tree.Dir, selftestsDir)
		if _, err := os.Stat(from); err == nil {
			to := filepath.Join(tmp, selftestsDir)
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return err
			}
			if err := source.CopyTreeContents(from, to); err != nil {
				return err
			}
		}
		for _, f := range patch.Touched(o.Series) {
			from := filepath.Join(o.Tree.Dir, f)
			if _, err := os.Stat(from); err != nil {
				continue // a file the series creates
			}
			to := filepath.Join(tmp, f)
			if _, err := os.Stat(to); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return err
			}
			if err := cache.CopyFile(from, to); err != nil {
				return err
			}
			if err := os.Chmod(to, 0o644); err != nil {
				return err
			}
		}
		if err := patch.Apply(ctx, tmp, o.Series, patch.Options{}); err != nil {
			return fmt.Errorf("the series' selftests: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("kernel selftests from %s: %w", o.Series.Dir, err)
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	slog.Info("kernel selftests: with the series' changes", "series", o.Series.Dir, "patches", strings.Join(names, ","))
	return dir, key, nil
}

// headers installs the tree's UAPI headers for x86 (the kselftest Makefiles'
// KHDR_INCLUDES), once per tree. They serve both word sizes: asm/unistd.h
// picks unistd_32.h or unistd_64.h. Building against them, not the host's
// linux-libc-dev, gives each tree's selftests the constants they were
// written for, and needs no /usr/include/asm for -m32 (gcc-multilib's link,
// gone wherever a cross gcc replaced it).
func headers(ctx context.Context, c cache.Dir, tree source.Tree) (string, error) {
	dir, err := c.Fill("khdr", cache.Key("khdr/1", tree.Digest), func(tmp string) error {
		obj := filepath.Join(tmp, "obj")
		cmd := proc.Command(ctx, "make", "-s", "-C", tree.Dir, "O="+obj, "ARCH=x86",
			"INSTALL_HDR_PATH="+filepath.Join(tmp, "usr"), "headers_install")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("make headers_install in %s: %w: %s", tree.Dir, err, lastLines(out, 3))
		}
		return cache.RemoveAll(obj)
	})
	if err != nil {
		return "", fmt.Errorf("kernel selftests: %w", err)
	}
	return filepath.Join(dir, "usr", "include"), nil
}

// toolchain names what decides the builds besides the sources: the compiler
// and the static libraries the selftests link, per word size. A library
// installed later (libcap-dev:i386) then builds what was left out.
func toolchain(ctx context.Context, c cache.Dir, bits []int) (string, error) {
	out, err := proc.OutputOnce(ctx, "gcc", "--version")
	if err != nil {
		return "", fmt.Errorf("kernel selftests need gcc: %w", err)
	}
	parts := []string{proc.FirstLine(out)}
	for _, b := range bits {
		for _, lib := range []string{"libc.a", "libpthread.a", "libcap.a"} {
			p, err := proc.OutputOnce(ctx, "gcc", fmt.Sprintf("-m%d", b), "-print-file-name="+lib)
			if err != nil {
				return "", fmt.Errorf("gcc -m%d -print-file-name=%s: %w", b, lib, err)
			}
			parts = append(parts, fmt.Sprintf("%d:%s:%s", b, lib, fileDigest(c, strings.TrimSpace(string(p)))))
		}
	}
	return cache.Key(parts...), nil
}

// Args returns gcc's arguments for t at bits from the tree at src with the
// installed headers hdr, writing out/NAME_BITS.
func Args(src, hdr string, t Test, bits int, out string) []string {
	dir := filepath.Join(src, selftestsDir, t.Dir)
	// The prefix map names sources in assertion messages (__FILE__) from
	// the tree's top, not by their place in the cache.
	args := []string{"-O2", "-pthread", "-static", "-no-pie", fmt.Sprintf("-m%d", bits), "-ffile-prefix-map=" + src + "/="}
	if t.Std != "" {
		args = append(args, "-std="+t.Std)
	}
	// -I the selftests' top, as lib.mk has it: newer trees (7.3) have the tests
	// include "kselftest_harness.h" and "kselftest.h" from there, not
	// "../kselftest_harness.h"; older trees find nothing new on it.
	args = append(args, "-I", filepath.Join(src, selftestsDir))
	args = append(args, "-isystem", hdr, "-o", filepath.Join(out, fmt.Sprintf("%s_%d", t.Name, bits)),
		filepath.Join(dir, t.Name+".c"))
	if bits == 32 {
		for _, s := range t.Extra32 {
			args = append(args, filepath.Join(dir, s))
		}
	}
	return append(args, t.Libs...)
}

// recipe is every gcc command line Files may run, with placeholders for
// the paths: a change to Tests or to the flags names new builds.
func recipe(bits []int) string {
	var b strings.Builder
	for _, t := range Tests {
		for _, n := range bits {
			fmt.Fprintln(&b, strings.Join(Args("SRC", "HDR", t, n, "OUT"), " "))
		}
	}
	return b.String()
}

func compile(ctx context.Context, src, hdr string, t Test, bits int, out string) error {
	o, err := proc.Command(ctx, "gcc", Args(src, hdr, t, bits, out)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, firstError(o))
	}
	return nil
}

// firstError is gcc's first error line, or its last line when it printed
// none (a linker failure).
func firstError(out []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "error:") || strings.Contains(l, "cannot find") {
			return strings.TrimSpace(l)
		}
	}
	return lastLines(out, 1)
}

// fileDigest names the content of the file at path for a key: its sha256
// (kept in c), "absent" or "unreadable".
func fileDigest(c cache.Dir, path string) string {
	sum, err := c.FileSHA256Kept(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "absent"
	case err != nil:
		return "unreadable"
	}
	return sum
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Build is Files without a series: the tree's own selftests only. lab/cell
// calls Files with the cell's series (the era's for the unpatched control)
// to build the series' selftest too.
func Build(ctx context.Context, c cache.Dir, tree source.Tree, goarch string) ([]initramfs.File, error) {
	return Files(ctx, Opts{Cache: c, Tree: tree, GOARCH: goarch})
}
