package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileSHA256Kept: the digest is remembered for an unchanged file and
// read again after any write, even one that keeps the size and sets the
// modification time back.
func TestFileSHA256Kept(t *testing.T) {
	d := Dir(t.TempDir())
	p := filepath.Join(t.TempDir(), "linux.tar.xz")
	if err := os.WriteFile(p, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(p, mtime, mtime)
	first, err := d.FileSHA256Kept(p)
	if want, _ := FileSHA256(p); err != nil || first != want {
		t.Fatalf("first: %s %v, want %s", first, err, want)
	}
	memos, _ := filepath.Glob(d.Path("digests", "*"))
	if len(memos) != 1 {
		t.Fatalf("%d memos kept, want 1", len(memos))
	}
	// A memo that lies is believed while the file is unchanged: it is what
	// saves the read (and what the identity guards).
	os.WriteFile(memos[0], []byte(strings.Repeat("a", 64)+"\n"), 0o644)
	if got, _ := d.FileSHA256Kept(p); got != strings.Repeat("a", 64) {
		t.Fatalf("an unchanged file was read again: %s", got)
	}
	time.Sleep(10 * time.Millisecond) // the change time moves on
	os.WriteFile(p, []byte("secon"), 0o644)
	os.Chtimes(p, mtime, mtime) // same size, same mtime: only ctime tells
	got, err := d.FileSHA256Kept(p)
	if want, _ := FileSHA256(p); err != nil || got != want || got == first {
		t.Errorf("after a write: %s %v, want %s", got, err, want)
	}
	// A memo that is not a digest is not believed.
	memos, _ = filepath.Glob(d.Path("digests", "*"))
	for _, m := range memos {
		os.WriteFile(m, []byte("junk\n"), 0o644)
	}
	if got, _ := d.FileSHA256Kept(p); got != func() string { w, _ := FileSHA256(p); return w }() {
		t.Errorf("a junk memo was believed: %q", got)
	}
	if _, err := d.FileSHA256Kept(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file gave a digest")
	}
}
