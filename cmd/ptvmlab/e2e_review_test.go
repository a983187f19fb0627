//go:build e2e

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EReview: a reviewer's run from the series directory (the stored
// form, checkpatch'd as posted by --signoff) and from an mbox of the mails
// as export --signoff posts them (checkpatch'd as they are) prints digests
// and passes; a second build of the same inputs in a fresh cache (other
// directories, no ccache, no kept kernel) gives the same kernel image
// digest: the builds are reproducible, and signing the mails changes no
// byte of the kernel.
func TestE2EReview(t *testing.T) {
	const fewTests = "ptvmlab.tests=probe,baseline,skipexit,skipcall"
	needDebianTree(t)
	fitBudget(t, 10*time.Minute) // --rebuild builds with no cache: 7m42s for i386
	fitBudget(t, 20*time.Minute, []string{"--arch", "i386"})
	stored := seriesDir(t, "6.12")
	posted := t.TempDir()
	if code, _, _ := ptvmlab(t, "patches", "export", "--kernel", "debian:6.12", "--series", stored, "--signoff", testPoster, "--out", posted); code != 0 {
		t.Fatalf("export --signoff: exit %d", code)
	}
	mails, err := filepath.Glob(filepath.Join(posted, "0*.patch"))
	if err != nil || len(mails) < 3 {
		t.Fatalf("export --signoff wrote %v (%v); want a cover letter and the patches", mails, err)
	}
	applied := fmt.Sprintf("apply: %d patches apply cleanly", len(mails)-1)
	var mbox strings.Builder
	for _, f := range mails {
		b, err := os.ReadFile(f)
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
		how    string
	}{
		{"dir", stored, []string{"--signoff", testPoster}, "checkpatch: checking the mails as " + testPoster + " posts them (from --signoff)"},
		// The mbox and the rebuild boot a few tests: what they prove is in
		// the digests, and a boot that selects no UML or kselftest test
		// builds neither, so the rebuild is of the kernel under review
		// alone (no ccache, no kept kernel): the smallest build that
		// still shows the image is reproducible.
		{"mbox", mbx, []string{"--append", fewTests}, "checkpatch: the mails as they were posted (an mbox)"},
		{"rebuild", stored, []string{"--rebuild", "--signoff", testPoster, "--append", fewTests}, "(from --signoff)"},
	} {
		out := t.TempDir()
		args := append([]string{"review", "--series", tc.series, "--arch", "i386", "--out", out}, tc.extra...)
		code, stdout, _ := ptvmlab(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d", tc.name, code)
		}
		for _, want := range []string{"source   sha256:", "patch    sha256:", ".config  sha256:", "image    sha256:", applied, ": clean", tc.how} {
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
