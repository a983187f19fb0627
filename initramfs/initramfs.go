// Package initramfs builds the guest's initramfs: the guest binaries from
// guesttests/ compiled static (CGO_ENABLED=0) for the guest's GOARCH, the
// device nodes a kernel without devtmpfs needs, and any extra files, written
// as a reproducible newc cpio archive with u-root's pkg/cpio.
//
// u-root's image builder (mkuimage) always compiles with "go build -a",
// 55-75 s an image here; building with the ordinary go build cache and
// writing the archive with u-root's cpio writer takes about two seconds warm.
package initramfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// File is an extra file for the image: Src on the host, Dst in the guest.
type File struct {
	Src, Dst string
}

// Opts says what goes into an image.
type Opts struct {
	// GOARCH of the guest binaries: "amd64" or "386".
	GOARCH string
	// ModuleDir is the ptvmlab module root, holding guesttests/.
	ModuleDir string
	// Files are extra files (a UML kernel, say).
	Files []File
	// IA32 adds the suite's 386 build at IA32Tests (amd64 images only), for
	// ia32 tracees and a 32-bit tracer on an x86_64 kernel.
	IA32 bool
	// Cache holds built images, named by the digest of their content.
	Cache cache.Dir
}

// Image is a built initramfs.
type Image struct {
	Path   string // the cpio archive
	Digest string // sha256 of the archive
	Cached bool   // the archive already existed
}

// Binaries are the guest programs, package path → path in the image: ours,
// and the programs the kernel's selftests exec (proto.SelftestPrograms),
// taken from u-root, whose commands are small static Go programs like ours.
var Binaries = map[string]string{
	"./guesttests/cmd/ptvm-init":              "/init",
	"./guesttests/cmd/ptvm-tests":             proto.TestsBinary,
	"github.com/u-root/u-root/cmds/core/true": "/bin/true",
}

// packages are Binaries' package paths, sorted.
func packages() []string {
	pkgs := make([]string, 0, len(Binaries))
	for p := range Binaries {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs
}

// IA32Tests is where an x86_64 image carries the suite's 386 build.
const IA32Tests = proto.IA32TestsBinary

// Build compiles the guest binaries and writes the image into the cache.
// An image whose inputs (guest sources, go.mod, Go version, GOARCH, extra
// files) are unchanged is found by their digest without running go at all.
func Build(ctx context.Context, o Opts) (Image, error) {
	if o.GOARCH != "amd64" && o.GOARCH != "386" {
		return Image{}, fmt.Errorf("initramfs: GOARCH %q: want amd64 or 386", o.GOARCH)
	}
	inputs, err := inputDigest(o)
	if err != nil {
		return Image{}, err
	}
	byInput := o.Cache.Path("initramfs", "by-input", inputs)
	if b, err := os.ReadFile(byInput); err == nil {
		want := strings.TrimSpace(string(b))
		p := o.Cache.Path("initramfs", want+".cpio")
		// An image is named by its digest: it is used only when it still
		// has it.
		switch got, err := o.Cache.FileSHA256Kept(p); {
		case err == nil && got == want:
			return Image{Path: p, Digest: want, Cached: true}, nil
		case err == nil:
			slog.Warn("cache entry dropped: the initramfs does not match the digest it is named by; rebuilding",
				"entry", filepath.Base(p), "now", "sha256:"+got[:12])
			os.Remove(p)
		}
	}
	img, err := build(ctx, o)
	if err != nil {
		return img, err
	}
	if err := os.MkdirAll(filepath.Dir(byInput), 0o755); err == nil {
		_ = cache.WriteFileAtomic(byInput, []byte(img.Digest+"\n"), 0o644)
	}
	return img, nil
}

// inputDigest names everything an image is made from: the programs in it
// (Binaries), the module's go.mod and go.sum, every file under guesttests/,
// the Go toolchain, GOARCH, and each extra file's content. The contents
// are named by their sha256, kept in the cache for the large files (a UML
// binary, the selftests), so that a matrix's cells, which share them, do
// not each read them again.
func inputDigest(o Opts) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "initramfs/3 %s %s ia32=%v\n", runtime.Version(), o.GOARCH, o.IA32)
	for _, p := range packages() {
		fmt.Fprintf(h, "%s -> %s\n", p, Binaries[p])
	}
	add := func(p string) error {
		sum, err := o.Cache.FileSHA256Kept(p)
		if err != nil {
			return fmt.Errorf("initramfs input %s: %w", p, err)
		}
		fmt.Fprintf(h, "%s sha256:%s\n", p, sum)
		return nil
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := add(filepath.Join(o.ModuleDir, f)); err != nil {
			return "", err
		}
	}
	err := filepath.WalkDir(filepath.Join(o.ModuleDir, "guesttests"), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		return add(p)
	})
	if err != nil {
		return "", err
	}
	for _, f := range o.Files {
		fmt.Fprintf(h, "-> %s\n", f.Dst)
		if err := add(f.Src); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func build(ctx context.Context, o Opts) (Image, error) {
	bin, doneBin, err := cache.ScratchDir("", "ptvmlab-guest-")
	if err != nil {
		return Image{}, err
	}
	defer doneBin()
	// go build's own work directory (go-build*) goes under bin too: a go
	// interrupted by a signal leaves it behind, and RemoveAll takes it.
	gotmp := filepath.Join(bin, "gotmp")
	if err := os.Mkdir(gotmp, 0o755); err != nil {
		return Image{}, err
	}
	pkgs := packages()
	args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", bin + "/"}, pkgs...)
	cmd := proc.Command(ctx, "go", args...)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.GOARCH, "GOTMPDIR="+gotmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return Image{}, fmt.Errorf("build guest binaries for %s: %w", o.GOARCH, ctx.Err())
		}
		return Image{}, fmt.Errorf("build guest binaries for %s: %w: %s", o.GOARCH, err, strings.TrimSpace(string(out)))
	}
	files := append([]File(nil), o.Files...)
	for _, p := range pkgs {
		files = append(files, File{Src: filepath.Join(bin, path.Base(p)), Dst: Binaries[p]})
	}
	if o.GOARCH == "amd64" && o.IA32 {
		// The suite's 386 build: ia32 tracees, and a 32-bit tracer, on the
		// x86_64 kernel.
		b386 := filepath.Join(bin, "ptvm-tests-386")
		cmd := proc.Command(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", b386, "./guesttests/cmd/ptvm-tests")
		cmd.Dir = o.ModuleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=386", "GOTMPDIR="+gotmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			return Image{}, fmt.Errorf("build the 386 guest suite: %w: %s", err, strings.TrimSpace(string(out)))
		}
		files = append(files, File{Src: b386, Dst: IA32Tests})
	}
	recs, err := records(files)
	if err != nil {
		return Image{}, err
	}
	return write(o.Cache, recs)
}

// records lists the image's records: directories, device nodes, files. All
// are made reproducible (no host uid, mtime or inode numbers).
func records(files []File) ([]cpio.Record, error) {
	dirs := map[string]bool{"/bin": true, "/dev": true, "/proc": true, "/sys": true, "/tmp": true, "/etc": true}
	for _, f := range files {
		for d := path.Dir(f.Dst); d != "/" && d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	var recs []cpio.Record
	for _, d := range names {
		recs = append(recs, cpio.Directory(strings.TrimPrefix(d, "/"), 0o755))
	}
	// The kernel opens /dev/console for init before anything is mounted.
	recs = append(recs,
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.CharDev("dev/null", 0o666, 1, 3),
		cpio.CharDev("dev/ttyS0", 0o600, 4, 64),
	)
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
	for _, f := range files {
		b, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, fmt.Errorf("initramfs file %s: %w", f.Src, err)
		}
		st, err := os.Stat(f.Src)
		if err != nil {
			return nil, err
		}
		recs = append(recs, cpio.StaticFile(strings.TrimPrefix(f.Dst, "/"), string(b), uint64(st.Mode().Perm()|0o444)))
	}
	cpio.MakeAllReproducible(recs)
	return recs, nil
}

// write serialises recs, names the archive by its digest, and publishes it
// in the cache (temp file, then rename).
func write(c cache.Dir, recs []cpio.Record) (Image, error) {
	dir := c.Path("initramfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Image{}, err
	}
	f, err := os.CreateTemp(dir, ".image-")
	if err != nil {
		return Image{}, err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	w := cpio.Newc.Writer(io.MultiWriter(f, h))
	if err := cpio.WriteRecords(w, recs); err != nil {
		f.Close()
		return Image{}, fmt.Errorf("initramfs: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		f.Close()
		return Image{}, fmt.Errorf("initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return Image{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := filepath.Join(dir, sum+".cpio")
	if got, err := c.FileSHA256Kept(final); err == nil && got == sum {
		return Image{Path: final, Digest: sum, Cached: true}, nil
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return Image{}, err
	}
	return Image{Path: final, Digest: sum}, nil
}
