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

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// Verdict is checkpatch.pl's word on one patch.
type Verdict struct {
	Patch    string   `json:"patch"`
	Errors   int      `json:"errors"`
	Warnings int      `json:"warnings"`
	Checks   int      `json:"checks"`
	Lines    int      `json:"lines"`
	Messages []string `json:"messages,omitempty"` // "ERROR: …", "WARNING: …", "CHECK: …" with their location
	// Accepted are the messages the lab's policy (Accepted) lets pass, one
	// per occurrence; they are not counted in Errors, Warnings or Checks.
	Accepted []Exception `json:"accepted,omitempty"`
	// Ran is false when checkpatch could not judge the patch (it died);
	// Note then says why.
	Ran  bool   `json:"ran"`
	Note string `json:"note,omitempty"`
}

// Clean is the bar: checkpatch ran and found no error, warning or check
// beyond the accepted exceptions.
func (v Verdict) Clean() bool { return v.Ran && v.Errors == 0 && v.Warnings == 0 && v.Checks == 0 }

// AcceptedSummary says what was accepted, e.g. "1 accepted: BAD_SIGN_OFF
// Originally-by, mainline tag checkpatch does not know"; "" for nothing.
func (v Verdict) AcceptedSummary() string {
	if len(v.Accepted) == 0 {
		return ""
	}
	var kinds []string
	n := map[string]int{}
	for _, a := range v.Accepted {
		k := a.Name + ", " + a.Why
		if n[k] == 0 {
			kinds = append(kinds, k)
		}
		n[k]++
	}
	for i, k := range kinds {
		if n[k] > 1 {
			kinds[i] = fmt.Sprintf("%s (%d times)", k, n[k])
		}
	}
	return fmt.Sprintf("%d accepted: %s", len(v.Accepted), strings.Join(kinds, "; "))
}

// Exception is one checkpatch message the lab accepts on purpose.
type Exception struct {
	// Message is checkpatch's message line, matched exactly (without
	// --show-types, which 2.6-era scripts do not know).
	Message string `json:"message"`
	Name    string `json:"name"` // checkpatch's type and what it is about
	Why     string `json:"why"`
}

// Accepted is the lab's checkpatch policy: the messages that do not count
// against a patch. Everything else does, so the list names each exception
// whole; a near miss (another tag, another case) is still a warning.
var Accepted = []Exception{
	// checkpatch.pl's $signature_tags lists Signed-off-by, Acked-by,
	// Reviewed-by and a few more, not Originally-by:, which mainline
	// commits use for credit to an earlier author (tglx's habit, several
	// hundred commits). Patches 1 and 2 credit Renzo Davoli's 2009 series
	// with it.
	{Message: "WARNING: Non-standard signature: Originally-by:", Name: "BAD_SIGN_OFF Originally-by", Why: "mainline tag checkpatch does not know"},
}

var (
	totalRe = regexp.MustCompile(`^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?(\d+) lines checked`)
	msgRe   = regexp.MustCompile(`^(ERROR|WARNING|CHECK): `)
)

// ParseCheckpatch reads checkpatch.pl's output for one patch, under the
// lab's policy (Accepted): a message it lists goes to Accepted and comes
// off its count. Ran is false when no "total:" line came (checkpatch died
// or printed something else).
func ParseCheckpatch(name string, out []byte) Verdict {
	return parseCheckpatch(name, out, Accepted)
}

func parseCheckpatch(name string, out []byte, policy []Exception) Verdict {
	v := Verdict{Patch: name}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var cur string
	accepted := map[string]int{} // ERROR, WARNING, CHECK: how many to take off
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
			if cur != "" && len(v.Messages) < 100 {
				v.Messages = append(v.Messages, cur) // no blank line after it
			}
			if e, ok := exceptionFor(line, policy); ok {
				v.Accepted = append(v.Accepted, e)
				accepted[msgRe.FindStringSubmatch(line)[1]]++
				cur = ""
				continue
			}
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
	// The total counts accepted messages too. A total below the messages
	// it printed would be checkpatch's own miscount: never below zero.
	v.Errors = max(0, v.Errors-accepted["ERROR"])
	v.Warnings = max(0, v.Warnings-accepted["WARNING"])
	v.Checks = max(0, v.Checks-accepted["CHECK"])
	return v
}

func exceptionFor(line string, policy []Exception) (Exception, bool) {
	line = strings.TrimRight(line, " \t")
	for _, e := range policy {
		if line == e.Message {
			return e, true
		}
	}
	return Exception{}, false
}

// Checker is one checkpatch.pl: the script, the directory it runs in (a
// kernel tree's top, where it finds MAINTAINERS and its spelling list) and
// the arguments it gets before each patch.
type Checker struct {
	Name   string // which checkpatch.pl this is, for reports
	Script string
	Dir    string
	Args   []string
}

// TreeChecker is tree's own scripts/checkpatch.pl --strict, run from the
// tree's top.
func TreeChecker(tree string) (Checker, error) {
	script := filepath.Join(tree, "scripts", "checkpatch.pl")
	if _, err := os.Stat(script); err != nil {
		return Checker{}, fmt.Errorf("checkpatch: %w (the kernel tree has no scripts/checkpatch.pl)", err)
	}
	return Checker{Name: "the tree's checkpatch.pl --strict", Script: script, Dir: tree, Args: []string{"--strict"}}, nil
}

// FixedTreeChecker is the tree's own checkpatch.pl with fix applied to a
// copy of it in scratch (the tree stays read-only): 2.6-era scripts die on
// today's perl without one.
func FixedTreeChecker(ctx context.Context, tree string, fix *Series, scratch string) (Checker, error) {
	c, err := TreeChecker(tree)
	if err != nil {
		return c, err
	}
	script := filepath.Join(scratch, "scripts", "checkpatch.pl")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		return c, err
	}
	if err := cache.CopyFile(c.Script, script); err != nil {
		return c, err
	}
	if err := os.Chmod(script, 0o644); err != nil {
		return c, err
	}
	if err := Apply(ctx, scratch, fix, Options{}); err != nil {
		return c, fmt.Errorf("checkpatch fix %s: %w", fix.Dir, err)
	}
	c.Script = script
	c.Name = fmt.Sprintf("the tree's checkpatch.pl --strict, with %s", filepath.Base(fix.Patches[0].Name))
	return c, nil
}

// Check runs c on each patch of s.
func Check(ctx context.Context, c Checker, s *Series) ([]Verdict, error) {
	var out []Verdict
	for _, p := range s.Patches {
		abs, err := filepath.Abs(p.Path)
		if err != nil {
			return nil, err
		}
		args := append(append([]string{c.Script}, c.Args...), abs)
		cmd := proc.Command(ctx, "perl", args...)
		cmd.Dir = c.Dir
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
