package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ScratchDir makes a temporary directory in parent (os.MkdirTemp's
// pattern) and holds a flock on it until done, which removes it. The lock
// is how CleanStale tells a directory in use from one a killed ptvmlab
// left behind: the kernel drops a dead process's locks.
func ScratchDir(parent, pattern string) (dir string, done func(), err error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", nil, err
		}
	}
	dir, err = os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", nil, err
	}
	f, err := lockDir(dir)
	if err != nil {
		os.Remove(dir)
		return "", nil, fmt.Errorf("scratch directory %s: lock: %w", dir, err)
	}
	return dir, func() {
		RemoveAll(dir)
		f.Close()
	}, nil
}

// lockDir takes the flock that marks dir in use, for as long as the
// returned file stays open.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// TempPrefixes are the names ScratchDir's callers give their directories
// in $TMPDIR (and only those: a user's --out named ptvmlab-out there is
// not ours to remove).
var TempPrefixes = []string{"ptvmlab-vm-", "ptvmlab-accel-probe-", "ptvmlab-guest-", "ptvmlab-review-", "ptvmlab-bisect-",
	"ptvmlab-apply-", "ptvmlab-check-", "ptvmlab-export-", "ptvmlab-refresh-"}

// CleanStaleScratch removes what killed ptvmlab processes left in the
// cache's work directory and in $TMPDIR.
func (d Dir) CleanStaleScratch() {
	CleanStale(d.Path("work"), "")
	for _, p := range TempPrefixes {
		CleanStale(os.TempDir(), p)
	}
	d.pruneDigests(time.Now().Add(-DigestMemoAge))
}

// DigestMemoAge is how long a digest FileSHA256Kept remembers stays: each
// rebuilt file leaves a memo under its old identity that nothing will
// read again, and a memo still in use costs one read of its file when it
// goes.
const DigestMemoAge = 30 * 24 * time.Hour

// pruneDigests removes the digest memos written before cutoff.
func (d Dir) pruneDigests(cutoff time.Time) {
	ents, err := os.ReadDir(d.Path("digests"))
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff) {
			_ = os.Remove(d.Path("digests", e.Name()))
		}
	}
}

// CleanStale removes the directories in parent whose names start with
// prefix and that no live process holds (see ScratchDir): what a SIGKILLed
// ptvmlab left. It returns how many it removed.
func CleanStale(parent, prefix string) int {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			continue // in use
		}
		if err == nil && RemoveAll(p) == nil {
			n++
			slog.Debug("removed a scratch directory a killed ptvmlab left behind", "dir", p)
		}
		f.Close()
	}
	return n
}
