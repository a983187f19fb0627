package cell

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/era"
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
	old, _ := era.For("2.6.29")
	modern, _ := era.For("6.12")
	for _, tc := range []struct {
		prof   era.Profile
		config string
		want   string
	}{
		{modern, with, "port"},
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
