package patch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// baseIdentity and baseDate name the scratch repository's base commit.
// They are fixed so that commit ids, and with them the mails, are the same
// on every run and every machine.
var baseIdentity = Identity{Name: "ptvmlab", Email: "ptvmlab@localhost"}

const baseDate = "Mon, 16 Mar 2009 00:00:00 +0000"

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
// diffstat) from base plus the series, into out, in the stored form: each
// mail keeps the From and the trailers its patch has in the series, and no
// Signed-off-by is added. Commit metadata comes from the patch headers,
// never from the clock, so two runs give the same bytes. The scratch
// repository holds only the files the series touches: the diffs, blob ids
// and diffstat are the same as in a full tree.
func Export(ctx context.Context, base string, s *Series, out string, o Options) error {
	return ExportSigned(ctx, base, s, out, o, Identity{})
}

// ExportSigned is Export as poster sends the series, as git format-patch
// -s would write it: every mail, the cover letter too, is From: poster,
// and every patch (not the cover letter) has "Signed-off-by: poster" as its
// last trailer (AddSignoff: added unless it is the last trailer already;
// the patch's other trailers are kept, in order). Dates still come from the
// patch headers, so the same poster gets the same bytes on every run. A
// zero poster gives the stored form, as Export.
func ExportSigned(ctx context.Context, base string, s *Series, out string, o Options, poster Identity) error {
	scratch, doneScratch, err := cache.ScratchDir("", "ptvmlab-export-")
	if err != nil {
		return err
	}
	defer doneScratch()
	repo := filepath.Join(scratch, "repo")
	if err := seedTouched(base, s, repo); err != nil {
		return err
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
		author, body := splitIdentity(p.Header.From), p.Header.Body
		if !poster.IsZero() {
			author, body = poster, AddSignoff(body, poster)
		}
		if err := g.commit(ctx, author, p.Header.Date, p.Header.Subject+"\n\n"+body); err != nil {
			return fmt.Errorf("commit %s: %w", p.Name, err)
		}
	}
	mails := filepath.Join(scratch, "mails")
	args := []string{"-c", "core.abbrev=12", "format-patch", "-q", "--no-signature", "--cover-letter",
		"--subject-prefix=" + s.SubjectPrefix(), "--numbered", "-o", mails, "HEAD~" + fmt.Sprint(len(s.Patches))}
	if err := g.run(ctx, nil, args...); err != nil {
		return err
	}
	if err := fillCover(mails, s); err != nil {
		return err
	}
	return publish(mails, s, out)
}

// fillCover puts the series' cover subject and blurb into the cover letter
// git wrote in mails, and signs and dates the letter like the last patch
// (git would use the machine's identity and the clock). The From header is
// copied as git wrote it in the last patch's mail, so a name that needs
// RFC 2047 encoding or quoting is encoded and quoted the same way.
func fillCover(mails string, s *Series) error {
	path := filepath.Join(mails, "0000-cover-letter.patch")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	from, err := lastFrom(mails)
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
	inHeader, inFrom := true, false
	for i, l := range strings.Split(txt, "\n") {
		folded := strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		switch {
		case !inHeader:
		case l == "":
			inHeader = false
		case inFrom && folded:
			continue // the rest of git's From, replaced with the whole of from
		case i > 0 && strings.HasPrefix(l, "From: "):
			lines = append(lines, from...)
			inFrom = true
			continue
		case strings.HasPrefix(l, "Date: "):
			l = "Date: " + last.Date
		}
		if !folded {
			inFrom = false
		}
		lines = append(lines, l)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
}

// lastFrom is the From header, with its folded lines, of the last patch's
// mail in mails (format-patch names them 0001-…, 0002-…, so the last in
// order).
func lastFrom(mails string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(mails, "[0-9][0-9][0-9][0-9]-*.patch"))
	if err != nil || len(names) < 2 {
		return nil, fmt.Errorf("export: git format-patch wrote %d mails in %s, want a cover letter and a patch", len(names), mails)
	}
	sort.Strings(names)
	b, err := os.ReadFile(names[len(names)-1])
	if err != nil {
		return nil, err
	}
	var from []string
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case l == "":
			return from, nil
		case from != nil && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			from = append(from, l)
		case from != nil:
			return from, nil
		case i > 0 && strings.HasPrefix(l, "From: "):
			from = []string{l}
		}
	}
	if from == nil {
		return nil, fmt.Errorf("export: %s has no From header", filepath.Base(names[len(names)-1]))
	}
	return from, nil
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
	if s.Revision != 0 {
		if err := cache.WriteFileAtomic(filepath.Join(out, "revision"), []byte(fmt.Sprintln(s.Revision)), 0o644); err != nil {
			return err
		}
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

// seedTouched copies into dir the base files the series touches (files the
// series creates are not there yet): enough for the series to apply, and for
// its diffs, blob ids and diffstat to come out as in the full tree.
func seedTouched(base string, s *Series, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range Touched(s) {
		src := filepath.Join(base, f)
		if _, err := os.Stat(src); err != nil {
			continue // created by the series
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			return err
		}
		if err := cache.CopyFile(src, filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return nil
}

type gitRunner struct{ dir string }

func (g gitRunner) run(ctx context.Context, env []string, args ...string) error {
	_, err := proc.Output(ctx, g.dir, append([]string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "TZ=UTC", "LC_ALL=C"}, env...), "git", args...)
	return err
}

// commit records the work tree as one commit by who at date.
func (g gitRunner) commit(ctx context.Context, who Identity, date, msg string) error {
	env := []string{"GIT_AUTHOR_NAME=" + who.Name, "GIT_AUTHOR_EMAIL=" + who.Email, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=" + who.Name, "GIT_COMMITTER_EMAIL=" + who.Email, "GIT_COMMITTER_DATE=" + date}
	if err := g.run(ctx, env, "add", "-A", "-f", "."); err != nil {
		return err
	}
	return g.run(ctx, env, "commit", "-q", "--allow-empty", "--no-verify", "--cleanup=verbatim", "-m", msg)
}

// splitIdentity reads a stored patch's From as it is, unchecked: the
// stored form keeps whatever the series says.
func splitIdentity(who string) Identity {
	name, rest, ok := strings.Cut(who, "<")
	if !ok {
		return Identity{Name: strings.TrimSpace(who)}
	}
	return Identity{Name: strings.TrimSpace(name), Email: strings.TrimSuffix(strings.TrimSpace(rest), ">")}
}
