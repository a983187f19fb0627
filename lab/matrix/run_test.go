package matrix

import (
	"context"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/cell"
)

// TestRunSkipsUnsetSources: a kernel whose source names an unset variable
// gives every one of its cells the status "skipped" and the reason, in the
// cells' order, without building or booting anything.
func TestRunSkipsUnsetSources(t *testing.T) {
	t.Parallel()
	f := File{Arches: []string{"x86_64", "i386"}, UMLFlags: []string{"default", "usesysemu"},
		Kernels: []Kernel{{Name: "2.6.29", Source: "${PTVMLAB_LINUX_2_6_29}", Series: []string{"auto", "none"}}}}
	cells := f.Cells()
	r := Runner{Env: cell.Env{Cache: cache.Dir(t.TempDir())}, Out: t.TempDir(), Getenv: func(string) string { return "" }}
	run, err := r.Run(context.Background(), f, cells)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Boots) != len(cells) {
		t.Fatalf("%d records for %d cells", len(run.Boots), len(cells))
	}
	for i, b := range run.Boots {
		if b.Cell != cells[i].ID || b.Status != Skipped || !strings.Contains(b.Title, "PTVMLAB_LINUX_2_6_29") || b.UMLFlags != cells[i].Flags {
			t.Errorf("cell %d: %+v", i, b)
		}
	}
}
