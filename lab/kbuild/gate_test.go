package kbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/kconfig"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// keptBuild puts a finished build of req into c, as an earlier Build
// would have left it: the configured .config and the build entry.
func keptBuild(t *testing.T, c cache.Dir, req Request) {
	t.Helper()
	tc, err := toolchain(context.Background(), req.CFlags)
	if err != nil {
		t.Skip(err)
	}
	flags := makeFlags(req.Arch, tc)
	cfgKey := cache.Key(recipe, req.Tree.Digest, req.Arch.Name, tc.version, kconfig.Text(req.Fragments), patchList(req.Patches), strings.Join(flags, "\n"))
	cfg := []byte("CONFIG_X86=y\n")
	if _, err := c.Fill("config", cfgKey, func(tmp string) error { return os.WriteFile(filepath.Join(tmp, ".config"), cfg, 0o644) }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fill("build", buildKey(req, tc, flags, cfg), func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, filepath.Base(req.Arch.Image)), []byte("HdrS"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
}

// buildCached runs Build in the background; its channel gets nil when the
// build was a cache hit, else why not.
func buildCached(c cache.Dir, req Request) <-chan error {
	done := make(chan error, 1)
	go func() {
		r, err := Build(context.Background(), c, req)
		if err == nil && !r.Cached {
			err = os.ErrInvalid
		}
		done <- err
	}()
	return done
}

// TestGate: a cache hit never waits for the gate; a build that waited for
// it looks the cache up again and finds what another cell built meanwhile
// (the tree here has no Makefile: a make would fail).
func TestGate(t *testing.T) {
	req := Request{Tree: source.Tree{Dir: t.TempDir(), Digest: "sha256:gate-test", Version: "6.12.0"}, Arch: Arches["i386"]}
	var gate sync.Mutex
	req.Gate = &gate
	gate.Lock() // another cell's make

	hit := cache.Dir(t.TempDir())
	keptBuild(t, hit, req)
	done := buildCached(hit, req)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cache hit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a cache hit waited for the gate")
	}

	late := cache.Dir(t.TempDir())
	done = buildCached(late, req)
	select {
	case err := <-done:
		t.Fatalf("a miss did not wait for the gate: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	keptBuild(t, late, req) // the other cell's build lands
	gate.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the wait: %v, want the other cell's build", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer after the gate opened")
	}
}

// TestCachedOnly: a CachedOnly request answers from the cache and never
// starts a build (the tree has no Makefile: a make would fail, and a
// build would leave a work directory).
func TestCachedOnly(t *testing.T) {
	t.Parallel()
	req := Request{Tree: source.Tree{Dir: t.TempDir(), Digest: "sha256:cached-only-test", Version: "6.12.0"}, Arch: Arches["i386"], CachedOnly: true}
	c := cache.Dir(t.TempDir())
	if _, err := Build(context.Background(), c, req); !errors.Is(err, ErrNotCached) {
		t.Fatalf("an empty cache: %v, want ErrNotCached", err)
	}
	if _, err := os.Stat(c.Path("work")); err == nil {
		t.Error("a CachedOnly miss made a work directory: it started a build")
	}
	keptBuild(t, c, req)
	r, err := Build(context.Background(), c, req)
	if err != nil || !r.Cached {
		t.Fatalf("a cached build: %+v %v", r, err)
	}
}
