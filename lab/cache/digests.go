package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DigestsFile, in each published artifact entry, lists "sha256  path"
// for every regular file of the entry (sha256sum's format, so that
// `sha256sum -c .digests` checks an entry by hand).
const DigestsFile = ".digests"

var errNoDigests = errors.New("no recorded digests")

// entryDigests hashes every regular file under dir but DigestsFile with
// sum, keyed by slash-separated path.
func entryDigests(dir string, sum func(string) (string, error)) (map[string]string, error) {
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == DigestsFile {
			return err
		}
		digest, err := sum(p)
		if err != nil {
			return err
		}
		sums[filepath.ToSlash(rel)] = digest
		return nil
	})
	return sums, err
}

// FileSHA256 returns the hex sha256 of the file at p.
func FileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// recordDigests writes dir's DigestsFile (atomically).
func recordDigests(dir string) error {
	sums, err := entryDigests(dir, FileSHA256)
	if err != nil {
		return fmt.Errorf("digests of %s: %w", dir, err)
	}
	paths := make([]string, 0, len(sums))
	for p := range sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", sums[p], p)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, DigestsFile), b.Bytes(), 0o444)
}

// verify checks that the files of the entry at dir are the ones its
// DigestsFile records: the same set, each with its recorded sha256 as sum
// gives it. The error names the first file that differs.
func verify(dir string, sum func(string) (string, error)) error {
	b, err := os.ReadFile(filepath.Join(dir, DigestsFile))
	if errors.Is(err, os.ErrNotExist) {
		return errNoDigests
	}
	if err != nil {
		return err
	}
	want, err := parseDigests(b)
	if err != nil {
		return fmt.Errorf("%s: %w", DigestsFile, err)
	}
	got, err := entryDigests(dir, sum)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		switch g, ok := got[p]; {
		case !ok:
			return fmt.Errorf("%s is missing", p)
		case g != want[p]:
			return fmt.Errorf("%s does not match its recorded digest (sha256:%s recorded, sha256:%s now)", p, want[p][:12], g[:12])
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			return fmt.Errorf("%s was added after the entry was published", p)
		}
	}
	return nil
}

// parseDigests reads a DigestsFile.
func parseDigests(b []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		sum, p, ok := strings.Cut(sc.Text(), "  ")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 64 || p == "" {
			return nil, fmt.Errorf("line %d is not \"SHA256  PATH\"", n)
		}
		sums[p] = sum
	}
	return sums, sc.Err()
}

// Key names a cache entry by its inputs: the sha256 of each part,
// length-prefixed so that no two lists of parts give the same text.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EntryFiles lists the names in the entry directory dir: its files, not
// the DigestsFile the cache keeps beside them.
func EntryFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Name() != DigestsFile {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// keptMinSize is the size below which FileSHA256Kept hashes a file
// rather than keep its digest: reading a memo costs about what reading a
// file that small does.
const keptMinSize = 256 << 10

// racyWindow is how recently a file may have changed for FileSHA256Kept
// not to keep its digest. The file system stamps change times from a
// coarse clock (one tick is a few milliseconds), so a second write within
// the tick of the first can leave the identity as it was; a digest kept
// then would outlive the content it names. git's index calls such entries
// racily clean and re-reads them for the same reason.
const racyWindow = 2 * time.Second

// FileSHA256Kept is FileSHA256(p), remembered in d under p's identity: its
// absolute path, device, inode, size and modification and change times. A
// kernel tarball, a kernel image or a UML binary is then read once, not on
// every run or every matrix cell that uses it. Any write to the file moves
// its change time, which no user can set back, so a file that changed in
// any way is read again; this is the stat check git's index and make
// rely on, made stricter by the inode and the change time. Files smaller
// than keptMinSize, and files changed within racyWindow, are hashed every
// time.
func (d Dir) FileSHA256Kept(p string) (string, error) {
	return d.fileSHA256Kept(p, keptMinSize, time.Now())
}

func (d Dir) fileSHA256Kept(p string, minSize int64, now time.Time) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: abs, Err: err}
	}
	if st.Size < minSize {
		return FileSHA256(abs)
	}
	id := Key("file-sha256/1", abs, fmt.Sprint(st.Dev, st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()))
	memo := d.Path("digests", id)
	if b, err := os.ReadFile(memo); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
			return s, nil
		}
	}
	sum, err := FileSHA256(abs)
	if err != nil {
		return "", err
	}
	if now.Sub(time.Unix(0, st.Ctim.Nano())) < racyWindow {
		return sum, nil
	}
	if err := os.MkdirAll(d.Path("digests"), 0o755); err == nil {
		_ = WriteFileAtomic(memo, []byte(sum+"\n"), 0o644) // a memo not kept costs a read next time
	}
	return sum, nil
}
