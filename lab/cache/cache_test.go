package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestLookupChecksDigests: an artifact entry whose file was overwritten
// with same-sized zeros, truncated, removed or joined by another file is
// dropped, and Fill then rebuilds it; a tree entry is not hashed.
func TestLookupChecksDigests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(entry string)
		want   bool
	}{
		{"intact", func(string) {}, true},
		{"zeros, same size", func(e string) {
			f, _ := os.OpenFile(filepath.Join(e, "bzImage"), os.O_WRONLY, 0)
			f.WriteAt(make([]byte, 16), 4)
			f.Close()
		}, false},
		{"truncated", func(e string) { os.Truncate(filepath.Join(e, "bzImage"), 3) }, false},
		{"removed", func(e string) { os.Remove(filepath.Join(e, "sub", "System.map")) }, false},
		{"added", func(e string) { os.WriteFile(filepath.Join(e, "extra"), nil, 0o644) }, false},
		{"digests file garbled", func(e string) { os.WriteFile(filepath.Join(e, DigestsFile), []byte("nonsense\n"), 0o644) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Dir(t.TempDir())
			calls := 0
			// The image is large enough for its digest to be kept.
			image := bytes.Repeat([]byte("kernel image bytes here "), keptMinSize/8)
			fill := func(tmp string) error {
				calls++
				os.Mkdir(filepath.Join(tmp, "sub"), 0o755)
				os.WriteFile(filepath.Join(tmp, "sub", "System.map"), []byte("map"), 0o644)
				return os.WriteFile(filepath.Join(tmp, "bzImage"), image, 0o644)
			}
			p, err := d.Fill("build", "k", fill)
			if err != nil {
				t.Fatal(err)
			}
			// An entry looked up long after it was built has its digests
			// kept: they must not hide the damage.
			for _, f := range []string{"bzImage", "sub/System.map"} {
				if _, err := d.fileSHA256Kept(filepath.Join(p, f), 0, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if memos, _ := filepath.Glob(d.Path("digests", "*")); len(memos) != 2 {
				t.Fatalf("%d digests kept, want 2", len(memos))
			}
			tc.damage(p)
			if _, ok := d.Lookup("build", "k"); ok != tc.want {
				t.Fatalf("Lookup after damage: %v, want %v", ok, tc.want)
			}
			if _, err := d.Fill("build", "k", fill); err != nil {
				t.Fatal(err)
			}
			if wantCalls := map[bool]int{true: 1, false: 2}[tc.want]; calls != wantCalls {
				t.Errorf("fill ran %d times, want %d", calls, wantCalls)
			}
			if b, _ := os.ReadFile(filepath.Join(p, "bzImage")); !bytes.Equal(b, image) {
				t.Errorf("after the rebuild the image is %.40q…", b)
			}
		})
	}
}

// TestLookupDropsAnUncheckableEntry: an entry without a digests file (made
// before they were recorded, and perhaps changed since) is not used.
func TestLookupDropsAnUncheckableEntry(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	p := d.Path("uml", "k")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "linux"), []byte("uml, zeroed since"), 0o755)
	if _, ok := d.Lookup("uml", "k"); ok {
		t.Fatal("an entry without digests was used")
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the uncheckable entry was left in place")
	}
}

func TestLookupLeavesTreesUnhashed(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	p := d.Path("src", "k")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "Makefile"), []byte("VERSION = 6\n"), 0o644)
	if _, ok := d.Lookup("src", "k"); !ok {
		t.Fatal("a tree entry was not found")
	}
	if _, err := os.Stat(filepath.Join(p, DigestsFile)); err == nil {
		t.Error("a tree entry got a digests file")
	}
}

func FuzzParseDigests(f *testing.F) {
	f.Add([]byte("0000000000000000000000000000000000000000000000000000000000000000  bzImage\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := parseDigests(b)
		for p, s := range sums {
			if err == nil && (len(s) != 64 || p == "") {
				t.Errorf("accepted %q for %q", s, p)
			}
		}
	})
}

// TestCleanStale: a scratch directory in use is kept; one whose owner is
// gone (its lock dropped) is removed, and so is one made without a lock.
func TestCleanStale(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	inUse, done, err := ScratchDir(parent, "ptvmlab-vm-")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	// A killed owner: its directory stays, its lock goes with its fd.
	gone := filepath.Join(parent, "ptvmlab-vm-gone")
	os.Mkdir(gone, 0o755)
	os.WriteFile(filepath.Join(gone, "qmp.sock"), nil, 0o644)
	f, err := lockDir(gone)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // as the kernel does when its owner dies
	unlocked := filepath.Join(parent, "ptvmlab-vm-old")
	os.Mkdir(unlocked, 0o755)
	other := filepath.Join(parent, "someone-else")
	os.Mkdir(other, 0o755)

	if n := CleanStale(parent, "ptvmlab-"); n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	for p, want := range map[string]bool{inUse: true, gone: false, unlocked: false, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", p, err == nil, want)
		}
	}
	done()
	if _, err := os.Stat(inUse); err == nil {
		t.Errorf("done left %s", inUse)
	}
}

func TestEntryFiles(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	p, err := d.Fill("kselftest", "k", func(tmp string) error {
		os.WriteFile(filepath.Join(tmp, "vmaccess_64"), []byte("x"), 0o755)
		return os.WriteFile(filepath.Join(tmp, "left-out"), []byte("y"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	names, err := EntryFiles(p)
	if err != nil || strings.Join(names, ",") != "left-out,vmaccess_64" {
		t.Errorf("EntryFiles: %v, %v; want the entry's two files, not %s", names, err, DigestsFile)
	}
}
