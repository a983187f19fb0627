package cache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFill(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	calls := 0
	fill := func(tmp string) error {
		calls++
		return os.WriteFile(filepath.Join(tmp, "f"), []byte("x"), 0o644)
	}
	p, err := d.Fill("build", "k1", fill)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p, "f")); string(b) != "x" {
		t.Errorf("entry content %q", b)
	}
	if _, err := d.Fill("build", "k1", fill); err != nil || calls != 1 {
		t.Errorf("second Fill: err %v, fill ran %d times", err, calls)
	}
	boom := errors.New("boom")
	if _, err := d.Fill("build", "k2", func(tmp string) error {
		os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o444)
		os.Chmod(tmp, 0o555)
		return boom
	}); !errors.Is(err, boom) {
		t.Errorf("Fill error %v", err)
	}
	if _, ok := d.Lookup("build", "k2"); ok {
		t.Error("a failed fill published its entry")
	}
	ents, _ := os.ReadDir(d.Path("build"))
	for _, e := range ents {
		if e.IsDir() && e.Name() != "k1" {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestDefault(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x")
	if d, _ := Default(); d != "/x/ptvmlab" {
		t.Errorf("Default = %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/h")
	if d, _ := Default(); d != "/h/.cache/ptvmlab" {
		t.Errorf("Default = %s", d)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFileAtomic(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestCopyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("kernel"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	st, _ := os.Stat(dst)
	if string(b) != "kernel" || st.Mode().Perm() != 0o644 {
		t.Errorf("copy %q mode %v, want \"kernel\" 0644 (read-only source made owner-writable)", b, st.Mode().Perm())
	}
}
