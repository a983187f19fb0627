//go:build e2e

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EReview: a reviewer's run from the series directory and from an
// mbox of it prints digests and passes; a second build of the same inputs
// in a fresh cache (other directories, no ccache, no kept kernel) gives
// the same kernel image digest: the builds are reproducible.
func TestE2EReview(t *testing.T) {
	needDebianTree(t)
	var mbox strings.Builder
	for _, f := range []string{"0000-cover-letter.patch", "0001-ptrace-add-PTRACE_SYSCALL_SKIPCALL-and-PTRACE_SYSCAL.patch",
		"0002-um-use-PTRACE_SYSCALL_SKIPCALL-on-the-host-when-avai.patch"} {
		b, err := os.ReadFile(filepath.Join("../../patches/6.12", f))
		if err != nil {
			t.Fatal(err)
		}
		mbox.Write(b)
		mbox.WriteString("\n")
	}
	mbx := filepath.Join(t.TempDir(), "ptrace-vm.mbx")
	os.WriteFile(mbx, []byte(mbox.String()), 0o644)

	digest := map[string]string{}
	for _, tc := range []struct {
		name   string
		series string
		extra  []string
	}{
		{"dir", "../../patches/6.12", nil},
		{"mbox", mbx, nil},
		{"rebuild", "../../patches/6.12", []string{"--rebuild"}},
	} {
		out := t.TempDir()
		args := append([]string{"review", "--series", tc.series, "--arch", "i386", "--out", out}, tc.extra...)
		code, stdout, _ := ptvmlab(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d", tc.name, code)
		}
		for _, want := range []string{"source   sha256:", "patch    sha256:", ".config  sha256:", "image    sha256:", "apply: 2 patches apply cleanly", ": clean"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: output lacks %q", tc.name, want)
			}
		}
		r := readRun(t, out)
		if len(r.Boots) != 1 || r.Boots[0].Digests == nil || r.Boots[0].Digests.Image == "" {
			t.Fatalf("%s: no image digest in results.json", tc.name)
		}
		digest[tc.name] = r.Boots[0].Digests.Image
		if tc.name == "rebuild" && r.Boots[0].Build.Cached {
			t.Errorf("--rebuild found a kept kernel instead of building")
		}
	}
	if digest["dir"] != digest["mbox"] || digest["dir"] != digest["rebuild"] {
		t.Errorf("image digests differ: %v", digest)
	}
}
