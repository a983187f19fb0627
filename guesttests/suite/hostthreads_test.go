package suite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     procStatus
	}{
		{"uml userspace", "Name:\tinit\nState:\tt (tracing stop)\nTgid:\t80\nTracerPid:\t77\nThreads:\t1\n", procStatus{"init", 1, 77}},
		{"escaped", "Name:\tinit\nTracerPid:\t77\nUid:\t0\t0\t0\t0\nThreads:\t2\n", procStatus{"init", 2, 77}},
		{"untraced", "Name:\tlinux\nTracerPid:\t0\nThreads:\t3\n", procStatus{"linux", 3, 0}},
		{"2.6.29 spacing", "Name:\tinit\nTracerPid:\t77\nThreads:\t1\n", procStatus{"init", 1, 77}},
		{"garbage", "Threads:\tmany\nTracerPid\n", procStatus{}},
		{"empty", "", procStatus{}},
	} {
		if got := parseProcStatus([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add([]byte("Name:\tinit\nTracerPid:\t77\nThreads:\t2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st := parseProcStatus(b)
		if st.threads != 0 && !strings.Contains(string(b), "Threads:") {
			t.Errorf("threads %d from no Threads line", st.threads)
		}
	})
}

// writeProc makes a fake /proc with the given status files by pid.
func writeProc(t *testing.T, status map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, s := range status {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "status"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestTracedProcesses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status map[string]string
		want   string
	}{
		{"uml as it should be", map[string]string{
			"77": "Name:\tlinux\nTracerPid:\t0\nThreads:\t4\n", // UML's kernel and its helper threads
			"80": "Name:\tinit\nTracerPid:\t77\nThreads:\t1\n",
			"81": "Name:\tptvm-tests\nTracerPid:\t77\nThreads:\t1\n",
		}, ""},
		{"escape", map[string]string{
			"77": "Name:\tlinux\nTracerPid:\t0\nThreads:\t4\n",
			"81": "Name:\tptvm-tests\nTracerPid:\t77\nThreads:\t2\n",
		}, "process 81 (ptvm-tests), traced by 77, had 2 threads"},
		{"not a pid", map[string]string{"self": "Name:\tx\nTracerPid:\t1\nThreads:\t2\n"}, ""},
	} {
		if _, got := tracedProcesses(writeProc(t, tc.status)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWatchTracedThreads: a second thread that comes and goes in a known
// traced process between full listings is caught by the quick sample.
func TestWatchTracedThreads(t *testing.T) {
	t.Parallel()
	root := writeProc(t, map[string]string{"80": "Name:\tinit\nTracerPid:\t77\nThreads:\t1\n"})
	os.MkdirAll(filepath.Join(root, "80", "task", "80"), 0o755)
	w := watchTracedThreads(root, 2*time.Millisecond)
	time.Sleep(10 * time.Millisecond) // the first full listing
	p := filepath.Join(root, "80", "status")
	os.WriteFile(p, []byte("Name:\tinit\nTracerPid:\t77\nThreads:\t2\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "80", "task", "81"), 0o755)
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(p, []byte("Name:\tinit\nTracerPid:\t77\nThreads:\t1\n"), 0o644)
	os.Remove(filepath.Join(root, "80", "task", "81"))
	found, n := w.Stop()
	if found != "process 80 (init), traced by 77, had 2 threads" || n < 2 {
		t.Errorf("found %q in %d samples", found, n)
	}
	if found, _ := watchTracedThreads(root, time.Hour).Stop(); found != "" {
		t.Errorf("a clean /proc: found %q", found)
	}
}
