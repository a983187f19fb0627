package patch

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/proc"
)

func mboxMsg(from, subject, body string) string {
	return "From " + from + " Mon Sep 17 00:00:00 2001\nFrom: A U Thor <a@example.org>\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nSubject: " +
		subject + "\n\n" + body + "\n"
}

func TestParseMbox(t *testing.T) {
	t.Parallel()
	two := mboxMsg("b4", "[PATCH v2 2/2] um: second", "body two\n>From here on, escaped\n---\n diff") + "\n" +
		mboxMsg("b4", "[PATCH v2 0/2] the cover", "blurb") + "\n" +
		mboxMsg("b4", "[PATCH v2 1/2] ptrace:\n first", "body one\n---\n diff")
	msgs, err := ParseMbox([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, strings.Join([]string{itoa(m.N), itoa(m.Of), m.Subject}, ":"))
	}
	if want := "0:2:the cover 1:2:ptrace: first 2:2:um: second"; strings.Join(got, " ") != want {
		t.Errorf("messages %q, want %q", got, want)
	}
	if !strings.Contains(string(msgs[2].Raw), "\nFrom here on, escaped\n") {
		t.Errorf("mboxrd escape not undone:\n%s", msgs[2].Raw)
	}
	for _, bad := range []struct{ name, in, err string }{
		{"empty", "", "no messages"},
		{"not mbox", "Subject: x\n\nbody\n", "not an mbox"},
		{"two versions", mboxMsg("a", "[PATCH 1/1] x", "b") + "\n" + mboxMsg("b", "[PATCH v2 1/1] x", "b"), "one version"},
		{"only the first of three", mboxMsg("a", "[PATCH 1/3] x", "b"), "the series is incomplete: patch 2/3, 3/3 missing"},
		{"cover and the last", mboxMsg("a", "[PATCH 0/3] c", "b") + "\n" + mboxMsg("a", "[PATCH 3/3] x", "b"), "patch 1/3, 2/3 missing"},
		{"totals differ", mboxMsg("a", "[PATCH 1/2] x", "b") + "\n" + mboxMsg("a", "[PATCH 2/3] y", "b"), "count different totals"},
		{"past the end", mboxMsg("a", "[PATCH 1/2] x", "b") + "\n" + mboxMsg("a", "[PATCH 2/2] y", "b") + "\n" + mboxMsg("a", "[PATCH 3/2] z", "b"), "past the series' end"},
	} {
		if _, err := ParseMbox([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: %v, want %q", bad.name, err, bad.err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSeriesFromMbox: an mbox of the repo's own series becomes a series
// directory whose patches carry the same headers.
func TestSeriesFromMbox(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "patches", "6.12")
	s, err := Load(dir)
	if err != nil {
		t.Skipf("no 6.12 series here: %v", err)
	}
	var mbox strings.Builder
	for _, f := range append([]string{"0000-cover-letter.patch"}, names(s)...) {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		mbox.Write(b)
		mbox.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "series.mbx")
	os.WriteFile(path, []byte(mbox.String()), 0o644)
	got, err := SeriesFromMbox(path, filepath.Join(t.TempDir(), "series"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Patches) != len(s.Patches) || !strings.HasPrefix(got.Cover, "PTRACE_VM") {
		t.Fatalf("%d patches (want %d), cover %q", len(got.Patches), len(s.Patches), proc.FirstLine([]byte(got.Cover)))
	}
	for i := range s.Patches {
		if got.Patches[i].Header.Subject != s.Patches[i].Header.Subject || got.Patches[i].Header.Body != s.Patches[i].Header.Body {
			t.Errorf("patch %d: %q, want %q", i+1, got.Patches[i].Header.Subject, s.Patches[i].Header.Subject)
		}
	}
}

func names(s *Series) []string {
	var out []string
	for _, p := range s.Patches {
		out = append(out, p.Name)
	}
	return out
}

func FuzzParseMbox(f *testing.F) {
	f.Add([]byte(mboxMsg("x", "[PATCH 1/2] a", "b\n---\n") + "\n" + mboxMsg("y", "[PATCH 2/2] c", "d")))
	f.Add([]byte("From \n\n>From x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := ParseMbox(b)
		if err == nil && len(msgs) == 0 {
			t.Fatal("no error and no messages")
		}
	})
}

// TestMboxKeepsMailBytes: a mail cut out of an mbox is byte for byte the
// file it was made from, so a series from an mbox has the same digests
// (and finds the same kept builds) as the directory.
func TestMboxKeepsMailBytes(t *testing.T) {
	t.Parallel()
	a := mboxMsg("x", "[PATCH 1/2] a", "one\n---\n diff")
	b := mboxMsg("y", "[PATCH 2/2] b", "two\n---\n diff")
	msgs, err := ParseMbox([]byte(a + "\n" + b + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(msgs[0].Raw) != a || string(msgs[1].Raw) != b {
		t.Errorf("mails changed:\n%q\n%q", msgs[0].Raw, msgs[1].Raw)
	}
}
