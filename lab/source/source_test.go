package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// fakeTree writes a directory that looks like a kernel tree to Version.
func fakeTree(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk := "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 7\nEXTRAVERSION = -rc1\nNAME = Baby Opossum Posse\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel", "ptrace.c"), []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeTarball packs a fake tree as linux-6.12.7/ in a .tar.xz.
func fakeTarball(t *testing.T) (path, sum string) {
	t.Helper()
	d := t.TempDir()
	fakeTree(t, filepath.Join(d, "linux-6.12.7"))
	path = filepath.Join(t.TempDir(), "linux-6.12.7.tar.xz")
	if out, err := exec.Command("tar", "-cJf", path, "-C", d, "linux-6.12.7").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return path, hex.EncodeToString(h[:])
}

func TestParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "linux.tar.xz")
	os.WriteFile(file, []byte("x"), 0o644)
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		kind    Kind
		path    string
		ref     string
		wantErr string
	}{
		{in: "debian:6.12", kind: Debian, path: "/usr/src/linux-source-6.12.tar.xz"},
		{in: "debian:6", wantErr: "major.minor"},
		{in: "https://cdn.kernel.org/linux-6.12.tar.xz#sha256=" + sum, kind: URL, path: "https://cdn.kernel.org/linux-6.12.tar.xz"},
		{in: "https://cdn.kernel.org/linux-6.12.tar.xz", wantErr: "needs its digest"},
		{in: "https://x/y.tar.xz#sha256=1234", wantErr: "64 hex digits"},
		{in: "git:/src/linux@v6.12", kind: Git, path: "/src/linux", ref: "v6.12"},
		{in: "git:/src/linux", wantErr: "git:DIR@REF"},
		{in: dir, kind: Dir, path: dir},
		{in: file, kind: Tarball, path: file},
		{in: file + "#sha256=" + sum, kind: Tarball, path: file},
		{in: dir + "#sha256=" + sum, wantErr: "tarballs only"},
		{in: "/no/such/thing", wantErr: "no such file"},
		{in: "", wantErr: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			s, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if s.Kind != tc.kind || s.Path != tc.path || s.Ref != tc.ref {
				t.Errorf("Parse(%q) = %+v", tc.in, s)
			}
		})
	}
}

func TestResolveTarball(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	path, sum := fakeTarball(t)
	spec, err := Parse(path + "#sha256=" + sum)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Resolve(context.Background(), c, spec)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Version != "6.12.7-rc1" || tree.Digest != "sha256:"+sum {
		t.Errorf("tree %+v", tree)
	}
	if _, err := os.Stat(filepath.Join(tree.Dir, "kernel", "ptrace.c")); err != nil {
		t.Errorf("unpacked tree lacks its files: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(tree.Dir, "Makefile")); st.Mode().Perm()&0o222 != 0 {
		t.Errorf("cached tree is writable: %v", st.Mode())
	}
	// Resolving again reuses the entry.
	again, err := Resolve(context.Background(), c, spec)
	if err != nil || again.Dir != tree.Dir {
		t.Errorf("second Resolve: %v, dir %s vs %s", err, again.Dir, tree.Dir)
	}
}

func TestResolveWrongSHA256(t *testing.T) {
	t.Parallel()
	c := cache.Dir(t.TempDir())
	path, _ := fakeTarball(t)
	spec, err := Parse(path + "#sha256=" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), c, spec)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want a one-line sha256 mismatch error, got %v", err)
	}
	if ents, _ := os.ReadDir(c.Path("src")); len(ents) != 0 {
		t.Errorf("a rejected tarball left cache entries: %v", ents)
	}
}

func TestResolveURL(t *testing.T) {
	t.Parallel()
	path, sum := fakeTarball(t)
	body, _ := os.ReadFile(path)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/linux-6.12.7.tar.xz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, url, sum, wantErr string
	}{
		{"good", srv.URL + "/linux-6.12.7.tar.xz", sum, ""},
		{"wrong sha256", srv.URL + "/linux-6.12.7.tar.xz", strings.Repeat("1", 64), "sha256 mismatch"},
		{"missing", srv.URL + "/nope.tar.xz", sum, "404"},
		{"offline", "http://127.0.0.1:1/linux.tar.xz", sum, "offline?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cache.Dir(t.TempDir())
			spec, err := Parse(tc.url + "#sha256=" + tc.sum)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := Resolve(context.Background(), c, spec)
			if tc.wantErr == "" {
				if err != nil || tree.Version != "6.12.7-rc1" {
					t.Fatalf("Resolve: %v, tree %+v", err, tree)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("want a one-line error containing %q, got %v", tc.wantErr, err)
			}
			if ents, _ := os.ReadDir(c.Path("downloads")); len(ents) != 0 {
				t.Errorf("failed download left files: %v", ents)
			}
		})
	}
}

func TestResolveGitAndDir(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	fakeTree(t, repo)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "v1")
	git("tag", "v1")
	c := cache.Dir(t.TempDir())
	for _, raw := range []string{"git:" + repo + "@v1", repo} {
		spec, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := Resolve(context.Background(), c, spec)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if tree.Version != "6.12.7-rc1" {
			t.Errorf("%s: version %q", raw, tree.Version)
		}
		if _, err := os.Stat(filepath.Join(tree.Dir, ".git")); err == nil {
			t.Errorf("%s: .git copied into the cache", raw)
		}
	}
	spec, _ := Parse("git:" + repo + "@nope")
	if _, err := Resolve(context.Background(), c, spec); err == nil || !strings.Contains(err.Error(), `ref "nope" not found`) {
		t.Errorf("bad ref: %v", err)
	}
}

func TestResolveMissingDebian(t *testing.T) {
	t.Parallel()
	spec := Spec{Raw: "debian:9.9", Kind: Debian, Path: "/nonexistent/linux-source-9.9.tar.xz"}
	_, err := Resolve(context.Background(), cache.Dir(t.TempDir()), spec)
	if err == nil || !strings.Contains(err.Error(), "apt-get install linux-source-9.9") {
		t.Fatalf("want an install hint, got %v", err)
	}
}

// TestResolveDirLeavesSourceAlone: resolving a directory source must not
// touch the user's files. The cache makes its trees read-only; a hard link
// shared with the user's tree once carried that chmod into the user's
// files (and so changed the directory's own digest on the next run).
func TestResolveDirLeavesSourceAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fakeTree(t, dir)
	mk := filepath.Join(dir, "Makefile")
	before, err := os.Stat(mk)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Parse(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := Resolve(context.Background(), cache.Dir(t.TempDir()), spec)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(mk)
	if err != nil {
		t.Fatal(err)
	}
	if after.Mode() != before.Mode() {
		t.Errorf("resolving changed %s's mode from %v to %v", mk, before.Mode(), after.Mode())
	}
	if n := after.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		t.Errorf("%s has %d links after resolving: the cache shares its inode", mk, n)
	}
	again, err := Resolve(context.Background(), cache.Dir(t.TempDir()), spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != first.Digest {
		t.Errorf("the directory's digest changed between two resolves: %s, then %s", first.Digest, again.Digest)
	}
}

// TestResolveNotAKernelCachesNothing: a directory (or tarball) whose
// Makefile has no VERSION is refused, and nothing is kept in the cache.
func TestResolveNotAKernelCachesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("all:\n\ttrue\n"), 0o644)
	spec, err := Parse(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.Dir(t.TempDir())
	if _, err := Resolve(context.Background(), c, spec); err == nil || !strings.Contains(err.Error(), "no VERSION/PATCHLEVEL: not a kernel tree") {
		t.Fatalf("a directory without VERSION: %v", err)
	}
	if ents, _ := os.ReadDir(c.Path("src")); len(ents) > 0 {
		t.Errorf("the cache kept %d entries for it", len(ents))
	}
}
