package cell

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/era"
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
