// Package ktap parses KTAP, the kernel selftests' test output format
// (Documentation/dev-tools/ktap.rst), as the guest writes it on the results
// channel. The parser never fails and never panics: garbage, truncation and
// interleaved lines become Problems, and Complete says whether the stream
// kept its plan.
package ktap

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// Status is a test's verdict: the guest contract's (proto.Status), which
// the guest suite writes with proto.ResultLine.
type Status = proto.Status

// The verdicts a result line can carry.
const (
	Pass  = proto.StatusPass
	Fail  = proto.StatusFail
	Skip  = proto.StatusSkip
	XFail = proto.StatusXFail
	Todo  = proto.StatusTodo
	Error = proto.StatusError // "# ERROR" directive
)

// Result is one test's result line, with the diagnostic lines that came
// before it and its subtests.
type Result struct {
	Number     int      `json:"number"`
	Name       string   `json:"name"`
	Status     Status   `json:"status"`
	Directive  string   `json:"directive,omitempty"` // the text after '#' on the result line
	Diagnostic []string `json:"diagnostic,omitempty"`
	Subtests   []Result `json:"subtests,omitempty"`
	SubPlan    int      `json:"subplan,omitempty"`
}

// Report is a parsed stream.
type Report struct {
	Version  string   `json:"version"` // "KTAP version 1", "TAP version 13", or ""
	Plan     int      `json:"plan"`    // -1 when no plan line came
	Results  []Result `json:"results"`
	BailOut  string   `json:"bail_out,omitempty"`
	Problems []string `json:"problems,omitempty"` // lines that were not KTAP, and structural faults
	// Progress counts the guest's progress lines ("# progress: …"), which
	// keep the host's silence watchdog fed during long tests and belong
	// to no test.
	Progress int `json:"progress,omitempty"`
}

// ProgressPrefix starts a progress line: a KTAP diagnostic that the guest
// sends while a long test runs.
const ProgressPrefix = proto.ProgressPrefix

// Complete reports whether the stream had a header, a plan, and as many
// top-level results as the plan promised.
func (r *Report) Complete() bool {
	return r.Version != "" && r.Plan >= 0 && len(r.Results) == r.Plan && r.BailOut == ""
}

// Failed lists the names of top-level results that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == Fail || res.Status == Error {
			out = append(out, res.Name)
		}
	}
	return out
}

var (
	versionRe = regexp.MustCompile(`^(KTAP version \d+|TAP version \d+)$`)
	planRe    = regexp.MustCompile(`^1\.\.(\d+)`)
	resultRe  = regexp.MustCompile(`^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$`)
)

const maxProblems = 50

// level is one nesting level being parsed.
type level struct {
	indent  int
	version string
	plan    int
	results []Result
	diag    []string
	// sub and subPlan hold the subtests of the next result line at this
	// level: the level nested below it, closed when the indentation dropped.
	sub     []Result
	subPlan int
}

// pop closes the innermost level, handing its results to its parent.
func pop(stack []*level) []*level {
	child, parent := stack[len(stack)-1], stack[len(stack)-2]
	parent.sub, parent.subPlan = child.results, child.plan
	parent.diag = append(parent.diag, child.diag...)
	return stack[:len(stack)-1]
}

// Parse reads a KTAP stream to its end.
func Parse(r io.Reader) *Report {
	rep := &Report{Plan: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sc.Split(scanLines)
	stack := []*level{{indent: 0, plan: -1}}
	problem := func(format string, args ...any) {
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		} else if len(rep.Problems) == maxProblems {
			rep.Problems = append(rep.Problems, "more problems not shown")
		}
	}
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(raw) {
			problem("line %d: not text", n)
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, ProgressPrefix) {
			// The guest's keep-alive for the host's silence watchdog:
			// it belongs to no test.
			rep.Progress++
			continue
		}
		// A nested header opens a level; anything less indented than the
		// current level closes it.
		if versionRe.MatchString(line) {
			if indent == 0 && rep.Version == "" && len(stack) == 1 && stack[0].plan < 0 && len(stack[0].results) == 0 {
				rep.Version = line
				stack[0].version = line
				continue
			}
			if indent > stack[len(stack)-1].indent {
				stack = append(stack, &level{indent: indent, version: line, plan: -1})
				continue
			}
			problem("line %d: unexpected header %q", n, line)
			continue
		}
		for len(stack) > 1 && indent < stack[len(stack)-1].indent {
			stack = pop(stack)
		}
		cur := stack[len(stack)-1]
		if indent > cur.indent && !strings.HasPrefix(line, "#") {
			// Subtests without their own header (older kselftest style).
			cur = &level{indent: indent, plan: -1}
			stack = append(stack, cur)
		}
		switch {
		case strings.HasPrefix(line, "#"):
			cur.diag = append(cur.diag, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		case strings.HasPrefix(line, "Bail out!"):
			rep.BailOut = strings.TrimSpace(strings.TrimPrefix(line, "Bail out!"))
		case planRe.MatchString(line):
			m := planRe.FindStringSubmatch(line)
			p, err := strconv.Atoi(m[1])
			if err != nil || p > 1_000_000 {
				problem("line %d: bad plan %q", n, line)
				continue
			}
			if cur.plan >= 0 {
				problem("line %d: second plan %q", n, line)
				continue
			}
			cur.plan = p
		case resultRe.MatchString(line):
			res := parseResult(line)
			res.Diagnostic = cur.diag
			res.Subtests, res.SubPlan = cur.sub, cur.subPlan
			cur.diag, cur.sub, cur.subPlan = nil, nil, 0
			if want := len(cur.results) + 1; res.Number != want {
				problem("line %d: result %d out of order (want %d)", n, res.Number, want)
			}
			cur.results = append(cur.results, res)
		default:
			problem("line %d: not KTAP: %q", n, clip(line))
		}
	}
	if err := sc.Err(); err != nil {
		problem("read: %v", err)
	}
	for len(stack) > 1 {
		sub := stack[len(stack)-1]
		problem("stream ended inside a nested test (%d results, plan %d)", len(sub.results), sub.plan)
		stack = pop(stack)
	}
	top := stack[0]
	rep.Plan = top.plan
	rep.Results = top.results
	if len(top.diag) > 0 && len(rep.Results) < rep.Plan {
		problem("stream ended after %d of %d results; last diagnostics: %s", len(rep.Results), rep.Plan, clip(strings.Join(top.diag, " | ")))
	}
	return rep
}

func parseResult(line string) Result {
	m := resultRe.FindStringSubmatch(line)
	num, _ := strconv.Atoi(m[2])
	res := Result{Number: num, Name: strings.TrimSpace(m[3]), Directive: strings.TrimSpace(m[4])}
	res.Status = proto.StatusOf(m[1] == "ok", res.Directive)
	return res
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// scanLines is bufio.ScanLines that also ends a line at a NUL, so binary
// garbage does not glue real lines together.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\n\x00"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
