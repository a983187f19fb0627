//go:build amd64 || 386

package suite

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == CloneGuardFlag {
		RunCloneGuard(os.Args[2:])
	}
	os.Exit(m.Run())
}

// TestCloneGuard, on the host's kernel: a guarded Go program (its runtime
// makes threads with clone(CLONE_THREAD)) is seen, and runs to its end;
// a guarded single-threaded program is not seen.
func TestCloneGuard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		threads bool
	}{
		{"go program", []string{os.Args[0], "-test.run=^$"}, true},
		{"single-threaded", []string{"/bin/sh", "-c", "exit 0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newCloneGuard()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], append([]string{CloneGuardFlag}, tc.args...)...)
			cmd.ExtraFiles = g.Files()
			go g.serve()
			out, err := cmd.CombinedOutput()
			threads, why := g.Stop()
			if why != "" {
				t.Skipf("no clone guard on this kernel: %s", why)
			}
			if err != nil {
				t.Fatalf("the guarded command failed: %v: %s", err, out)
			}
			t.Logf("guard saw %d: %.200s", len(threads), strings.Join(threads, "; "))
			if got := len(threads) > 0; got != tc.threads {
				t.Errorf("guard saw %q; want threads: %v", threads, tc.threads)
			}
			for _, s := range threads {
				if !strings.Contains(s, "called clone(flags=") {
					t.Errorf("report %q", s)
				}
			}
		})
	}
}
