package patch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// mkTree writes a small tree and returns its directory.
func mkTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const base = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n"

// mkSeries makes a two-patch series against base with git format-patch.
func mkSeries(t *testing.T) (tree, dir string) {
	t.Helper()
	tree = mkTree(t, map[string]string{"kernel/ptrace.c": base, "include/x.h": "a\n"})
	repo := t.TempDir()
	cp := exec.Command("cp", "-a", tree+"/.", repo)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=Thu, 26 Nov 2026 12:00:00 +0000", "GIT_COMMITTER_DATE=Thu, 26 Nov 2026 12:00:00 +0000",
			"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=a@example.org", "GIT_COMMITTER_NAME=A U Thor", "GIT_COMMITTER_EMAIL=a@example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "base")
	os.WriteFile(filepath.Join(repo, "kernel/ptrace.c"), []byte(strings.Replace(base, "line 2\n", "line 2 patched\n", 1)), 0o644)
	git("commit", "-qam", "ptrace: first\n\nWhy the first.\n\nSigned-off-by: A U Thor <a@example.org>")
	os.WriteFile(filepath.Join(repo, "kernel/ptrace.c"), []byte(strings.Replace(strings.Replace(base, "line 2\n", "line 2 patched\n", 1), "line 7\n", "line 7 patched\n", 1)), 0o644)
	os.WriteFile(filepath.Join(repo, "include/new.h"), []byte("new\n"), 0o644)
	git("add", ".")
	git("commit", "-qm", "um: second\n\nWhy the second.\n\nSigned-off-by: A U Thor <a@example.org>")
	dir = t.TempDir()
	git("format-patch", "-q", "-o", dir, "HEAD~2")
	names, _ := filepath.Glob(filepath.Join(dir, "*.patch"))
	var list []string
	for _, n := range names {
		list = append(list, filepath.Base(n))
	}
	os.WriteFile(filepath.Join(dir, "series"), []byte("# test\n"+strings.Join(list, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cover"), []byte("Test series\n\nA blurb.\n"), 0o644)
	return tree, dir
}

func TestLoadAndHeader(t *testing.T) {
	t.Parallel()
	_, dir := mkSeries(t)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Patches) != 2 {
		t.Fatalf("%d patches", len(s.Patches))
	}
	h := s.Patches[0].Header
	if h.Subject != "ptrace: first" || h.From != "A U Thor <a@example.org>" || !strings.Contains(h.Body, "Why the first.") || strings.Contains(h.Body, "---") {
		t.Errorf("header %+v", h)
	}
	if got := strings.Join(Touched(s), ","); got != "include/new.h,kernel/ptrace.c" {
		t.Errorf("Touched = %s", got)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "series file") {
		t.Errorf("Load of an empty dir: %v", err)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	tree, dir := mkSeries(t)
	s, _ := Load(dir)
	if err := Apply(context.Background(), tree, s, Options{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(tree, "kernel/ptrace.c"))
	if !strings.Contains(string(b), "line 7 patched") {
		t.Errorf("not applied: %q", b)
	}
	if _, err := os.Stat(filepath.Join(tree, "include/new.h")); err != nil {
		t.Error("new file not created")
	}
}

func TestApplyBrokenNamesHunk(t *testing.T) {
	t.Parallel()
	tree, dir := mkSeries(t)
	// The tree drifted under the second patch's second hunk.
	os.WriteFile(filepath.Join(tree, "kernel/ptrace.c"), []byte(strings.Replace(base, "line 8\n", "line 8 drifted\n", 1)), 0o644)
	s, _ := Load(dir)
	err := Apply(context.Background(), tree, s, Options{})
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("want an ApplyError, got %v", err)
	}
	if ae.Patch != s.Patches[1].Name || ae.File != "kernel/ptrace.c" || ae.Hunk != 1 {
		t.Errorf("ApplyError %+v", ae)
	}
	if !strings.Contains(err.Error(), "kernel/ptrace.c hunk #1") {
		t.Errorf("message %q", err)
	}
	// The failing patch changed nothing.
	if _, err := os.Stat(filepath.Join(tree, "include/new.h")); err == nil {
		t.Error("the failing patch was half applied")
	}
}

func TestExportReproducible(t *testing.T) {
	t.Parallel()
	tree, dir := mkSeries(t)
	s, _ := Load(dir)
	out1, out2 := t.TempDir(), t.TempDir()
	for _, out := range []string{out1, out2} {
		if err := Export(context.Background(), tree, s, out, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out1, "*"))
	if len(files) != 5 { // series, cover, cover letter, two patches
		t.Fatalf("export wrote %v", files)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(out2, filepath.Base(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two exports", filepath.Base(f))
		}
	}
	cover, _ := os.ReadFile(filepath.Join(out1, "0000-cover-letter.patch"))
	for _, want := range []string{"Subject: [PATCH 0/2] Test series", "A blurb.", "ptrace: first", "2 files changed", "Date: Thu, 26 Nov 2026 12:00:00 +0000", "\nFrom: A U Thor <a@example.org>\n"} {
		if !strings.Contains(string(cover), want) {
			t.Errorf("cover letter lacks %q:\n%s", want, cover)
		}
	}
	// Exporting the export gives it back: the mails are a fixed point.
	s2, err := Load(out1)
	if err != nil {
		t.Fatal(err)
	}
	out3 := t.TempDir()
	if err := Export(context.Background(), tree, s2, out3, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(filepath.Join(out3, filepath.Base(f)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: re-export of the export differs", filepath.Base(f))
		}
	}
}

// checkpatch.pl 6.12's words for two trailers it does not know, and its
// advice that follows.
const (
	originallyBy = "WARNING: Non-standard signature: Originally-by:\n#71: \nOriginally-by: Renzo Davoli <renzo@cs.unibo.it>\n\n"
	fooBy        = "WARNING: Non-standard signature: Foo-by:\n#72: \nFoo-by: Someone <someone@example.org>\n\n"
	advice       = "NOTE: For some of the reported defects, checkpatch may be able to\n      mechanically convert to the typical style using --fix or --fix-inplace.\n"
)

func TestParseCheckpatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		out      string
		clean    bool
		ran      bool
		msgs     int
		e, w     int
		c        int
		accepted int
	}{
		{"clean", "total: 0 errors, 0 warnings, 0 checks, 114 lines checked\n\nx.patch has no obvious style problems", true, true, 0, 0, 0, 0, 0},
		{"checks", "CHECK: extern prototypes should be avoided in .h files\n#92: FILE: arch/um/include/shared/skas/skas.h:14:\n+extern void f(void);\n\ntotal: 0 errors, 0 warnings, 1 checks, 275 lines checked\n",
			false, true, 1, 0, 0, 1, 0},
		{"old format without checks", "WARNING: line over 80 characters\n#10: FILE: a.c:3:\n\ntotal: 0 errors, 1 warnings, 20 lines checked\n", false, true, 1, 0, 1, 0, 0},
		{"died", "Unescaped left brace in regex is illegal here in regex; marked by <-- HERE at scripts/checkpatch.pl line 1\n", false, false, 0, 0, 0, 0, 0},
		{"Originally-by is accepted", originallyBy + "total: 0 errors, 1 warnings, 0 checks, 157 lines checked\n\n" + advice, true, true, 0, 0, 0, 0, 1},
		{"another non-standard signature still counts", fooBy + "total: 0 errors, 1 warnings, 0 checks, 157 lines checked\n", false, true, 1, 0, 1, 0, 0},
		{"both: only Originally-by is accepted", originallyBy + fooBy + "total: 0 errors, 2 warnings, 0 checks, 157 lines checked\n", false, true, 1, 0, 1, 0, 1},
		{"Originally-by in another case is not the exception",
			"WARNING: Non-standard signature: originally-by:\n#71: \n\nWARNING: 'Originally-by:' is the preferred signature form\n#71: \n\ntotal: 0 errors, 2 warnings, 0 checks, 9 lines checked\n",
			false, true, 2, 0, 2, 0, 0},
		{"an accepted message does not hide an error", originallyBy + "ERROR: Missing Signed-off-by: line(s)\n\ntotal: 1 errors, 1 warnings, 0 checks, 157 lines checked\n",
			false, true, 1, 1, 0, 0, 1},
		{"twice", originallyBy + originallyBy + "total: 0 errors, 2 warnings, 0 checks, 157 lines checked\n", true, true, 0, 0, 0, 0, 2},
	}
	for _, tc := range tests {
		v := ParseCheckpatch("p", []byte(tc.out))
		if v.Clean() != tc.clean || v.Ran != tc.ran || len(v.Messages) != tc.msgs || v.Errors != tc.e || v.Warnings != tc.w || v.Checks != tc.c || len(v.Accepted) != tc.accepted {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}
	v := ParseCheckpatch("p", []byte(tests[1].out))
	if v.Messages[0] != "CHECK: extern prototypes should be avoided in .h files (arch/um/include/shared/skas/skas.h:14:)" {
		t.Errorf("message %q", v.Messages[0])
	}
	v = ParseCheckpatch("p", []byte(originallyBy+fooBy+"total: 0 errors, 2 warnings, 0 checks, 157 lines checked\n"))
	if v.Messages[0] != "WARNING: Non-standard signature: Foo-by:" {
		t.Errorf("message %q", v.Messages[0])
	}
	if got, want := v.AcceptedSummary(), "1 accepted: BAD_SIGN_OFF Originally-by, mainline tag checkpatch does not know"; got != want {
		t.Errorf("AcceptedSummary() = %q, want %q", got, want)
	}
	v = ParseCheckpatch("p", []byte(originallyBy+originallyBy+"total: 0 errors, 2 warnings, 0 checks, 157 lines checked\n"))
	if got, want := v.AcceptedSummary(), "2 accepted: BAD_SIGN_OFF Originally-by, mainline tag checkpatch does not know (2 times)"; got != want {
		t.Errorf("AcceptedSummary() = %q, want %q", got, want)
	}
	if got := ParseCheckpatch("p", []byte(tests[0].out)).AcceptedSummary(); got != "" {
		t.Errorf("AcceptedSummary() of a clean run = %q", got)
	}
}

func FuzzParseCheckpatch(f *testing.F) {
	f.Add([]byte("CHECK: x\n#1: FILE: a:1:\n\ntotal: 1 errors, 2 warnings, 3 checks, 4 lines checked\n"))
	f.Add([]byte("total: 0 errors, 0 warnings, 5 lines checked\n"))
	f.Add([]byte(originallyBy + fooBy + "total: 0 errors, 2 warnings, 0 checks, 157 lines checked\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := ParseCheckpatch("p", b)
		if v.Clean() && (!v.Ran || v.Errors+v.Warnings+v.Checks != 0) {
			t.Fatalf("clean verdict %+v", v)
		}
		if v.Errors < 0 || v.Warnings < 0 || v.Checks < 0 {
			t.Fatalf("negative count %+v", v)
		}
		for _, a := range v.Accepted {
			if !bytes.Contains(b, []byte(a.Message)) {
				t.Fatalf("accepted %q, which checkpatch never said", a.Message)
			}
		}
		if !v.Ran && v.Note == "" {
			t.Fatal("a verdict that did not run has no note")
		}
	})
}

func FuzzParsePatchFailure(f *testing.F) {
	f.Add([]byte("checking file kernel/ptrace.c\nHunk #2 FAILED at 833.\n1 out of 2 hunks FAILED\n"))
	f.Add([]byte("can't find file to patch at input line 5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := ParsePatchFailure("p", b)
		if e == nil || e.Error() == "" || e.Patch != "p" {
			t.Fatalf("bad error %+v", e)
		}
	})
}

// TestExportRevision: the series' revision file gives "[PATCH vN n/m]"
// from 2 on, plain "[PATCH n/m]" for 1 or none, and the export carries the
// file along; a revision that is not a positive number is refused.
func TestExportRevision(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file    string // "" for no revision file
		subject string // the cover letter's, "" when Load must fail
	}{
		{"", "Subject: [PATCH 0/2] Test series"},
		{"1\n", "Subject: [PATCH 0/2] Test series"},
		{"2\n", "Subject: [PATCH v2 0/2] Test series"},
		{"12", "Subject: [PATCH v12 0/2] Test series"},
		{"v2\n", ""},
		{"0\n", ""},
		{"-3\n", ""},
	} {
		t.Run(strings.TrimSpace(tc.file), func(t *testing.T) {
			tree, dir := mkSeries(t)
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "revision"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Load(dir)
			if tc.subject == "" {
				if err == nil || !strings.Contains(err.Error(), "revision") {
					t.Fatalf("Load with revision %q: err %v, want a revision error", tc.file, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if err := Export(context.Background(), tree, s, out, Options{}); err != nil {
				t.Fatal(err)
			}
			cover, _ := os.ReadFile(filepath.Join(out, "0000-cover-letter.patch"))
			if !strings.Contains(string(cover), tc.subject+"\n") {
				t.Errorf("cover letter lacks %q:\n%s", tc.subject, cover)
			}
			patches, _ := filepath.Glob(filepath.Join(out, "0001-*.patch"))
			p1, _ := os.ReadFile(patches[0])
			want := strings.Replace(strings.Replace(tc.subject, "0/2", "1/2", 1), "Test series", "ptrace: first", 1)
			if !strings.Contains(string(p1), want+"\n") {
				t.Errorf("patch 1 lacks %q:\n%s", want, p1)
			}
			_, err = os.Stat(filepath.Join(out, "revision"))
			if hasFile := err == nil; hasFile != (s.Revision != 0) {
				t.Errorf("revision file in the export: %v, want %v", hasFile, s.Revision != 0)
			}
			again, err := Load(out)
			if err != nil || again.Revision != s.Revision {
				t.Errorf("the export's revision: %v %v, want %d", again, err, s.Revision)
			}
		})
	}
}

// TestParseHeaderGarbage: a patch file of binary bytes is named as such,
// and no raw byte of it reaches the error.
func TestParseHeaderGarbage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"binary", []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff, '\n', 0xfe}, "binary data"},
		{"control bytes", []byte("hello\x01\x1b[31m\nworld\n"), `not a mail: "malformed header line: hello\x01\x1b[31m"`},
	} {
		_, err := ParseHeader(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			continue
		}
		for _, r := range err.Error() {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				t.Errorf("%s: the error carries a raw byte %q: %q", tc.name, r, err)
				break
			}
		}
	}
}
