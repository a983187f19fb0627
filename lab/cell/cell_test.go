package cell

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/era"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/report"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

func TestResultsVia(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	with := filepath.Join(dir, "with")
	without := filepath.Join(dir, "without")
	os.WriteFile(with, []byte("CONFIG_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\nCONFIG_X=y\n"), 0o644)
	os.WriteFile(without, []byte("CONFIG_PCI=y\n# CONFIG_VIRTIO_CONSOLE is not set\n"), 0o644)
	first := filepath.Join(dir, "first")
	os.WriteFile(first, []byte("CONFIG_VIRTIO_CONSOLE=y\n"), 0o644)
	old, _ := era.For("2.6.29")
	modern, _ := era.For("6.12")
	for _, tc := range []struct {
		prof   era.Profile
		config string
		want   proto.Channel
	}{
		{modern, with, "port"},
		{modern, first, "port"}, // the option on the file's first line
		{old, with, "hvc"},
		{modern, without, "serial"},
		{old, without, "serial"},
		{modern, filepath.Join(dir, "missing"), "port"},
	} {
		if got := ResultsVia(tc.prof, tc.config); got != tc.want {
			t.Errorf("ResultsVia(%s, %s) = %s, want %s", tc.prof.ResultsVia, filepath.Base(tc.config), got, tc.want)
		}
	}
}

// TestKeepAndReuse: a kept record comes back with its console, KTAP and
// the console of a retried KVM attempt, copied into the new output dir.
func TestKeepAndReuse(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	src := t.TempDir()
	for name, body := range map[string]string{"console.log": "tcg console", "results.raw": "KTAP version 1", "console.kvm.log": "kvm console"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := report.Boot{Status: "passed", Accel: "tcg", ConsoleLog: filepath.Join(src, "console.log"), ResultsRaw: filepath.Join(src, "results.raw"),
		Attempts: []vm.Attempt{{Accel: "kvm", Why: "silent for 30s after: x", ConsoleLog: filepath.Join(src, "console.kvm.log")}}}
	keep(c, "cafe", rec)
	out := t.TempDir()
	got, ok := reuse(c, "cafe", out)
	if !ok || !got.Reused || len(got.Attempts) != 1 {
		t.Fatalf("reuse = %+v, %v", got, ok)
	}
	for path, want := range map[string]string{got.ConsoleLog: "tcg console", got.ResultsRaw: "KTAP version 1", got.Attempts[0].ConsoleLog: "kvm console"} {
		b, err := os.ReadFile(path)
		if err != nil || string(b) != want || filepath.Dir(path) != out {
			t.Errorf("%s: %q %v, want %q in %s", path, b, err, want, out)
		}
	}
}

// TestRepoFragmentsPerEra: every arch's fragments load from the repo's
// kconfigs/ in every era, and every kernel that runs 386 binaries (the
// i386 guest, the 32-bit UML, the x86_64 guest's ia32 tests) asks for the
// 32-bit time calls Go's 386 runtime needs, where the kernel has the
// symbol (5.1+); 2.6.29, which has only those calls, asks for none.
func TestRepoFragmentsPerEra(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"7.3.4", "6.12.117", "6.1.192", "2.6.29"} {
		prof, err := era.For(version)
		if err != nil {
			t.Fatal(err)
		}
		for name, arch := range kbuild.Arches {
			frags, err := Fragments("../..", prof, arch)
			if err != nil {
				t.Errorf("%s %s: %v", version, name, err)
				continue
			}
			time32, unix, sud := false, false, false
			for _, s := range kconfig.Requested(frags) {
				if s.Symbol == "COMPAT_32BIT_TIME" && s.Value == "y" {
					time32 = true
				}
				unix = unix || s.Symbol == "UNIX" && s.Value == "y"
				sud = sud || s.Symbol == "SYSCALL_USER_DISPATCH" && s.Value == "y"
			}
			if sud != unix {
				t.Errorf("%s %s: CONFIG_SYSCALL_USER_DISPATCH=y requested %v, CONFIG_UNIX=y %v: both come from 6.16 on", version, name, sud, unix)
			}
			// 7.3's UML starts its processes over AF_UNIX: the guest
			// kernels that carry it must have it; no other kernel asks.
			if wantUnix := version == "7.3.4" && arch.GOARCH != ""; unix != wantUnix {
				t.Errorf("%s %s: CONFIG_UNIX=y requested: %v, want %v", version, name, unix, wantUnix)
			}
			want := name != "um" && version != "2.6.29"
			if time32 != want {
				t.Errorf("%s %s: CONFIG_COMPAT_32BIT_TIME=y requested: %v, want %v", version, name, time32, want)
			}
		}
	}
}

// TestNeeds: a cell that selects tests builds only the selftests and UML
// its tests use; one that selects nothing needs both.
func TestNeeds(t *testing.T) {
	for _, tc := range []struct {
		cmdline        []string
		selftests, uml bool
	}{
		{nil, true, true},
		{[]string{"ptvmlab.fault=hang"}, true, true},
		{[]string{"ptvmlab.tests=probe,baseline,skipexit,skipcall"}, false, false},
		{[]string{"ptvmlab.tests=probe,kselftest"}, true, false},
		{[]string{"ptvmlab.tests=uml"}, false, true},
		{[]string{"ptvmlab.tests=bench,uml_bench"}, false, true},
		{[]string{"ptvmlab.tests=uml", "ptvmlab.tests=probe"}, false, false}, // the last one wins, as in the guest
		{[]string{"ptvmlab.tests=kselftest", "ptvmlab.expect=bogus"}, true, false},
	} {
		s, u := Cell{Cmdline: tc.cmdline}.needs()
		if s != tc.selftests || u != tc.uml {
			t.Errorf("%q: selftests %v, uml %v; want %v, %v", tc.cmdline, s, u, tc.selftests, tc.uml)
		}
	}
}
