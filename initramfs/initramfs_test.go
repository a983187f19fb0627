package initramfs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
)

func TestBuildContentsAndReproducible(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	extra := filepath.Join(t.TempDir(), "uml")
	os.WriteFile(extra, []byte("#!/bin/true\n"), 0o755)
	opts := Opts{GOARCH: "386", ModuleDir: "..", Cache: c, Files: []File{{Src: extra, Dst: "/uml/linux"}}}
	img, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(img.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := cpio.Newc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cpio.Record{}
	for {
		r, err := rr.ReadRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[r.Name] = r
	}
	for _, name := range []string{"init", "bin/ptvm-tests", "dev/console", "dev/null", "uml", "uml/linux", "proc", "sys", "tmp"} {
		if _, ok := got[name]; !ok {
			t.Errorf("image lacks %s", name)
		}
	}
	// What the kernel's selftests exec must be there, and executable.
	for selftest, progs := range proto.SelftestPrograms {
		for _, p := range progs {
			if r, ok := got[strings.TrimPrefix(p, "/")]; !ok || r.Mode&0o111 == 0 {
				t.Errorf("image lacks %s (or it is not executable), which the %s selftest execs", p, selftest)
			}
		}
	}
	if r := got["dev/console"]; r.Mode&cpio.S_IFMT != cpio.S_IFCHR || r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console is %+v", r.Info)
	}
	if r := got["init"]; r.Mode&0o111 == 0 || r.MTime != 0 || r.UID != 0 {
		t.Errorf("init is %+v", r.Info)
	}
	again, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != img.Digest || !again.Cached {
		t.Errorf("second build: digest %s vs %s, cached %v", again.Digest, img.Digest, again.Cached)
	}

	// A cached image that no longer has the digest it is named by (16
	// bytes zeroed, same size) is rebuilt, not used.
	b, _ := os.ReadFile(img.Path)
	copy(b[512:], make([]byte, 16))
	os.WriteFile(img.Path, b, 0o644)
	third, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if third.Cached || third.Digest != img.Digest {
		t.Errorf("a damaged cached image: cached %v, digest %s; want a rebuild to %s", third.Cached, third.Digest, img.Digest)
	}
	if got, err := cache.FileSHA256(third.Path); err != nil || got != img.Digest {
		t.Errorf("the rebuilt image has sha256 %s (%v), want %s", got, err, img.Digest)
	}

	// An extra file whose content changed, size kept, makes a new image:
	// the inputs are named by content, not by name or size.
	os.WriteFile(extra, []byte("#!/bin/tru2\n"), 0o755)
	fourth, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Cached || fourth.Digest == img.Digest {
		t.Errorf("a changed extra file: cached %v, digest %s; want a new image", fourth.Cached, fourth.Digest)
	}
}

func TestBuildRejectsArch(t *testing.T) {
	t.Parallel()
	if _, err := Build(context.Background(), Opts{GOARCH: "arm64"}); err == nil {
		t.Error("Build accepted GOARCH arm64")
	}
}

// BenchmarkInitramfsWarm measures a warm image build: guest binaries from the
// go build cache, the archive rewritten. Target: ≤ 3 s.
func BenchmarkInitramfsWarm(b *testing.B) {
	c := cache.Dir(b.TempDir())
	opts := Opts{GOARCH: "amd64", ModuleDir: "..", Cache: c}
	if _, err := Build(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Build(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInputDigestNamesBinaries: an image is named by the programs in it,
// so adding one makes a new image, not a cache hit on the old one. (It
// changes Binaries, so it does not run in parallel.)
func TestInputDigestNamesBinaries(t *testing.T) {
	o := Opts{GOARCH: "386", ModuleDir: "..", Cache: cache.Dir(t.TempDir())}
	before, err := inputDigest(o)
	if err != nil {
		t.Fatal(err)
	}
	Binaries["github.com/u-root/u-root/cmds/core/false"] = "/bin/false"
	defer delete(Binaries, "github.com/u-root/u-root/cmds/core/false")
	after, err := inputDigest(o)
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Errorf("adding a program to Binaries left the input digest at %s", before)
	}
}
