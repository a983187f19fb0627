//go:build e2e

package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2EBootImage: ptvmlab boot takes a kernel built elsewhere as a plan
// with a given kernel and no tree: the image's own version picks the era
// (and so the results channel: hvc0 before 2.6.35), the guest is told it
// has no UML (the uml test skips and says why, instead of failing on a
// missing /uml/linux), and the record names the image's release.
func TestE2EBootImage(t *testing.T) {
	needDebianTree(t)
	fitBudget(t, 13*time.Minute, []string{"--arch", "x86_64"})
	kernels := []struct{ name, version string }{{"6.12", "6.12."}, {"2.6.29", "2.6.29"}}
	imageRe := regexp.MustCompile(`: (\S+/bzImage) \(`)
	for _, k := range kernels {
		t.Run(k.name, func(t *testing.T) {
			args := []string{"build", "--arch", "x86_64"}
			if k.name == "2.6.29" {
				args = append(args, "--kernel", linux2629(t)) // or a skip that says why
			}
			code, stdout, _ := ptvmlab(t, args...)
			m := imageRe.FindStringSubmatch(stdout)
			if code != 0 || m == nil {
				t.Fatalf("build: exit %d, no image in %q", code, stdout)
			}
			out := t.TempDir()
			code, stdout, _ = ptvmlab(t, "boot", "--arch", "x86_64", "--image", m[1], "--out", out,
				"--append", "ptvmlab.tests=probe,skipcall,uml")
			r := readRun(t, out)
			if code != 0 || len(r.Boots) != 1 {
				t.Fatalf("boot: exit %d, %d boots\n%s", code, len(r.Boots), stdout)
			}
			b := r.Boots[0]
			got := map[string]string{}
			for _, x := range b.Tests {
				got[x.Name] = x.Status
			}
			if b.Status != "passed" || b.Probe != "skipcall" || !strings.HasPrefix(b.Version, k.version) ||
				got["skipcall"] != "pass" || got["uml"] != "skip" || b.Build == nil || !b.Build.Given {
				t.Errorf("status %s probe %q version %q tests %v (%s)", b.Status, b.Probe, b.Version, got, b.Title)
			}
		})
	}
}
