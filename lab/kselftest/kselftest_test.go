package kselftest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/guesttests/suite"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

func TestGuestNamesAgree(t *testing.T) {
	t.Parallel()
	if GuestDir != suite.KselftestDir || LeftOutFile != suite.KselftestLeftOut {
		t.Errorf("host puts selftests at %s (left out: %s), the guest reads %s (%s)", GuestDir, LeftOutFile, suite.KselftestDir, suite.KselftestLeftOut)
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	byName := map[string]Test{}
	for _, tc := range Tests {
		byName[tc.Name] = tc
	}
	for _, tc := range []struct {
		test string
		bits int
		want string
	}{
		{"syscall_skip", 64, "-O2 -pthread -static -no-pie -m64 -ffile-prefix-map=/s/= -std=c99 -I /s/tools/testing/selftests -isystem /h -o /o/syscall_skip_64 /s/tools/testing/selftests/ptrace/syscall_skip.c"},
		{"ptrace_syscall", 32, "-O2 -pthread -static -no-pie -m32 -ffile-prefix-map=/s/= -std=gnu99 -I /s/tools/testing/selftests -isystem /h -o /o/ptrace_syscall_32 " +
			"/s/tools/testing/selftests/x86/ptrace_syscall.c /s/tools/testing/selftests/x86/raw_syscall_helper_32.S"},
		{"ptrace_syscall", 64, "-O2 -pthread -static -no-pie -m64 -ffile-prefix-map=/s/= -std=gnu99 -I /s/tools/testing/selftests -isystem /h -o /o/ptrace_syscall_64 /s/tools/testing/selftests/x86/ptrace_syscall.c"},
		{"seccomp_bpf", 32, "-O2 -pthread -static -no-pie -m32 -ffile-prefix-map=/s/= -I /s/tools/testing/selftests -isystem /h -o /o/seccomp_bpf_32 " +
			"/s/tools/testing/selftests/seccomp/seccomp_bpf.c -Wl,-no-as-needed -lpthread -lcap"},
	} {
		if got := strings.Join(Args("/s", "/h", byName[tc.test], tc.bits, "/o"), " "); got != tc.want {
			t.Errorf("%s %d:\n got %s\nwant %s", tc.test, tc.bits, got, tc.want)
		}
	}
}

// A series as the repo keeps one: patch 1 changes the kernel, patch 2 adds
// a selftest and changes the kernel and the selftests' Makefile at once.
const (
	kernelPatch = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A U Thor <a@example.org>
Date: Thu, 26 Nov 2026 12:00:00 +0000
Subject: [PATCH 1/2] ptrace: one

Why.
---
diff --git a/kernel/ptrace.c b/kernel/ptrace.c
--- a/kernel/ptrace.c
+++ b/kernel/ptrace.c
@@ -1 +1 @@
-int ptrace;
+int ptrace_vm;
`
	selftestPatch = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A U Thor <a@example.org>
Date: Thu, 26 Nov 2026 12:01:00 +0000
Subject: [PATCH 2/2] selftests/ptrace: two

Why.
---
diff --git a/kernel/ptrace.c b/kernel/ptrace.c
--- a/kernel/ptrace.c
+++ b/kernel/ptrace.c
@@ -1 +1 @@
-int ptrace_vm;
+int ptrace_vm2;
diff --git a/tools/testing/selftests/ptrace/Makefile b/tools/testing/selftests/ptrace/Makefile
--- a/tools/testing/selftests/ptrace/Makefile
+++ b/tools/testing/selftests/ptrace/Makefile
@@ -1 +1 @@
-TEST_GEN_PROGS := vmaccess
+TEST_GEN_PROGS := vmaccess syscall_skip
diff --git a/tools/testing/selftests/ptrace/syscall_skip.c b/tools/testing/selftests/ptrace/syscall_skip.c
new file mode 100644
--- /dev/null
+++ b/tools/testing/selftests/ptrace/syscall_skip.c
@@ -0,0 +1 @@
+int main(void) { return 0; }
`
)

// writeTree makes a small read-only kernel tree, as the cache keeps one.
func writeTree(t *testing.T) source.Tree {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	for f, s := range map[string]string{
		"kernel/ptrace.c":                             "int ptrace;\n",
		"tools/testing/selftests/ptrace/Makefile":     "TEST_GEN_PROGS := vmaccess\n",
		"tools/testing/selftests/ptrace/vmaccess.c":   "int main(void) { return 0; }\n",
		"tools/testing/selftests/kselftest_harness.h": "\n",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return source.Tree{Dir: dir, Digest: "sha256:test", Version: "6.12.0"}
}

func writeSeries(t *testing.T, patches ...string) *patch.Series {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for i, p := range patches {
		n := filepath.Join(dir, string(rune('1'+i))+".patch")
		if err := os.WriteFile(n, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(n))
	}
	if err := os.WriteFile(filepath.Join(dir, "series"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := patch.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSelftestPatches(t *testing.T) {
	t.Parallel()
	s := writeSeries(t, kernelPatch, selftestPatch)
	var got []string
	for _, p := range SelftestPatches(s) {
		got = append(got, p.Name)
	}
	if !reflect.DeepEqual(got, []string{"2.patch"}) {
		t.Errorf("selftest patches %v, want [2.patch]", got)
	}
	if SelftestPatches(nil) != nil || SelftestPatches(writeSeries(t, kernelPatch)) != nil {
		t.Errorf("a series without selftest changes has selftest patches")
	}
}

func TestSources(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tree := writeTree(t)
	c := cache.Dir(t.TempDir())

	dir, key, err := sources(ctx, Opts{Cache: c, Tree: tree, Series: writeSeries(t, kernelPatch)})
	if err != nil || dir != tree.Dir || key != "tree" {
		t.Fatalf("a series that leaves the selftests alone: %s %s %v; want the tree itself", dir, key, err)
	}

	full := writeSeries(t, kernelPatch, selftestPatch)
	dir, key, err = sources(ctx, Opts{Cache: c, Tree: tree, Series: full})
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"tools/testing/selftests/ptrace/syscall_skip.c": "int main(void) { return 0; }\n",
		"tools/testing/selftests/ptrace/Makefile":       "TEST_GEN_PROGS := vmaccess syscall_skip\n",
		"tools/testing/selftests/ptrace/vmaccess.c":     "int main(void) { return 0; }\n",
		"tools/testing/selftests/kselftest_harness.h":   "\n",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", f, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(tree.Dir, "tools/testing/selftests/ptrace/syscall_skip.c")); err == nil {
		t.Errorf("the tree itself was patched")
	}
	again, key2, err := sources(ctx, Opts{Cache: c, Tree: tree, Series: full})
	if err != nil || again != dir || key2 != key {
		t.Errorf("the same series again: %s %s %v; want the cached %s %s", again, key2, err, dir, key)
	}

	// Another version of the selftest is another source, under another key.
	changed := writeSeries(t, kernelPatch, strings.Replace(selftestPatch, "return 0;", "return 1;", 1))
	dir3, key3, err := sources(ctx, Opts{Cache: c, Tree: tree, Series: changed})
	if err != nil || key3 == key || dir3 == dir {
		t.Errorf("a changed selftest: %s %s %v; want a new entry", dir3, key3, err)
	}
}

func TestSourcesSeriesDoesNotApply(t *testing.T) {
	t.Parallel()
	tree := writeTree(t)
	bad := writeSeries(t, kernelPatch, strings.Replace(selftestPatch, "-TEST_GEN_PROGS := vmaccess", "-TEST_GEN_PROGS := other", 1))
	_, _, err := sources(context.Background(), Opts{Cache: cache.Dir(t.TempDir()), Tree: tree, Series: bad})
	if err == nil || !strings.Contains(err.Error(), "Makefile") {
		t.Errorf("a series that does not apply: %v; want an error naming the file", err)
	}
}
