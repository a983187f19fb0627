// Package kselftest builds the kernel's own ptrace selftests from the tree
// under test, static, for the guest: the tracer tests that exist for
// PTRACE_SYSCALL, PTRACE_SYSEMU and single-stepping must still pass on a
// patched kernel. They run in the guest as the "kselftest" test.
package kselftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ptvmlab/ptvmlab/initramfs"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// GuestDir is where the selftests live in the guest.
const GuestDir = "/kselftest"

// test is one selftest program: its sources below the tree, and the
// word sizes it is built for.
type test struct {
	name    string
	dir     string
	sources []string
	bits    []int
}

var tests = []test{
	{"ptrace_syscall", "tools/testing/selftests/x86", []string{"ptrace_syscall.c"}, []int{64, 32}},
	{"single_step_syscall", "tools/testing/selftests/x86", []string{"single_step_syscall.c"}, []int{64, 32}},
	{"get_syscall_info", "tools/testing/selftests/ptrace", []string{"get_syscall_info.c"}, []int{64, 32}},
}

// Build compiles the selftests the tree has for a guest of goarch (amd64
// gets the 64- and 32-bit builds, 386 the 32-bit ones) and returns them as
// initramfs files. A selftest the tree lacks, or that does not build with
// this toolchain, is left out with a log line saying so.
func Build(ctx context.Context, c cache.Dir, tree source.Tree, goarch string) ([]initramfs.File, error) {
	bitsWanted := map[int]bool{32: true, 64: goarch == "amd64"}
	key := digest(tree.Digest, goarch, "kselftest/1")
	dir, err := c.Fill("kselftest", key, func(tmp string) error {
		for _, t := range tests {
			for _, bits := range t.bits {
				if !bitsWanted[bits] {
					continue
				}
				if err := compile(ctx, tree.Dir, t, bits, tmp); err != nil {
					slog.Warn("kernel selftest left out", "test", t.name, "bits", bits, "why", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []initramfs.File
	for _, e := range ents {
		files = append(files, initramfs.File{Src: filepath.Join(dir, e.Name()), Dst: GuestDir + "/" + e.Name()})
	}
	return files, nil
}

func compile(ctx context.Context, tree string, t test, bits int, out string) error {
	var srcs []string
	for _, s := range t.sources {
		p := filepath.Join(tree, t.dir, s)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("not in this tree")
		}
		srcs = append(srcs, p)
	}
	if t.name == "ptrace_syscall" && bits == 32 {
		srcs = append(srcs, filepath.Join(tree, t.dir, "raw_syscall_helper_32.S"))
	}
	bin := filepath.Join(out, fmt.Sprintf("%s_%d", t.name, bits))
	args := append([]string{"-O2", "-std=gnu99", "-pthread", "-static", "-no-pie", fmt.Sprintf("-m%d", bits),
		"-isystem", filepath.Join(tree, "tools", "include", "uapi"), "-I", filepath.Join(tree, "tools", "testing", "selftests"),
		"-o", bin}, srcs...)
	cmd := exec.CommandContext(ctx, "gcc", args...)
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, firstLine(o))
	}
	return nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
