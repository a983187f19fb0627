package patch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// baseIdentity and baseDate name the scratch repository's base commit.
// They are fixed so that commit ids, and with them the mails, are the same
// on every run and every machine.
const (
	baseIdentity = "ptvmlab <ptvmlab@localhost>"
	baseDate     = "Mon, 16 Mar 2009 00:00:00 +0000"
)

// Touched lists the files a series changes, from its diff headers.
func Touched(s *Series) []string {
	seen := map[string]bool{}
	for _, p := range s.Patches {
		sc := bufio.NewScanner(bytes.NewReader(p.Raw))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			for _, pre := range []string{"--- a/", "+++ b/"} {
				if f, ok := strings.CutPrefix(line, pre); ok {
					seen[strings.TrimSpace(f)] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Export regenerates s as git format-patch mails (with a cover letter and
// diffstat) from base plus the series, into out. Commit metadata comes from
// the patch headers, never from the clock, so two runs give the same bytes.
// The scratch repository holds only the files the series touches: the
// diffs, blob ids and diffstat are the same as in a full tree.
func Export(ctx context.Context, base string, s *Series, out string, o Options) error {
	scratch, err := os.MkdirTemp("", "ptvmlab-export-")
	if err != nil {
		return err
	}
	defer cache.RemoveAll(scratch)
	repo := filepath.Join(scratch, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		return err
	}
	for _, f := range Touched(s) {
		src := filepath.Join(base, f)
		if _, err := os.Stat(src); err != nil {
			continue // created by the series
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755); err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(repo, f)); err != nil {
			return err
		}
	}
	g := gitRunner{dir: repo}
	if err := g.run(ctx, nil, "init", "-q"); err != nil {
		return err
	}
	if err := g.commit(ctx, baseIdentity, baseDate, "base\n"); err != nil {
		return err
	}
	for _, p := range s.Patches {
		if err := applyOne(ctx, repo, p, o); err != nil {
			return err
		}
		msg := p.Header.Subject + "\n\n" + p.Header.Body
		if err := g.commit(ctx, p.Header.From, p.Header.Date, msg); err != nil {
			return fmt.Errorf("commit %s: %w", p.Name, err)
		}
	}
	mails := filepath.Join(scratch, "mails")
	args := []string{"-c", "core.abbrev=12", "format-patch", "-q", "--no-signature", "--cover-letter",
		"--subject-prefix=PATCH", "--numbered", "-o", mails, "HEAD~" + fmt.Sprint(len(s.Patches))}
	if err := g.run(ctx, nil, args...); err != nil {
		return err
	}
	if err := fillCover(filepath.Join(mails, "0000-cover-letter.patch"), s); err != nil {
		return err
	}
	return publish(mails, s, out)
}

// fillCover puts the series' cover subject and blurb into git's template,
// and signs and dates the letter like the last patch (git would use the
// machine's identity and the clock).
func fillCover(path string, s *Series) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	subject, blurb, _ := strings.Cut(strings.TrimSpace(s.Cover), "\n")
	if subject == "" {
		subject = "PTRACE_VM"
	}
	txt := string(b)
	txt = strings.Replace(txt, "*** SUBJECT HERE ***", strings.TrimSpace(subject), 1)
	txt = strings.Replace(txt, "*** BLURB HERE ***", strings.TrimSpace(blurb), 1)
	last := s.Patches[len(s.Patches)-1].Header
	var lines []string
	inHeader := true
	for i, l := range strings.Split(txt, "\n") {
		switch {
		case l == "":
			inHeader = false
		case inHeader && i > 0 && strings.HasPrefix(l, "From: "):
			l = "From: " + last.From
		case inHeader && strings.HasPrefix(l, "Date: "):
			l = "Date: " + last.Date
		}
		lines = append(lines, l)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
}

// publish replaces the series in out with the mails: every file is written
// to a temporary name and renamed, and the series file goes last.
func publish(mails string, s *Series, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(mails)
	if err != nil {
		return err
	}
	var series []string
	keep := map[string]bool{"series": true}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(mails, e.Name()))
		if err != nil {
			return err
		}
		if err := cache.WriteFileAtomic(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			return err
		}
		keep[e.Name()] = true
		if e.Name() != "0000-cover-letter.patch" {
			series = append(series, e.Name())
		}
	}
	if s.Cover != "" {
		if err := cache.WriteFileAtomic(filepath.Join(out, "cover"), []byte(s.Cover), 0o644); err != nil {
			return err
		}
		keep["cover"] = true
	}
	// Drop the mails of an earlier export that this one renamed.
	old, _ := filepath.Glob(filepath.Join(out, "*.patch"))
	for _, f := range old {
		if !keep[filepath.Base(f)] {
			os.Remove(f)
		}
	}
	txt := "# PTRACE_VM, in order (quilt series). Generated by ptvmlab patches export.\n" + strings.Join(series, "\n") + "\n"
	return cache.WriteFileAtomic(filepath.Join(out, "series"), []byte(txt), 0o644)
}

type gitRunner struct{ dir string }

func (g gitRunner) run(ctx context.Context, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "TZ=UTC", "LC_ALL=C"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, firstLine(out))
	}
	return nil
}

// commit records the work tree as one commit by who at date.
func (g gitRunner) commit(ctx context.Context, who, date, msg string) error {
	name, email := splitIdentity(who)
	env := []string{"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email, "GIT_COMMITTER_DATE=" + date}
	if err := g.run(ctx, env, "add", "-A", "-f", "."); err != nil {
		return err
	}
	return g.run(ctx, env, "commit", "-q", "--allow-empty", "--no-verify", "--cleanup=verbatim", "-m", msg)
}

func splitIdentity(who string) (string, string) {
	name, rest, ok := strings.Cut(who, "<")
	if !ok {
		return strings.TrimSpace(who), ""
	}
	return strings.TrimSpace(name), strings.TrimSuffix(strings.TrimSpace(rest), ">")
}

func copyFile(src, dst string) error {
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
