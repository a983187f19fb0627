package era

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, name, via string
		oldFlags           bool
	}{
		{"2.6.29", "2.6.29", "hvc", true},
		{"2.6.34-rc3", "2.6.34", "hvc", true},
		{"2.6.35", "2.6.35", "port", true},
		{"3.0", "", "port", false},
		{"6.1.158", "", "port", false},
		{"6.12.117", "", "port", false},
	} {
		p, err := For(tc.version)
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		if len(p.GuestFragments) != 0 {
			t.Errorf("For(%s).GuestFragments = %v, want none (before 6.16)", tc.version, p.GuestFragments)
		}
		if p.Name != tc.name || string(p.ResultsVia) != tc.via || slices.Contains(p.CFlags, "-mno-sse") != tc.oldFlags {
			t.Errorf("For(%s) = %+v; want name %q, results via %q, old-gcc flags %v", tc.version, p, tc.name, tc.via, tc.oldFlags)
		}
	}
	for _, v := range []string{"6.16", "7.3.4"} {
		if p, _ := For(v); !slices.Equal(p.GuestFragments, []string{"uml-host", "syscall-user-dispatch"}) {
			t.Errorf("For(%s).GuestFragments = %v, want [uml-host syscall-user-dispatch]", v, p.GuestFragments)
		}
	}
	for _, bad := range []string{"", "six", "6"} {
		if _, err := For(bad); err == nil {
			t.Errorf("For(%q): no error", bad)
		}
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"2.6.29", "2.6.35", true},
		{"2.6.35", "2.6.35", false},
		{"2.6.39", "3.0", true},
		{"6.1", "6.12", true},
		{"6.12.1", "6.12", false},
	} {
		a, _ := ParseVersion(tc.a)
		b, _ := ParseVersion(tc.b)
		if got := a.Less(b); got != tc.less {
			t.Errorf("%s < %s = %v, want %v", tc.a, tc.b, got, tc.less)
		}
	}
}

// TestFragmentAndCompat: an era's own fragment wins over the common one;
// a missing one falls back; compat and checkpatch fixes are found only
// where a series file says so.
func TestFragmentAndCompat(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(p string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kconfigs/common.config")
	write("kconfigs/x86.config")
	write("kconfigs/2.6.29/common.config")
	write("patches/compat/2.6.29/series")
	write("patches/compat/2.6.29/checkpatch/series")
	old, _ := For("2.6.29")
	modern, _ := For("6.12")
	kc := filepath.Join(root, "kconfigs")
	if got := old.Fragment(kc, "common"); got != filepath.Join(kc, "2.6.29", "common.config") {
		t.Errorf("2.6.29 common: %s", got)
	}
	if got := old.Fragment(kc, "x86"); got != filepath.Join(kc, "x86.config") {
		t.Errorf("2.6.29 x86 (no era file): %s", got)
	}
	if got := modern.Fragment(kc, "common"); got != filepath.Join(kc, "common.config") {
		t.Errorf("6.12 common: %s", got)
	}
	pd := filepath.Join(root, "patches")
	if got := old.CompatDir(pd); got != filepath.Join(pd, "compat", "2.6.29") {
		t.Errorf("2.6.29 compat: %q", got)
	}
	if got := old.CheckpatchFixDir(pd); got != filepath.Join(pd, "compat", "2.6.29", "checkpatch") {
		t.Errorf("2.6.29 checkpatch fix: %q", got)
	}
	if modern.CompatDir(pd) != "" || modern.CheckpatchFixDir(pd) != "" {
		t.Errorf("6.12 has no compat fixes")
	}
	other, _ := For("2.6.30")
	if other.CompatDir(pd) != "" {
		t.Errorf("2.6.30 has no compat directory")
	}
}

func TestUMLHasSysemuModes(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2.6.29", true}, {"6.1", true}, {"6.1.192", true}, {"6.2.16", true},
		{"6.3", false}, {"6.12", false}, {"7.3.4", false},
		{"my-kernel", true}, // not a version: run the cells, they say for themselves
	} {
		if got := UMLHasSysemuModes(tc.version); got != tc.want {
			t.Errorf("UMLHasSysemuModes(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}

func TestUMLHasSeccompMode(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2.6.29", false}, {"6.12.57", false}, {"6.15", false},
		{"6.16", true}, {"7.3.4", true},
		{"my-kernel", true}, // not a version: run the cells, they say for themselves
	} {
		if got := UMLHasSeccompMode(tc.version); got != tc.want {
			t.Errorf("UMLHasSeccompMode(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}

func TestUMLi386Unreliable(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2.6.29", false}, {"3.0", true}, {"6.1.192", true}, {"6.11", true},
		{"6.12", false}, {"6.12.117", false}, {"7.3.4", false}, {"my-kernel", false},
	} {
		if got := UMLi386Unreliable(tc.version); got != tc.want {
			t.Errorf("UMLi386Unreliable(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}
