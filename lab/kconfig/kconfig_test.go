package kconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "assignments", in: "CONFIG_A=y\n# comment\n\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\nCONFIG_D=-1\n",
			want: []string{"A=y", "B=n", "C=\"x y\"", "D=-1"}},
		{name: "junk", in: "CONFIG_A=y\nA=y\n", wantErr: "f:2: not a config line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse("f", strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range f.Settings {
				got = append(got, s.Symbol+"="+s.Value)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestedLastWins(t *testing.T) {
	t.Parallel()
	a, _ := Parse("a", strings.NewReader("CONFIG_X=y\nCONFIG_Y=y\n"))
	b, _ := Parse("b", strings.NewReader("# CONFIG_X is not set\n"))
	req := Requested([]Fragment{a, b})
	if len(req) != 2 || req[0].Symbol != "X" || req[0].Value != "n" || req[0].Where != "b:1" {
		t.Errorf("Requested = %+v", req)
	}
	if txt := Text([]Fragment{a, b}); !strings.HasSuffix(txt, "# CONFIG_X is not set\n") {
		t.Errorf("Text does not end with the override: %q", txt)
	}
}

func TestVerifyAndExplain(t *testing.T) {
	t.Parallel()
	tree := t.TempDir()
	kc := `config NET
	bool "Networking"

config SECCOMP_FILTER
	bool
	depends on HAVE_ARCH_SECCOMP_FILTER && SECCOMP && NET
	help
	  text

menuconfig VIRTIO_MENU
	bool "Virtio drivers"
	default y
`
	os.MkdirAll(filepath.Join(tree, "kernel"), 0o755)
	os.WriteFile(filepath.Join(tree, "kernel", "Kconfig"), []byte(kc), 0o644)
	final, err := ParseConfig(strings.NewReader("CONFIG_HAVE_ARCH_SECCOMP_FILTER=y\nCONFIG_SECCOMP=y\n# CONFIG_NET is not set\n"))
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := Parse("guesttests", strings.NewReader("CONFIG_SECCOMP=y\nCONFIG_SECCOMP_FILTER=y\nCONFIG_NO_SUCH_THING=y\nCONFIG_VIRTIO_MENU=y\n# CONFIG_VT is not set\n"))
	dropped := Verify(final, Requested([]Fragment{frag}))
	if len(dropped) != 3 {
		t.Fatalf("dropped %v, want SECCOMP_FILTER, NO_SUCH_THING and VIRTIO_MENU", dropped)
	}
	Explain(tree, final, dropped)
	want := []string{
		"CONFIG_SECCOMP_FILTER=y (from guesttests:2) ended as n: depends on HAVE_ARCH_SECCOMP_FILTER && SECCOMP && NET (unmet: NET=n)",
		"CONFIG_NO_SUCH_THING=y (from guesttests:3) ended as n: no such symbol in this kernel tree",
		"CONFIG_VIRTIO_MENU=y (from guesttests:4) ended as n: not user-selectable here",
	}
	for i, w := range want {
		if !strings.HasPrefix(dropped[i].String(), w) {
			t.Errorf("dropped[%d] = %q\nwant prefix %q", i, dropped[i], w)
		}
	}
	err = &DroppedError{Arch: "x86_64", Dropped: dropped}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "3 requested symbol(s) dropped") {
		t.Errorf("DroppedError = %q", err)
	}
}

// TestRepoFragments checks that every fragment in kconfigs/ parses.
func TestRepoFragments(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../kconfigs/*.config")
	if len(files) == 0 {
		t.Fatal("no fragments found in kconfigs/")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".config")
		if _, err := Load("../../kconfigs", name); err != nil {
			t.Error(err)
		}
	}
}
