// Package patch handles the PTRACE_VM series: a quilt-style directory of
// git format-patch mails. It loads a series, applies it to a tree (all or
// nothing), regenerates the mails from an applied tree byte for byte
// reproducibly, refreshes the series onto another base, and runs the
// tree's own checkpatch.pl on each mail.
package patch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Patch is one mail of a series.
type Patch struct {
	Name   string // file name in the series directory
	Path   string
	Digest string // sha256 of the file
	Header Header
	Raw    []byte
}

// Header is what a mail says about its commit.
type Header struct {
	From    string // "Name <email>"
	Date    string // RFC 2822, as in the mail
	Subject string // without the "[PATCH n/m]" prefix
	Body    string // the commit message body, up to the "---" line
}

// Series is an ordered list of patches, as the series file lists them.
type Series struct {
	Dir     string
	Patches []Patch
	// Cover is the cover letter's subject and blurb, from the series
	// directory's "cover" file: the first line is the subject.
	Cover string
	// Revision is the series' version from the directory's "revision"
	// file (a number, as b4 keeps it): 2 and up are posted as
	// "[PATCH vN n/m]"; 0 (no file) and 1 as "[PATCH n/m]".
	Revision int
}

// Load reads dir/series and every patch it names.
func Load(dir string) (*Series, error) {
	// Patches are applied with patch -d, which resolves -i after the chdir.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "series"))
	if err != nil {
		return nil, fmt.Errorf("series %s: %w (a series directory holds a quilt-style series file)", dir, err)
	}
	s := &Series{Dir: dir}
	if c, err := os.ReadFile(filepath.Join(dir, "cover")); err == nil {
		s.Cover = string(c)
	}
	if r, err := os.ReadFile(filepath.Join(dir, "revision")); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(r)))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("series %s: revision file holds %q: write the series' version as a number, e.g. 2", dir, strings.TrimSpace(string(r)))
		}
		s.Revision = n
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		name := strings.Fields(line)[0]
		p, err := loadPatch(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("series %s line %d: %w", dir, n, err)
		}
		s.Patches = append(s.Patches, p)
	}
	if len(s.Patches) == 0 {
		return nil, fmt.Errorf("series %s: the series file lists no patches", dir)
	}
	return s, nil
}

func loadPatch(path string) (Patch, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Patch{}, err
	}
	sum := sha256.Sum256(raw)
	h, err := ParseHeader(raw)
	if err != nil {
		return Patch{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return Patch{Name: filepath.Base(path), Path: path, Digest: hex.EncodeToString(sum[:]), Header: h, Raw: raw}, nil
}

// ParseHeader reads a format-patch mail's From, Date, Subject and body.
func ParseHeader(raw []byte) (Header, error) {
	// Skip the mbox "From <hash> <date>" line.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		// net/mail quotes the offending line raw: binary garbage would
		// reach the terminal. Say what it is instead.
		if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
			return Header{}, fmt.Errorf("not a mail: binary data (git format-patch writes text mails)")
		}
		return Header{}, fmt.Errorf("not a mail: %s", strconv.QuoteToASCII(truncate(err.Error(), 120)))
	}
	dec := new(mimeDecoder)
	h := Header{From: dec.decode(m.Header.Get("From")), Date: m.Header.Get("Date"), Subject: stripPrefix(dec.decode(m.Header.Get("Subject")))}
	if h.From == "" || h.Date == "" || h.Subject == "" {
		return h, fmt.Errorf("mail lacks From, Date or Subject")
	}
	body, err := readAll(m)
	if err != nil {
		return h, err
	}
	if i := strings.Index(body, "\n---\n"); i >= 0 {
		body = body[:i+1]
	} else if strings.HasPrefix(body, "---\n") {
		body = ""
	}
	h.Body = body
	return h, nil
}

// SubjectPrefix is what goes in the brackets of every mail's subject
// before the number: "PATCH", or "PATCH v2" from revision 2 on.
func (s *Series) SubjectPrefix() string {
	if s.Revision >= 2 {
		return fmt.Sprintf("PATCH v%d", s.Revision)
	}
	return "PATCH"
}

// stripPrefix removes "[PATCH n/m] " and similar tags from a subject.
func stripPrefix(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			break
		}
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
