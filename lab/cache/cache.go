// Package cache owns ptvmlab's on-disk cache: where it lives, and how an
// entry is published so that a killed process never leaves a half-written
// one behind (fill a temporary directory, then rename it into place under a
// lock, as vimto and Bazel do).
package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Dir is the root of a ptvmlab cache.
type Dir string

// Default returns $XDG_CACHE_HOME/ptvmlab, or ~/.cache/ptvmlab when
// XDG_CACHE_HOME is unset, as the XDG base directory spec says.
func Default() (Dir, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return Dir(filepath.Join(x, "ptvmlab")), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w (set XDG_CACHE_HOME)", err)
	}
	return Dir(filepath.Join(home, ".cache", "ptvmlab")), nil
}

// Path joins elem below the cache root.
func (d Dir) Path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// Lookup reports whether the entry kind/key exists and returns its path.
// An entry of an artifact kind (every kind but TreeKinds) is used only
// when its files still match the digests recorded when it was published:
// one that does not is dropped, with a one-line warning, and reported
// missing, so that the caller rebuilds it; so is an entry published
// before digests were recorded, which nothing can check.
func (d Dir) Lookup(kind, key string) (string, bool) {
	p := d.Path(kind, key)
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return p, false
	}
	if TreeKinds[kind] {
		return p, true
	}
	err = verify(p, d.FileSHA256Kept)
	switch {
	case err == nil:
		return p, true
	case errors.Is(err, errNoDigests):
		// Recording them now would bless whatever the files have become
		// since: an entry that cannot be checked is not used.
		slog.Warn("cache entry dropped: it has no recorded digests (made by an older ptvmlab), so it cannot be checked; rebuilding", "entry", kind+"/"+short(key))
		if err := RemoveAll(p); err != nil {
			slog.Warn("cache entry could not be removed", "entry", p, "err", err)
		}
		return p, false
	default:
		slog.Warn("cache entry dropped: "+err.Error()+"; rebuilding", "entry", kind+"/"+short(key))
		if err := RemoveAll(p); err != nil {
			slog.Warn("cache entry could not be removed", "entry", p, "err", err)
		}
		return p, false
	}
}

// TreeKinds are the cache kinds that hold whole source trees (tens of
// thousands of files, named by the digest of the tarball or tree they
// came from): hashing them on every hit would cost seconds, and they are
// inputs, not artifacts. Lookup checks every other kind.
var TreeKinds = map[string]bool{"src": true, "kselftest-src": true, "khdr": true}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}

// Fill publishes the entry kind/key. If it already exists, Fill returns its
// path without calling fill. Otherwise fill writes into a fresh temporary
// directory that is renamed to the entry's path when fill succeeds and removed
// when it fails. A per-entry lock keeps two ptvmlab processes from filling the
// same entry at once; the second one waits and then finds the entry.
func (d Dir) Fill(kind, key string, fill func(tmp string) error) (string, error) {
	final := d.Path(kind, key)
	if _, ok := d.Lookup(kind, key); ok {
		return final, nil
	}
	if err := os.MkdirAll(d.Path(kind), 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	unlock, err := lock(final + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, ok := d.Lookup(kind, key); ok {
		return final, nil
	}
	tmp, err := os.MkdirTemp(d.Path(kind), "."+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := fill(tmp); err != nil {
		RemoveAll(tmp)
		return "", err
	}
	if !TreeKinds[kind] {
		if err := recordDigests(tmp); err != nil {
			RemoveAll(tmp)
			return "", fmt.Errorf("cache: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		RemoveAll(tmp)
		return "", fmt.Errorf("cache: publish %s: %w", final, err)
	}
	return final, nil
}

// lock takes an exclusive flock on path, creating it if needed.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache lock %s: %w", path, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// RemoveAll removes path even where entries were made read-only.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_ = filepath.WalkDir(path, func(p string, de os.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers never see a partial file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// CopyFile copies src to dst (created or truncated) with src's permissions
// plus owner write: cached sources are read-only, copies are worked on.
func CopyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, st.Mode().Perm()|0o200)
}
