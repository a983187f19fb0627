package crossbuild

import (
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// TestFamily: cross builds of one era, arch and patched-or-not share their
// progress estimate; an empty series is the unpatched tree.
func TestFamily(t *testing.T) {
	t.Parallel()
	series := &patch.Series{Patches: []patch.Patch{{Name: "0001-x.patch"}}}
	tests := []struct {
		version string
		series  *patch.Series
		want    string
	}{
		{"6.12.117", series, "crossbuild-6.12-arm64-patched"},
		{"6.12.57", series, "crossbuild-6.12-arm64-patched"},
		{"6.12.57", nil, "crossbuild-6.12-arm64-unpatched"},
		{"6.12.57", &patch.Series{}, "crossbuild-6.12-arm64-unpatched"},
		{"7.3.4", nil, "crossbuild-7.3-arm64-unpatched"},
		{"?", nil, ""},
	}
	for _, tt := range tests {
		req := Request{Tree: source.Tree{Version: tt.version}, Series: tt.series, Arch: Arches["arm64"]}
		if got := Family(req); got != tt.want {
			t.Errorf("Family(%s, series %v) = %q, want %q", tt.version, tt.series != nil, got, tt.want)
		}
	}
}
