package suite

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// KselftestDir holds the kernel's own ptrace selftests, built static by the
// host from the tree under test.
const KselftestDir = "/kselftest"

// testKselftest runs each of the kernel's ptrace selftests as a subtest: the
// tracer tests that exist for PTRACE_SYSCALL, PTRACE_SYSEMU and
// single-stepping must not regress on a patched kernel.
func testKselftest(t *T) {
	ents, err := os.ReadDir(KselftestDir)
	if err != nil || len(ents) == 0 {
		t.Skipf("no kernel selftests in the image (%s)", KselftestDir)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *T) {
			// No timeout here: the guest's clock is not to be trusted under
			// TCG; the host's boot limit ends a selftest that hangs.
			out, err := runWatched(t, n, exec.Command(filepath.Join(KselftestDir, n)))
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err != nil {
				for _, l := range lines {
					t.Logf("%s", l)
				}
				t.Errorf("%s: %v", n, err)
				return
			}
			t.Result(lastLine(lines))
		})
	}
}

func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	l := strings.TrimSpace(lines[len(lines)-1])
	return strings.ReplaceAll(l, "#", "")
}
