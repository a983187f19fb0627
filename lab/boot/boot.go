// Package boot turns what a machine produced (vm.Output) into a verdict: one
// of passed, failed, panic, timeout or infra, with the parsed KTAP; a cell
// that never booted is invalid (its input) or interrupted.
package boot

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/ktap"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Status is how a boot ended.
type Status string

// The statuses a boot ends as, exactly one each.
const (
	Passed  Status = "passed"  // the guest tests ran and all passed
	Failed  Status = "failed"  // the guest tests ran and some failed, or their report is broken
	Panic   Status = "panic"   // the console shows a kernel panic, Oops or BUG
	Timeout Status = "timeout" // the machine ran past its limit and was stopped
	Infra   Status = "infra"   // QEMU could not start, or the results channel never opened
	// Invalid: the cell's input does not fit (its source is missing, its
	// series does not apply, its config drops symbols); nothing booted.
	Invalid Status = "invalid"
	// Interrupted: ptvmlab got SIGINT or SIGTERM before the boot ended.
	Interrupted Status = "interrupted"
)

// Outcome is one boot's verdict.
type Outcome struct {
	Status    Status        `json:"status"`
	Title     string        `json:"title"` // one line: why this status
	Took      time.Duration `json:"-"`
	Probe     proto.Level   `json:"probe,omitempty"` // the PTRACE_VM level the probe reported
	KTAP      *ktap.Report  `json:"ktap,omitempty"`
	Output    *vm.Output    `json:"-"`
	FirstKTAP time.Duration `json:"-"`
}

// Classify decides a boot's status from its output; bootErr is the error
// the backend returned (an infrastructure failure when not nil).
func Classify(out *vm.Output, bootErr error) Outcome {
	if bootErr != nil {
		o := Outcome{Status: Infra, Title: bootErr.Error(), Output: out}
		if out != nil {
			o.Took = out.Took
		}
		return o
	}
	o := Outcome{Output: out, Took: out.Took, FirstKTAP: out.FirstResult}
	if len(out.Results) > 0 {
		o.KTAP = ktap.Parse(bytes.NewReader(out.Results))
		o.Probe = probeLevel(o.KTAP)
	}
	switch {
	case out.Crashed != "":
		o.Status, o.Title = Panic, out.Crashed
	case out.TimedOut && out.Silent > 0:
		last := out.LastLine
		if last == "" {
			last = "(no console output)"
		}
		o.Status, o.Title = Timeout, fmt.Sprintf("silent for %ds after: %s", int(out.Silent.Round(time.Second)/time.Second), last)
		if o.KTAP != nil {
			o.Title += fmt.Sprintf(" (%d of %d results came)", len(o.KTAP.Results), o.KTAP.Plan)
		}
	case out.TimedOut:
		o.Status, o.Title = Timeout, fmt.Sprintf("no end after %s; machine stopped", out.Took.Round(time.Second))
		if o.KTAP != nil {
			o.Title += fmt.Sprintf(" (%d of %d results came)", len(o.KTAP.Results), o.KTAP.Plan)
		}
	case !out.Opened:
		o.Status, o.Title = Infra, "results channel never opened"
		if out.ExitErr != nil {
			o.Title += ": " + out.ExitErr.Error()
		}
	case !o.KTAP.Complete():
		o.Status = Failed
		o.Title = fmt.Sprintf("results are not a complete KTAP report (%d results, plan %d", len(o.KTAP.Results), o.KTAP.Plan)
		if n := len(o.KTAP.Problems); n > 0 {
			o.Title += fmt.Sprintf(", %d bad lines, first: %s", n, o.KTAP.Problems[0])
		}
		o.Title += ")"
	case len(o.KTAP.Failed()) > 0:
		o.Status, o.Title = Failed, TestsFailed+strings.Join(o.KTAP.Failed(), ", ")
	default:
		o.Status, o.Title = Passed, passedTitle(o.KTAP)
	}
	return o
}

// TestsFailed starts the title of a Failed boot whose report was complete
// and whose tests failed (not a broken report).
const TestsFailed = "failed: "

// passedTitle says how many tests passed and how many were skipped.
func passedTitle(r *ktap.Report) string {
	skipped := 0
	for _, res := range r.Results {
		if res.Status == ktap.Skip {
			skipped++
		}
	}
	t := fmt.Sprintf("%d tests passed", len(r.Results)-skipped)
	if skipped > 0 {
		t += fmt.Sprintf(", %d skipped", skipped)
	}
	return t
}

// probeLevel reads the level the probe test's result line names.
func probeLevel(r *ktap.Report) proto.Level {
	for _, res := range r.Results {
		if res.Name == proto.ProbeTest {
			if l, ok := proto.ProbeLevel(res.Directive); ok {
				return l
			}
		}
	}
	return ""
}
