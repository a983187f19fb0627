package patch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Verdict is checkpatch.pl's word on one patch.
type Verdict struct {
	Patch    string   `json:"patch"`
	Errors   int      `json:"errors"`
	Warnings int      `json:"warnings"`
	Checks   int      `json:"checks"`
	Lines    int      `json:"lines"`
	Messages []string `json:"messages,omitempty"` // "ERROR: …", "WARNING: …", "CHECK: …" with their location
	// Ran is false when checkpatch could not judge the patch (it died);
	// Note then says why.
	Ran  bool   `json:"ran"`
	Note string `json:"note,omitempty"`
}

// Clean is the bar: checkpatch ran and found no error, warning or check.
func (v Verdict) Clean() bool { return v.Ran && v.Errors == 0 && v.Warnings == 0 && v.Checks == 0 }

var (
	totalRe = regexp.MustCompile(`^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?(\d+) lines checked`)
	msgRe   = regexp.MustCompile(`^(ERROR|WARNING|CHECK): `)
)

// ParseCheckpatch reads checkpatch.pl's output for one patch. Ran is false
// when no "total:" line came (checkpatch died or printed something else).
func ParseCheckpatch(name string, out []byte) Verdict {
	v := Verdict{Patch: name}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var cur string
	for sc.Scan() {
		line := sc.Text()
		if m := totalRe.FindStringSubmatch(line); m != nil {
			v.Ran = true
			v.Errors, _ = strconv.Atoi(m[1])
			v.Warnings, _ = strconv.Atoi(m[2])
			v.Checks, _ = strconv.Atoi(m[3])
			v.Lines, _ = strconv.Atoi(m[4])
			continue
		}
		switch {
		case msgRe.MatchString(line):
			cur = line
		case cur != "" && strings.HasPrefix(line, "#") && strings.Contains(line, "FILE: "):
			cur += " (" + strings.TrimSpace(line[strings.Index(line, "FILE: ")+6:]) + ")"
		case cur != "" && strings.TrimSpace(line) == "":
			if len(v.Messages) < 100 {
				v.Messages = append(v.Messages, cur)
			}
			cur = ""
		}
	}
	if cur != "" && len(v.Messages) < 100 {
		v.Messages = append(v.Messages, cur)
	}
	if !v.Ran {
		v.Note = "checkpatch.pl printed no verdict: " + lastLine(out)
	}
	return v
}

// Check runs tree's scripts/checkpatch.pl --strict on each patch of s, from
// the tree's top directory (checkpatch reads the tree's spelling list and
// MAINTAINERS).
func Check(ctx context.Context, tree string, s *Series) ([]Verdict, error) {
	script := filepath.Join(tree, "scripts", "checkpatch.pl")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("checkpatch: %w (the kernel tree has no scripts/checkpatch.pl)", err)
	}
	var out []Verdict
	for _, p := range s.Patches {
		abs, err := filepath.Abs(p.Path)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "perl", script, "--strict", abs)
		cmd.Dir = tree
		res, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return nil, fmt.Errorf("run checkpatch.pl: %w", err)
		}
		out = append(out, ParseCheckpatch(p.Name, res))
	}
	return out, nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
