package patch

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var poster = Identity{Name: "P Oster", Email: "p@ptvmlab.invalid"}

func TestAddSignoff(t *testing.T) {
	t.Parallel()
	const sob = "Signed-off-by: P Oster <p@ptvmlab.invalid>"
	tests := []struct {
		name, body, want string
	}{
		{"empty body", "", sob + "\n"},
		{"no trailers", "Why it is needed.\n", "Why it is needed.\n\n" + sob + "\n"},
		{"no trailers, two paragraphs", "One.\n\nTwo, and: more.\n", "One.\n\nTwo, and: more.\n\n" + sob + "\n"},
		{"Originally-by kept above", "Why.\n\nOriginally-by: Renzo Davoli <renzo@cs.unibo.it>\n",
			"Why.\n\nOriginally-by: Renzo Davoli <renzo@cs.unibo.it>\n" + sob + "\n"},
		{"trailers kept in order", "Why.\n\nOriginally-by: R <r@x.org>\nLink: https://lore.kernel.org/r/1\nCc: a@b.org\n",
			"Why.\n\nOriginally-by: R <r@x.org>\nLink: https://lore.kernel.org/r/1\nCc: a@b.org\n" + sob + "\n"},
		{"already signed by the poster", "Why.\n\nOriginally-by: R <r@x.org>\n" + sob + "\n",
			"Why.\n\nOriginally-by: R <r@x.org>\n" + sob + "\n"},
		{"only a sign-off by the poster", sob + "\n", sob + "\n"},
		{"signed by someone else", "Why.\n\nSigned-off-by: A U Thor <a@kernel.org>\n",
			"Why.\n\nSigned-off-by: A U Thor <a@kernel.org>\n" + sob + "\n"},
		{"the poster's sign-off is not the last trailer", "Why.\n\n" + sob + "\nReviewed-by: R <r@x.org>\n",
			"Why.\n\n" + sob + "\nReviewed-by: R <r@x.org>\n" + sob + "\n"},
		{"same name, other address", "Why.\n\nSigned-off-by: P Oster <p@elsewhere.org>\n",
			"Why.\n\nSigned-off-by: P Oster <p@elsewhere.org>\n" + sob + "\n"},
		{"continuation and note lines", "Why.\n\nFixes: 123456789abc (\"ptrace: a\n  long title\")\n[ tglx: reworded ]\nSigned-off-by: T <t@x.org>\n",
			"Why.\n\nFixes: 123456789abc (\"ptrace: a\n  long title\")\n[ tglx: reworded ]\nSigned-off-by: T <t@x.org>\n" + sob + "\n"},
		{"a URL is no trailer", "Why.\n\nhttps://lore.kernel.org/r/1\n", "Why.\n\nhttps://lore.kernel.org/r/1\n\n" + sob + "\n"},
		{"prose with a colon is no trailer", "Why.\n\nOriginally-by: R <r@x.org>\nand then some prose.\n",
			"Why.\n\nOriginally-by: R <r@x.org>\nand then some prose.\n\n" + sob + "\n"},
		{"blank lines at the end", "Why.\n\nOriginally-by: R <r@x.org>\n\n\n", "Why.\n\nOriginally-by: R <r@x.org>\n" + sob + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AddSignoff(tc.body, poster)
			if got != tc.want {
				t.Errorf("AddSignoff(%q)\n got %q\nwant %q", tc.body, got, tc.want)
			}
			if again := AddSignoff(got, poster); again != got {
				t.Errorf("signing twice added a second line: %q", again)
			}
		})
	}
}

func TestParseIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Identity
		err  string
	}{
		{"Renzo Davoli <renzo@cs.unibo.it>", Identity{"Renzo Davoli", "renzo@cs.unibo.it"}, ""},
		{"  Ada Lovelace   < ada@example.org >  ", Identity{"Ada Lovelace", "ada@example.org"}, ""},
		{`"Davoli, Renzo" <renzo@cs.unibo.it>`, Identity{"Davoli, Renzo", "renzo@cs.unibo.it"}, ""},
		{"Jörg Rödel <joro@8bytes.org>", Identity{"Jörg Rödel", "joro@8bytes.org"}, ""},
		{"ptvmlab tests <tests@ptvmlab.invalid>", Identity{"ptvmlab tests", "tests@ptvmlab.invalid"}, ""},
		{"", Identity{}, `is not "Name <name@domain>"`},
		{"renzo@cs.unibo.it", Identity{}, `is not "Name <name@domain>"`},
		{"Renzo <renzo@cs.unibo.it> trailing", Identity{}, `is not "Name <name@domain>"`},
		{"<renzo@cs.unibo.it>", Identity{}, "the name is empty"},
		{"Renzo <>", Identity{}, "exactly one @"},
		{"Renzo <renzo>", Identity{}, "exactly one @"},
		{"Renzo <a@b@c>", Identity{}, "exactly one @"},
		{"Renzo <@cs.unibo.it>", Identity{}, "nothing on one side"},
		{"Renzo <renzo@>", Identity{}, "nothing on one side"},
		{"Renzo <renzo @cs.unibo.it>", Identity{}, "a space"},
		{"Renzo <<renzo@cs.unibo.it>>", Identity{}, "a bracket"},
		{"Ren>zo <renzo@cs.unibo.it>", Identity{}, "holds '<', '>'"},
		{"Renzo\tDavoli <renzo@cs.unibo.it>", Identity{}, "control character"},
	}
	for _, tc := range tests {
		got, err := ParseIdentity(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseIdentity(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !got.IsZero()):
			t.Errorf("ParseIdentity(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("ParseIdentity(%q): error is not one line: %q", tc.in, err)
		}
	}
	if s := (Identity{"Renzo Davoli", "renzo@cs.unibo.it"}).String(); s != "Renzo Davoli <renzo@cs.unibo.it>" {
		t.Errorf("String() = %q", s)
	}
}

func FuzzParseIdentity(f *testing.F) {
	f.Add("Renzo Davoli <renzo@cs.unibo.it>")
	f.Add("<@>")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentity(s)
		if (err == nil) == id.IsZero() {
			t.Fatalf("ParseIdentity(%q) = %+v, %v: an error if and only if no identity", s, id, err)
		}
		if err != nil {
			return
		}
		// What it accepts reads back as itself, and AddSignoff can sign with it.
		again, err := ParseIdentity(id.String())
		if err != nil || again != id {
			t.Fatalf("%+v does not read back: %+v, %v", id, again, err)
		}
		if body := AddSignoff("Why.\n", id); !strings.HasSuffix(body, "\nSigned-off-by: "+id.String()+"\n") {
			t.Fatalf("AddSignoff with %+v: %q", id, body)
		}
	})
}

// TestGitIdentity: the identity comes from git config as git sees it in
// the directory, with nothing set being no identity and no error.
// Not parallel: it points git's global and system files away.
func TestGitIdentity(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	tests := []struct {
		name, user, email string
		want              Identity
		err               string
	}{
		{"both", "Renzo Davoli", "renzo@cs.unibo.it", Identity{"Renzo Davoli", "renzo@cs.unibo.it"}, ""},
		{"none", "", "", Identity{}, ""},
		{"name only", "Renzo Davoli", "", Identity{}, "git config has user.name but no user.email"},
		{"email only", "", "renzo@cs.unibo.it", Identity{}, "git config has user.email but no user.name"},
		{"malformed email", "Renzo Davoli", "renzo", Identity{}, "exactly one @"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
			git := func(args ...string) {
				t.Helper()
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v %s", args, err, out)
				}
			}
			git("init", "-q")
			if tc.user != "" {
				git("config", "user.name", tc.user)
			}
			if tc.email != "" {
				git("config", "user.email", tc.email)
			}
			got, err := GitIdentity(context.Background(), dir)
			if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("GitIdentity = %+v, %v; want %+v, error %q", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestExportSigned: an export by a poster is From the poster, every patch
// ends in the poster's sign-off below the trailers it had, the cover
// letter is From the poster and unsigned, a rerun gives the same bytes,
// and exporting the export by the same poster gives it back.
func TestExportSigned(t *testing.T) {
	t.Parallel()
	tree, dir := mkSeries(t)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out1, out2, out3 := t.TempDir(), t.TempDir(), t.TempDir()
	for _, out := range []string{out1, out2} {
		if err := ExportSigned(ctx, tree, s, out, Options{}, poster); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := Load(out1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ExportSigned(ctx, tree, signed, out3, Options{}, poster); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out1, "*"))
	if len(files) != 5 {
		t.Fatalf("export wrote %v", files)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		for _, other := range []string{out2, out3} {
			if b, err := os.ReadFile(filepath.Join(other, filepath.Base(f))); err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s differs in %s (%v)", filepath.Base(f), other, err)
			}
		}
	}
	for _, p := range signed.Patches {
		body := strings.TrimRight(p.Header.Body, "\n")
		if p.Header.From != poster.String() || !strings.HasSuffix(body, "\nSigned-off-by: A U Thor <a@example.org>\nSigned-off-by: P Oster <p@ptvmlab.invalid>") {
			t.Errorf("%s: From %q, body %q", p.Name, p.Header.From, p.Header.Body)
		}
	}
	cover, _ := os.ReadFile(filepath.Join(out1, "0000-cover-letter.patch"))
	if !strings.Contains(string(cover), "\nFrom: P Oster <p@ptvmlab.invalid>\n") || strings.Contains(string(cover), "Signed-off-by: P Oster") ||
		!strings.Contains(string(cover), "\nP Oster (2):\n") {
		t.Errorf("cover letter:\n%s", cover)
	}
	// The stored form of the same series keeps the series' own From and
	// trailers.
	stored := t.TempDir()
	if err := Export(ctx, tree, s, stored, Options{}); err != nil {
		t.Fatal(err)
	}
	st, err := Load(stored)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range st.Patches {
		if p.Header.From != s.Patches[i].Header.From || p.Header.Body != s.Patches[i].Header.Body || strings.Contains(string(p.Raw), "P Oster") {
			t.Errorf("%s: stored form From %q body %q", p.Name, p.Header.From, p.Header.Body)
		}
	}
}

// TestExportSignedEncodesCover: a name git has to encode is encoded the
// same way in the cover letter's From as in the patches'.
func TestExportSignedEncodesCover(t *testing.T) {
	t.Parallel()
	tree, dir := mkSeries(t)
	s, _ := Load(dir)
	out := t.TempDir()
	who := Identity{Name: "Jörg Rödel", Email: "joro@8bytes.invalid"}
	if err := ExportSigned(context.Background(), tree, s, out, Options{}, who); err != nil {
		t.Fatal(err)
	}
	from := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(out, name))
		for _, l := range strings.Split(string(b), "\n")[1:] {
			if strings.HasPrefix(l, "From: ") {
				return l
			}
		}
		return ""
	}
	patchFrom := from(s.Patches[1].Name)
	if !strings.HasPrefix(patchFrom, "From: =?UTF-8?") || from("0000-cover-letter.patch") != patchFrom {
		t.Errorf("cover %q, patch %q", from("0000-cover-letter.patch"), patchFrom)
	}
	signed, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := signed.Patches[0].Header.From; got != who.String() {
		t.Errorf("From decodes to %q", got)
	}
}
