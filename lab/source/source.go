// Package source turns a user's kernel source spec (a Debian package name, a
// kernel.org URL with its sha256, a local tarball, a local directory or a git
// tree and ref) into a verified, read-only tree in the cache, named by the
// digest of its content.
package source

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// Kind says where a source comes from.
type Kind string

// The kinds of source a spec can name.
const (
	Debian  Kind = "debian"  // Debian's linux-source-X.Y package tarball
	URL     Kind = "url"     // a tarball to download, with a sha256 to check
	Tarball Kind = "tarball" // a local tarball
	Dir     Kind = "dir"     // a local directory holding a kernel tree
	Git     Kind = "git"     // a git repository and a ref in it
)

// DebianSrcDir is where Debian's linux-source packages put their tarballs.
var DebianSrcDir = "/usr/src"

// Spec is a parsed --kernel value.
type Spec struct {
	Raw    string // what the user typed
	Kind   Kind
	Path   string // file, directory or repository; the URL for Kind URL
	Ref    string // git ref, for Kind Git
	SHA256 string // expected digest of a tarball, lower-case hex; "" when not given
}

var (
	sha256Re  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	debianRe  = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	errSyntax = errors.New("want debian:X.Y, URL#sha256=HEX, a tarball path, a directory, or git:DIR@REF")
)

// Parse parses a --kernel value. It checks syntax only; Resolve checks that
// the thing named exists.
func Parse(raw string) (Spec, error) {
	s := Spec{Raw: raw}
	body, frag, hasFrag := strings.Cut(raw, "#")
	if hasFrag {
		hex, ok := strings.CutPrefix(frag, "sha256=")
		hex = strings.ToLower(hex)
		if !ok || !sha256Re.MatchString(hex) {
			return s, fmt.Errorf("--kernel %q: the part after # must be sha256=<64 hex digits>", raw)
		}
		s.SHA256 = hex
	}
	switch {
	case body == "":
		return s, fmt.Errorf("--kernel is empty: %w", errSyntax)
	case strings.HasPrefix(body, "debian:"):
		v := strings.TrimPrefix(body, "debian:")
		if !debianRe.MatchString(v) {
			return s, fmt.Errorf("--kernel %q: Debian sources are named by major.minor, e.g. debian:6.12", raw)
		}
		s.Kind, s.Path = Debian, filepath.Join(DebianSrcDir, "linux-source-"+v+".tar.xz")
	case strings.HasPrefix(body, "git:"):
		dir, ref, ok := strings.Cut(strings.TrimPrefix(body, "git:"), "@")
		if !ok || dir == "" || ref == "" {
			return s, fmt.Errorf("--kernel %q: a git source is git:DIR@REF, e.g. git:/src/linux@v6.12", raw)
		}
		s.Kind, s.Path, s.Ref = Git, dir, ref
	case strings.HasPrefix(body, "https://") || strings.HasPrefix(body, "http://"):
		if s.SHA256 == "" {
			return s, fmt.Errorf("--kernel %q: a download needs its digest: append #sha256=<hex> from kernel.org's sha256sums.asc", raw)
		}
		s.Kind, s.Path = URL, body
	default:
		st, err := os.Stat(body)
		if err != nil {
			return s, fmt.Errorf("--kernel %q: %w; %v", raw, err, errSyntax)
		}
		s.Path = body
		if st.IsDir() {
			s.Kind = Dir
		} else {
			s.Kind = Tarball
		}
	}
	if hasFrag && s.Kind != URL && s.Kind != Tarball && s.Kind != Debian {
		return s, fmt.Errorf("--kernel %q: #sha256= applies to tarballs only", raw)
	}
	return s, nil
}

// Tree is a kernel source tree in the cache. Its files must not be modified:
// builds work on hard-linked copies.
type Tree struct {
	Spec    Spec
	Dir     string // the tree's top directory (holds the top Makefile)
	Digest  string // "sha256:<hex>" of the tarball, "git:<tree id>", or "stat:<hex>" for a directory
	Version string // from the top Makefile, e.g. "6.12.57"
}

// Resolve fetches, verifies and unpacks the source named by spec into the
// cache (once per digest) and returns the tree.
func Resolve(ctx context.Context, c cache.Dir, spec Spec) (Tree, error) {
	t := Tree{Spec: spec}
	var fill func(tmp string) error
	switch spec.Kind {
	case Debian, Tarball, URL:
		file := spec.Path
		if spec.Kind == URL {
			f, err := download(ctx, c, spec.Path, spec.SHA256)
			if err != nil {
				return t, err
			}
			file = f
		}
		if _, err := os.Stat(file); err != nil {
			if spec.Kind == Debian {
				pkg := strings.TrimSuffix(filepath.Base(file), ".tar.xz")
				return t, fmt.Errorf("--kernel %s: %s is missing; install it with: apt-get install %s", spec.Raw, file, pkg)
			}
			return t, fmt.Errorf("--kernel %s: %w", spec.Raw, err)
		}
		sum, err := c.FileSHA256Kept(file)
		if err != nil {
			return t, fmt.Errorf("--kernel %s: %w", spec.Raw, err)
		}
		if spec.SHA256 != "" && sum != spec.SHA256 {
			return t, fmt.Errorf("--kernel %s: sha256 mismatch: file has %s, spec wants %s; check the digest or re-download", spec.Raw, sum, spec.SHA256)
		}
		t.Digest = "sha256:" + sum
		fill = func(tmp string) error { return untar(ctx, file, tmp) }
	case Git:
		tree, err := gitOutput(ctx, spec.Path, "rev-parse", "--verify", spec.Ref+"^{tree}")
		if err != nil {
			return t, fmt.Errorf("--kernel %s: ref %q not found in %s: %w", spec.Raw, spec.Ref, spec.Path, err)
		}
		t.Digest = "git:" + tree
		fill = func(tmp string) error { return gitArchive(ctx, spec.Path, tree, tmp) }
	case Dir:
		// A directory is checked before it is copied into the cache.
		if _, err := Version(spec.Path); err != nil {
			return t, fmt.Errorf("--kernel %s: %w", spec.Raw, err)
		}
		d, err := statDigest(spec.Path)
		if err != nil {
			return t, fmt.Errorf("--kernel %s: %w", spec.Raw, err)
		}
		t.Digest = "stat:" + d
		fill = func(tmp string) error { return CopyTreeContents(spec.Path, filepath.Join(tmp, "tree")) }
	default:
		return t, fmt.Errorf("source: unknown kind %q", spec.Kind)
	}
	key := strings.ReplaceAll(t.Digest, ":", "-")
	if _, ok := c.Lookup("src", key); !ok {
		slog.Info("unpacking kernel source", "spec", spec.Raw, "digest", t.Digest)
	}
	entry, err := c.Fill("src", key, func(tmp string) error {
		if err := fill(tmp); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(tmp, "tree", "Makefile")); err != nil {
			return fmt.Errorf("--kernel %s: no top-level Makefile: not a kernel tree", spec.Raw)
		}
		// Nothing that is not a kernel tree is kept.
		if _, err := Version(filepath.Join(tmp, "tree")); err != nil {
			return fmt.Errorf("--kernel %s: %w", spec.Raw, err)
		}
		return readOnly(ctx, filepath.Join(tmp, "tree"))
	})
	if err != nil {
		return t, err
	}
	t.Dir = filepath.Join(entry, "tree")
	t.Version, err = Version(t.Dir)
	if err != nil {
		return t, fmt.Errorf("--kernel %s: %w", spec.Raw, err)
	}
	return t, nil
}

// Version reads VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION] from a tree's top
// Makefile, without running make.
func Version(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "Makefile"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan() && n < 20; n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if vals["VERSION"] == "" || vals["PATCHLEVEL"] == "" {
		return "", fmt.Errorf("%s/Makefile: no VERSION/PATCHLEVEL: not a kernel tree", dir)
	}
	v := vals["VERSION"] + "." + vals["PATCHLEVEL"]
	if s := vals["SUBLEVEL"]; s != "" {
		v += "." + s
	}
	return v + vals["EXTRAVERSION"], nil
}

// untar unpacks a tarball into tmp/tree. GNU tar is used rather than
// archive/tar because kernel tarballs come xz- and bzip2-compressed and the
// standard library has no xz reader; tar picks the decompressor itself.
func untar(ctx context.Context, file, tmp string) error {
	x := filepath.Join(tmp, "x")
	if err := os.Mkdir(x, 0o755); err != nil {
		return err
	}
	cmd := proc.Command(ctx, "tar", "-xf", file, "-C", x)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("unpack %s: %w: %s", file, err, proc.FirstLine(out))
	}
	ents, err := os.ReadDir(x)
	if err != nil {
		return err
	}
	if len(ents) == 1 && ents[0].IsDir() {
		return os.Rename(filepath.Join(x, ents[0].Name()), filepath.Join(tmp, "tree"))
	}
	return os.Rename(x, filepath.Join(tmp, "tree"))
}

func gitArchive(ctx context.Context, repo, tree, tmp string) error {
	dst := filepath.Join(tmp, "tree")
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	archive := proc.Command(ctx, "git", "-C", repo, "archive", "--format=tar", tree)
	extract := proc.Command(ctx, "tar", "-x", "-C", dst)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	extract.Stdin = pipe
	var aerr, xerr strings.Builder
	archive.Stderr, extract.Stderr = &aerr, &xerr
	if err := extract.Start(); err != nil {
		return err
	}
	if err := archive.Run(); err != nil {
		_ = extract.Wait()
		return fmt.Errorf("git archive %s in %s: %w: %s", tree, repo, err, proc.FirstLine([]byte(aerr.String())))
	}
	if err := extract.Wait(); err != nil {
		return fmt.Errorf("unpack git archive: %w: %s", err, proc.FirstLine([]byte(xerr.String())))
	}
	return nil
}

func gitOutput(ctx context.Context, repo string, args ...string) (string, error) {
	return proc.Output(ctx, "", nil, "git", append([]string{"-C", repo}, args...)...)
}

// download fetches url into the cache's downloads directory, checking its
// sha256 before publishing it.
func download(ctx context.Context, c cache.Dir, url, want string) (string, error) {
	dir := c.Path("downloads")
	final := filepath.Join(dir, want+"-"+filepath.Base(url))
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	slog.Info("downloading kernel source", "url", url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("--kernel %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w (offline? pass a local tarball path to --kernel instead)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: HTTP %s; check the URL", url, resp.Status)
	}
	f, err := os.CreateTemp(dir, ".download-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("--kernel %s: sha256 mismatch: download has %s, spec wants %s; check the digest", url, got, want)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}

// statDigest names a directory by the path, size, mode and modification time
// of every file below it (.git excluded). Hashing the content of a whole
// kernel tree on every run costs seconds; a changed file changes its mtime.
func statDigest(dir string) (string, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && de.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %d %o %d", rel, info.Size(), info.Mode(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l+"\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CopyTree copies src to dst (which must not exist), hard-linking regular
// files where the filesystem allows and copying them where it does not. A
// writer that replaces files by rename (patch, git apply) leaves the source
// untouched. .git directories are skipped.
func CopyTree(src, dst string) error { return copyTree(src, dst, true) }

// CopyTreeContents copies src to dst without hard links: for a user's own
// directory, whose files must not share inodes with the cache (the cache
// makes its trees read-only, which would change the user's files too).
func CopyTreeContents(src, dst string) error { return copyTree(src, dst, false) }

func copyTree(src, dst string, link bool) error {
	return filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case de.IsDir():
			if de.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.Mkdir(target, 0o755)
		case de.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case de.Type().IsRegular():
			if link && os.Link(p, target) == nil {
				return nil
			}
			return copyFile(p, target)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

// readOnly drops write permission from every file below dir, so that a build
// that writes into its source by mistake fails instead of poisoning the cache.
func readOnly(ctx context.Context, dir string) error {
	if out, err := proc.Command(ctx, "chmod", "-R", "a-w", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod %s: %w: %s", dir, err, proc.FirstLine(out))
	}
	return nil
}
