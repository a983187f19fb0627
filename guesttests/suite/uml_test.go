package suite

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestProbeVerdict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, out, want string }{
		{"6.12", "Checking syscall emulation for ptrace...OK\nChecking ptrace new tags for syscall emulation...OK\nok 1", "OK"},
		{"disabled", "Checking ptrace new tags for syscall emulation...OK (disabled)\n", "OK (disabled)"},
		{"unsupported", "Checking ptrace new tags for syscall emulation...unsupported\n", "unsupported"},
		{"no marker", "Checking syscall emulation for ptrace...OK\n", ""},
		{"7.3 seccomp", "Checking that seccomp filters can be installed...OK\nChecking ptrace new tags for syscall emulation...not used (seccomp)\n", "not used (seccomp)"},
		{"seccomp interleaved", "Checking ptrace new tags for syscall emulation...Core dump limits :\n\tsoft - 0\nnot used (seccomp)\n", "not used (seccomp)"},
		{"2.6.29 interleaved", "Checking advanced syscall emulation patch for ptrace...OK\n" +
			"Checking ptrace new tags for syscall emulation...Core dump limits :\n\tsoft - 0\n\thard - NONE\nOK\n" +
			"Checking for the skas3 patch in the host:\n  - /proc/mm...not found\nOK\n", "OK"},
		{"2.6.29 interleaved disabled", "Checking ptrace new tags for syscall emulation...Core dump limits :\n\tsoft - 0\nOK (disabled)\n", "OK (disabled)"},
	} {
		if got := probeVerdict([]byte(tc.out)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzProbeVerdict(f *testing.F) {
	f.Add([]byte("Checking ptrace new tags for syscall emulation...OK\n"))
	f.Add([]byte("Checking ptrace new tags for syscall emulation..."))
	f.Add([]byte("Checking ptrace new tags for syscall emulation...\n\n\nOK (disabled)"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = probeVerdict(b)
	})
}

func TestUMLTail(t *testing.T) {
	t.Parallel()
	out := "Checking...OK\nok 1 probe\n# took 1s\nok 13 sysemu_refused\nreboot: System halted\nAborted\n"
	if got := string(umlTail([]byte(out))); got != "reboot: System halted\nAborted\n" {
		t.Errorf("tail %q", got)
	}
	if got := string(umlTail([]byte("no ktap\n"))); got != "no ktap\n" {
		t.Errorf("no KTAP: %q", got)
	}
}

func FuzzUMLTail(f *testing.F) {
	f.Add([]byte("ok 1 a\nAborted\n"))
	f.Add([]byte("\n\n# x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tail := umlTail(b); len(tail) > len(b) {
			t.Fatalf("tail longer than the output")
		}
	})
}

func TestPoweredDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out  string
		want bool
	}{
		{"ok 13 sysemu_refused\nptvmlab-init: done\nreboot: Power down\n", true},
		{"ok 13 sysemu_refused\nSystem halted.\n", true},
		{"reboot: Power down\nok 13 sysemu_refused\nKernel panic - not syncing\n", false},
		{"ok 1 a\n", false},
	} {
		if got := poweredDown([]byte(tc.out)); got != tc.want {
			t.Errorf("poweredDown(%q) = %v", tc.out, got)
		}
	}
}

// TestUMLBenchBoots: the boots uml_bench names exist in umlBoots.
func TestUMLBenchBoots(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"default", "usesysemu", "seccomp"} {
		if b := umlBootNamed(name); b.name != name {
			t.Errorf("umlBootNamed(%q) = %q", name, b.name)
		}
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	many := func(prefix string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s %d\n", prefix, i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, out string
		n         int
		want      []string
	}{
		{"short", "a\nb\n", 15, []string{"a", "b"}},
		{"tail", many("l", 5), 2, []string{"l 3", "l 4"}},
		{"panic kept in front", "boot\nKernel panic - not syncing: VFS\n" + many("stack", 4), 2,
			[]string{"Kernel panic - not syncing: VFS", "...", "stack 2", "stack 3"}},
		{"panic already in the tail", many("l", 3) + "Kernel panic - x\nstack\n", 2, []string{"Kernel panic - x", "stack"}},
	} {
		if got := lastLines([]byte(tc.out), tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
