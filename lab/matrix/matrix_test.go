package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lab.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, err string
		cells           int
	}{
		{"good", `
arches = ["x86_64", "i386"]
uml_flags = ["default", "usesysemu"]
timeout = "3m"
[[kernel]]
name = "6.12"
source = "debian:6.12"
series = ["auto", "none"]
`, "", 2 * (2 + 2)},
		{"unknown key", "arch = [\"x86_64\"]\n[[kernel]]\nname=\"a\"\nsource=\"debian:6.12\"\nseries=[\"auto\"]\n", `unknown key "arch"`, 0},
		{"no kernels", `arches = ["x86_64"]`, "no [[kernel]] entries", 0},
		{"bad arch", "arches = [\"um\"]\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `"um" is not bootable`, 0},
		{"bad flags", "uml_flags = [\"sysemu\"]\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `unknown flag set "sysemu"`, 0},
		{"bad timeout", "timeout = \"soon\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", "timeout", 0},
		{"empty arches", "arches = []\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `arches = []: an empty list would run nothing`, 0},
		{"duplicate arch", "arches = [\"i386\", \"i386\"]\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `arches: "i386" is listed twice`, 0},
		{"duplicate series", "[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\", \"auto\"]\n", `kernel a: series "auto" is listed twice`, 0},
		{"negative timeout", "timeout = \"-1s\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `timeout: "-1s": a boot limit must be positive`, 0},
		{"zero timeout", "timeout = \"0s\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `timeout: "0s": a boot limit must be positive`, 0},
		{"twice", "[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n[[kernel]]\nname=\"a\"\nsource=\"t\"\nseries=[\"none\"]\n", "used twice", 0},
		{"no series", "[[kernel]]\nname=\"a\"\nsource=\"s\"\n", "series is empty", 0},
		{"syntax", "[[kernel]\n", "matrix file", 0},
		{"accel and silence", "accel = \"tcg\"\nsilence = \"90s\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", "", 12},
		{"seccomp flag set before 6.16", "uml_flags = [\"default\", \"seccomp\"]\n[[kernel]]\nname=\"6.12\"\nsource=\"s\"\nseries=[\"auto\"]\n", "", 2},
		{"seccomp flag set on 7.3", "uml_flags = [\"default\", \"seccomp\"]\n[[kernel]]\nname=\"7.3\"\nsource=\"s\"\nseries=[\"auto\"]\n", "", 4},
		{"sysemu flag sets after 6.3", "uml_flags = [\"default\", \"nosysemu\", \"sysemu-off\"]\n[[kernel]]\nname=\"6.12\"\nsource=\"s\"\nseries=[\"auto\"]\n", "", 2},
		{"bad accel", "accel = \"hvf\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `accel: accelerator "hvf" is not known: choose auto, kvm or tcg`, 0},
		{"bad silence", "silence = \"-5s\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `silence: "-5s" must be positive`, 0},
		{"silence not a duration", "silence = \"1 minute\"\n[[kernel]]\nname=\"a\"\nsource=\"s\"\nseries=[\"auto\"]\n", `silence: time: unknown unit`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			f, err := Load(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %v, want one naming %s and saying %q", err, p, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(f.Cells()); got != tc.cells {
				t.Errorf("%d cells, want %d", got, tc.cells)
			}
		})
	}
}

func TestCells(t *testing.T) {
	t.Parallel()
	f := File{Kernels: []Kernel{{Name: "6.12", Source: "debian:6.12", Series: []string{"auto", "/x/patches/mine"}}}}
	var ids []string
	for _, c := range f.Cells() {
		id := c.ID
		if c.Tests != nil {
			id += "[" + strings.Join(c.Tests, ",") + "]"
		}
		ids = append(ids, id)
	}
	// Both guests carry a UML (a 32-bit one in i386), so both get a cell
	// per flag set. A group's first cell runs every test; its other flag
	// sets boot the same kernel for the probe and the behaviours in UML.
	want := "6.12/auto/x86_64/default 6.12/auto/x86_64/nosysptvm[probe,uml] 6.12/auto/x86_64/usesysemu[probe,uml] " +
		"6.12/auto/i386/default 6.12/auto/i386/nosysptvm[probe,uml] 6.12/auto/i386/usesysemu[probe,uml] " +
		"6.12/mine/x86_64/default 6.12/mine/x86_64/nosysptvm[probe,uml] 6.12/mine/x86_64/usesysemu[probe,uml] " +
		"6.12/mine/i386/default 6.12/mine/i386/nosysptvm[probe,uml] 6.12/mine/i386/usesysemu[probe,uml]"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("cells:\n got %s\nwant %s", got, want)
	}
}

// TestSplit: every cell lands in exactly one shard, cells of one build stay
// together, shards differ by at most one build group in size, and the split
// is the same every time.
func TestSplit(t *testing.T) {
	t.Parallel()
	f := File{Kernels: []Kernel{
		{Name: "6.12", Source: "s", Series: []string{"auto", "none"}},
		{Name: "6.1", Source: "s", Series: []string{"auto"}},
		{Name: "2.6.29", Source: "s", Series: []string{"auto", "none"}},
	}}
	cells := f.Cells()
	for n := 1; n <= 7; n++ {
		shards := Split(cells, n)
		seen := map[string]int{}
		groupShard := map[string]int{}
		for i, s := range shards {
			for _, c := range s {
				seen[c.ID]++
				if j, ok := groupShard[c.Group()]; ok && j != i {
					t.Errorf("n=%d: build group %s split across shards %d and %d", n, c.Group(), j, i)
				}
				groupShard[c.Group()] = i
			}
		}
		for _, c := range cells {
			if seen[c.ID] != 1 {
				t.Errorf("n=%d: cell %s in %d shards", n, c.ID, seen[c.ID])
			}
		}
		again := Split(cells, n)
		for i := range shards {
			for j := range shards[i] {
				if shards[i][j].ID != again[i][j].ID {
					t.Fatalf("n=%d: split not deterministic", n)
				}
			}
		}
		if sel := Select(cells, Shard{1, n}); len(sel) != len(shards[0]) {
			t.Errorf("n=%d: Select(1/n) has %d cells, Split's first %d", n, len(sel), len(shards[0]))
		}
	}
}

// TestSplitOneGroupEach: with as many shards as build groups, every shard
// holds exactly one group, so a runner builds one kernel (and its UML).
func TestSplitOneGroupEach(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kernels []Kernel
		arches  []string
		want    int
	}{
		{"one kernel, one arch", []Kernel{{Name: "6.12", Source: "s", Series: []string{"auto"}}}, []string{"x86_64"}, 1},
		{"uneven groups", []Kernel{
			{Name: "6.12", Source: "s", Series: []string{"auto", "none"}},
			{Name: "6.1", Source: "s", Series: []string{"auto"}},
		}, nil, 6},
		{"three eras", []Kernel{
			{Name: "7.3", Source: "s", Series: []string{"auto", "none"}},
			{Name: "6.12", Source: "s", Series: []string{"auto", "none"}},
			{Name: "2.6.29", Source: "s", Series: []string{"auto", "none"}},
		}, []string{"x86_64", "i386"}, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cells := File{Kernels: tc.kernels, Arches: tc.arches}.Cells()
			n := Groups(cells)
			if n != tc.want {
				t.Fatalf("Groups = %d, want %d", n, tc.want)
			}
			for i, s := range Split(cells, n) {
				groups := map[string]bool{}
				for _, c := range s {
					groups[c.Group()] = true
				}
				if len(groups) != 1 {
					t.Errorf("shard %d/%d holds %d build groups, want 1", i+1, n, len(groups))
				}
			}
		})
	}
}

func TestCacheName(t *testing.T) {
	t.Parallel()
	cell := func(k, series, arch, flags string) Cell {
		return Cell{Kernel: Kernel{Name: k}, Series: series, Arch: arch, Flags: flags}
	}
	tests := []struct {
		name  string
		shard []Cell
		want  string
	}{
		{"one group, many cells", []Cell{cell("7.3", "auto", "x86_64", "default"), cell("7.3", "auto", "x86_64", "seccomp")}, "7.3-auto-x86_64"},
		{"sorted, whatever the order", []Cell{cell("6.12", "none", "i386", "-"), cell("2.6.29", "auto", "x86_64", "default")}, "2.6.29-auto-x86_64+6.12-none-i386"},
		{"a series directory", []Cell{cell("6.12", "/home/me/my series", "x86_64", "default")}, "6.12--home-me-my-series-x86_64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CacheName(tc.shard); got != tc.want {
				t.Errorf("CacheName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseShard(t *testing.T) {
	t.Parallel()
	for _, good := range []string{"1/1", "2/4", "4/4"} {
		if s, err := ParseShard(good); err != nil || s.String() != good {
			t.Errorf("%s: %v %v", good, s, err)
		}
	}
	for _, bad := range []string{"", "0/4", "5/4", "1/0", "a/b", "3"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestExpandSource(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TREE": "/srv/linux"}
	get := func(k string) string { return env[k] }
	for _, tc := range []struct{ in, out string }{
		{"debian:6.12", "debian:6.12"},
		{"$TREE", "/srv/linux"},
		{"git:${TREE}@v1", "git:/srv/linux@v1"},
	} {
		if got, err := ExpandSource(tc.in, get); err != nil || got != tc.out {
			t.Errorf("%s: %q %v", tc.in, got, err)
		}
	}
	_, err := ExpandSource("${PTVMLAB_LINUX_2_6_29}", get)
	if !errors.Is(err, ErrUnset) || !strings.Contains(err.Error(), "PTVMLAB_LINUX_2_6_29") {
		t.Errorf("unset: %v", err)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, era := range []string{"6.1", "6.12", "7.3", "2.6.29", "compat"} {
		os.MkdirAll(filepath.Join(dir, era), 0o755)
		if era != "compat" {
			os.WriteFile(filepath.Join(dir, era, "series"), []byte("x\n"), 0o644)
		}
	}
	f, err := Default(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range f.Kernels {
		got = append(got, k.Name+"="+k.Source)
	}
	want := "7.3=debian:7.3 6.12=debian:6.12 6.1=debian:6.1 2.6.29=${PTVMLAB_LINUX_2_6_29}"
	if strings.Join(got, " ") != want {
		t.Errorf("default kernels %v, want %s", got, want)
	}
	// 7.3 adds UML's seccomp mode (6.16): 4 UML flag sets; 6.12 has no
	// UML sysemu modes (gone in 6.3): 3; 6.1 and 2.6.29 add nosysemu and
	// sysemu-off. 6.1's i386 guest carries no UML (era.UMLi386Unreliable):
	// one cell.
	if n := len(f.Cells()); n != 2*2*4+2*2*3+2*(5+1)+2*(2*5) {
		t.Errorf("%d cells, want 60 (4 eras, patched and not, 2 guests; 4 UML flag sets for 7.3, 3 for 6.12, 5 for 6.1 x86_64 and 2.6.29, none for 6.1 i386)", n)
	}
}

func TestOnly(t *testing.T) {
	t.Parallel()
	f := File{Arches: []string{"x86_64"}, UMLFlags: []string{"default"}, Kernels: []Kernel{
		{Name: "7.3", Source: "debian:7.3", Series: []string{"auto"}},
		{Name: "6.12", Source: "debian:6.12", Series: []string{"auto", "none"}},
		{Name: "6.1", Source: "debian:6.1", Series: []string{"auto"}},
	}}
	ids := func(f File) string {
		var out []string
		for _, c := range f.Cells() {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		names   []string
		want    string
		wantErr string
	}{
		{nil, ids(f), ""},
		{[]string{"6.12"}, "6.12/auto/x86_64/default 6.12/none/x86_64/default", ""},
		{[]string{"6.1", "7.3"}, "7.3/auto/x86_64/default 6.1/auto/x86_64/default", ""},
		{[]string{"6.12", "2.6.29"}, "", `no kernel "2.6.29"; it has 7.3, 6.12, 6.1`},
	} {
		got, err := f.Only(tc.names)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Only(%v): %v, want an error with %q", tc.names, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("Only(%v): %v", tc.names, err)
		case ids(got) != tc.want:
			t.Errorf("Only(%v) cells %s, want %s", tc.names, ids(got), tc.want)
		}
	}
	if len(f.Kernels) != 3 {
		t.Errorf("Only changed the file it was called on: %v", f.Kernels)
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2.6.29", "6.1", true},
		{"6.1", "6.12", true},
		{"6.12", "7.3", true},
		{"6.12", "6.12", false},
		{"7.3", "6.12", false},
		{"6.9", "6.12", true},
		{"mine", "2.6.29", true},
		{"2.6.29", "mine", false},
		{"a", "b", true},
	} {
		if got := versionLess(tc.a, tc.b); got != tc.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
