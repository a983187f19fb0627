package patch

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	// numberRe finds "1/2" in "[PATCH v2 1/2]" or "[RFC PATCH 01/12]".
	numberRe = regexp.MustCompile(`^\[[^\]]*?\b0*(\d+)/(\d+)\]`)
	slugRe   = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// MboxPatch is one message of an mbox, as a series file.
type MboxPatch struct {
	N, Of   int    // its number: N of Of; 0 for a cover letter
	Subject string // without the [PATCH …] prefix
	Raw     []byte // the message, starting at its "From " line
}

// ParseMbox splits an mbox (as b4 am or git format-patch --stdout write
// it) into its messages and orders them by their [PATCH n/m] number. A
// 0/m message is the cover letter. Lines escaped as ">From " by mboxrd are
// unescaped.
func ParseMbox(b []byte) ([]MboxPatch, error) {
	var msgs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	prevBlank := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "From ") && prevBlank {
			if cur.Len() > 0 {
				msgs = append(msgs, append([]byte(nil), cur.Bytes()...))
			}
			cur.Reset()
		} else if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") && strings.HasPrefix(line, ">") {
			line = line[1:]
		}
		cur.WriteString(line + "\n")
		prevBlank = line == ""
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	if cur.Len() > 0 {
		msgs = append(msgs, append([]byte(nil), cur.Bytes()...))
	}
	var out []MboxPatch
	for i, m := range msgs {
		// The blank line before a "From " line separates messages; it is
		// not part of the one before it.
		m = bytes.TrimSuffix(m, []byte("\n\n"))
		if len(m) > 0 && m[len(m)-1] != '\n' {
			m = append(m, '\n')
		}
		if !bytes.HasPrefix(m, []byte("From ")) {
			return nil, fmt.Errorf("mbox: message %d does not start with a \"From \" line: not an mbox", i+1)
		}
		h, err := ParseHeader(m)
		if err != nil {
			return nil, fmt.Errorf("mbox: message %d: %w", i+1, err)
		}
		p := MboxPatch{N: 1, Of: 1, Subject: h.Subject, Raw: m}
		raw := rawSubject(m)
		if mm := numberRe.FindStringSubmatch(raw); mm != nil {
			p.N, _ = strconv.Atoi(mm[1])
			p.Of, _ = strconv.Atoi(mm[2])
		} else if len(msgs) > 1 {
			p.N = i + 1
			p.Of = len(msgs)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mbox: no messages")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].N < out[j].N })
	for i := 1; i < len(out); i++ {
		if out[i].N == out[i-1].N {
			return nil, fmt.Errorf("mbox: two messages are patch %d/%d: save one version of the series (b4 am -v N)", out[i].N, out[i].Of)
		}
	}
	if err := checkComplete(out); err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	return out, nil
}

// checkComplete refuses a series that is not whole, as b4 does: every
// message must count the same total, and each of 1..total must be there
// (the cover letter, 0, may be left out).
func checkComplete(msgs []MboxPatch) error {
	of := msgs[len(msgs)-1].Of
	have := map[int]bool{}
	for _, m := range msgs {
		if m.Of != of {
			return fmt.Errorf("patch %d/%d and patch %d/%d count different totals: save one version of the series (b4 am -v N)",
				m.N, m.Of, msgs[len(msgs)-1].N, of)
		}
		if m.N > of {
			return fmt.Errorf("patch %d/%d is numbered past the series' end", m.N, m.Of)
		}
		have[m.N] = true
	}
	var missing []string
	for n := 1; n <= of; n++ {
		if !have[n] {
			missing = append(missing, fmt.Sprintf("%d/%d", n, of))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the series is incomplete: patch %s missing; save the whole thread (b4 am MSGID)", strings.Join(missing, ", "))
	}
	return nil
}

// rawSubject is the message's Subject header, unfolded, before decoding.
func rawSubject(m []byte) string {
	var subj string
	in := false
	for _, l := range strings.Split(string(m), "\n") {
		if l == "" {
			break
		}
		switch {
		case strings.HasPrefix(strings.ToLower(l), "subject:"):
			subj, in = strings.TrimSpace(l[len("subject:"):]), true
		case in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			subj += " " + strings.TrimSpace(l)
		default:
			in = false
		}
	}
	return subj
}

// SeriesFromMbox writes the mbox at path as a series directory in dir
// (quilt series file, one file per patch, the cover letter's subject and
// body as cover) and loads it.
func SeriesFromMbox(path, dir string) (*Series, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	msgs, err := ParseMbox(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, m := range msgs {
		if m.N == 0 {
			h, _ := ParseHeader(m.Raw)
			if err := os.WriteFile(filepath.Join(dir, "cover"), []byte(h.Subject+"\n\n"+h.Body), 0o644); err != nil {
				return nil, err
			}
			continue
		}
		slug := strings.Trim(slugRe.ReplaceAllString(m.Subject, "-"), "-")
		if len(slug) > 52 {
			slug = slug[:52]
		}
		name := fmt.Sprintf("%04d-%s.patch", m.N, slug)
		if err := os.WriteFile(filepath.Join(dir, name), m.Raw, 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: the mbox holds only a cover letter", path)
	}
	if err := os.WriteFile(filepath.Join(dir, "series"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return Load(dir)
}
