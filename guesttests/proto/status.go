package proto

import (
	"fmt"
	"strings"
)

// Status is a test's verdict as the guest's KTAP carries it: the suite
// writes it with ResultLine and the host (lab/ktap) reads it back with
// StatusOf. The words are KTAP's own; this is where both sides take them.
type Status string

// The verdicts a result line can carry.
const (
	StatusPass  Status = "pass"
	StatusFail  Status = "fail"
	StatusSkip  Status = "skip"  // "ok N name # SKIP why"
	StatusXFail Status = "xfail" // "not ok N name # XFAIL why" (kselftest's)
	StatusTodo  Status = "todo"
	StatusError Status = "error" // "# ERROR" directive
)

// directives are the statuses a result line's directive sets, whatever
// its ok/not ok.
var directives = []struct {
	word   string
	status Status
}{{"SKIP", StatusSkip}, {"XFAIL", StatusXFail}, {"TODO", StatusTodo}, {"ERROR", StatusError}}

// StatusOf is the status of a result line that says ok (or not ok) with
// directive, the text after its '#'.
func StatusOf(ok bool, directive string) Status {
	d := strings.ToUpper(strings.TrimSpace(directive))
	for _, x := range directives {
		if strings.HasPrefix(d, x.word) {
			return x.status
		}
	}
	if ok {
		return StatusPass
	}
	return StatusFail
}

// ResultLine is the KTAP result line of test n called name: s decides its
// ok or not ok and its directive word, and text follows (a skip's reason,
// a passing test's result). Newlines in text become spaces: a result is
// one line.
func ResultLine(s Status, n int, name, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	word := "ok"
	if s == StatusFail || s == StatusXFail || s == StatusError {
		word = "not ok"
	}
	directive := text
	for _, x := range directives {
		if x.status == s {
			directive = strings.TrimSpace(x.word + " " + text)
		}
	}
	if directive == "" {
		return fmt.Sprintf("%s %d %s", word, n, name)
	}
	return fmt.Sprintf("%s %d %s # %s", word, n, name, directive)
}

// ProbeTest is the test whose result says which PTRACE_VM level the guest
// kernel offers, as ProbeResult writes it.
const ProbeTest = "probe"

// ProbeResult is the probe test's result text for level l.
func ProbeResult(l Level) string { return "level=" + string(l) }

// ProbeLevel reads the level from the probe test's result text (its
// directive); false when it names none.
func ProbeLevel(text string) (Level, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(text), "level=")
	if !ok {
		return "", false
	}
	l, err := ParseLevel(v)
	return l, err == nil
}
