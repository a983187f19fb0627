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
	later := time.Now().Add(time.Hour) // long after the write: not racy
	first, err := d.fileSHA256Kept(p, 0, later)
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
	if got, _ := d.fileSHA256Kept(p, 0, later); got != strings.Repeat("a", 64) {
		t.Fatalf("an unchanged file was read again: %s", got)
	}
	time.Sleep(10 * time.Millisecond) // the change time moves on
	os.WriteFile(p, []byte("secon"), 0o644)
	os.Chtimes(p, mtime, mtime) // same size, same mtime: only ctime tells
	got, err := d.fileSHA256Kept(p, 0, later)
	if want, _ := FileSHA256(p); err != nil || got != want || got == first {
		t.Errorf("after a write: %s %v, want %s", got, err, want)
	}
	// A memo that is not a digest is not believed.
	memos, _ = filepath.Glob(d.Path("digests", "*"))
	for _, m := range memos {
		os.WriteFile(m, []byte("junk\n"), 0o644)
	}
	if got, _ := d.fileSHA256Kept(p, 0, later); got != func() string { w, _ := FileSHA256(p); return w }() {
		t.Errorf("a junk memo was believed: %q", got)
	}
	if _, err := d.FileSHA256Kept(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file gave a digest")
	}
}

// TestFileSHA256KeptRacy: a file that changed within racyWindow of the
// read may change again within one tick of the file system's clock with
// its identity unchanged, so its digest is not kept; a small file's never
// is (hashing it is cheaper than the memo).
func TestFileSHA256KeptRacy(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	p := filepath.Join(t.TempDir(), "bzImage")
	if err := os.WriteFile(p, make([]byte, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.fileSHA256Kept(p, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if memos, _ := filepath.Glob(d.Path("digests", "*")); len(memos) != 0 {
		t.Errorf("a file changed just now had its digest kept: %v", memos)
	}
	if _, err := d.FileSHA256Kept(p); err != nil {
		t.Fatal(err)
	}
	if memos, _ := filepath.Glob(d.Path("digests", "*")); len(memos) != 0 {
		t.Errorf("a %d-byte file had its digest kept: %v", 64, memos)
	}
	// The same write, read back within the tick: the identity may be as
	// before, and the content is new.
	os.WriteFile(p, append(make([]byte, 63), 1), 0o644)
	got, err := d.fileSHA256Kept(p, 0, time.Now())
	if want, _ := FileSHA256(p); err != nil || got != want {
		t.Errorf("after a second write: %s %v, want %s", got, err, want)
	}
}

// TestPruneDigests: a memo older than DigestMemoAge goes; a recent one
// stays.
func TestPruneDigests(t *testing.T) {
	t.Parallel()
	d := Dir(t.TempDir())
	os.MkdirAll(d.Path("digests"), 0o755)
	old, recent := d.Path("digests", "old"), d.Path("digests", "recent")
	for _, p := range []string{old, recent} {
		os.WriteFile(p, []byte(strings.Repeat("a", 64)+"\n"), 0o644)
	}
	long := time.Now().Add(-DigestMemoAge - time.Hour)
	os.Chtimes(old, long, long)
	d.CleanStaleScratch()
	if _, err := os.Stat(old); err == nil {
		t.Error("a memo older than DigestMemoAge was kept")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a recent memo was removed: %v", err)
	}
}
