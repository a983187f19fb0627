package compare

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// mixed is a comparison with a bit of everything, and guest text that
// would break a Markdown table.
func mixed() Result {
	base := run(healthy(c612), cell(c73, "failed", pass("probe"), fail("uml")))
	n := cell(c612, "failed", pass("probe"), pass("ptrace_vm", pass("skipcall"),
		report.Test{Name: "skipexit", Status: "fail", Diagnostic: []string{"rax | orig_rax", "second\nline"}}), pass("uml"))
	flaky := cell(c73, report.Flaky, pass("probe"), pass("uml"))
	flaky.Tries = []report.Try{{Status: "failed", Failed: []string{"uml"}}}
	return Compare(Side{Label: "runs/41", Run: base}, Side{Label: "runs/42", Run: run(n, flaky)}, nil, Opts{})
}

// TestText: regressions come first, then the rest in their order.
func TestText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := mixed().Text(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	order := []string{"REGRESSED: 1 cell, 1 test", "Regressions", "6.12/auto/x86_64/default ptrace_vm/skipexit: pass → fail",
		"rax | orig_rax", "Flaky in NEW", "flaky (BASE failed): 1 earlier try failed: uml", "Flaky tests over 2 runs"}
	at := 0
	for _, want := range order {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("no %q after byte %d of:\n%s", want, at, out)
		}
		at += i
	}
	if !strings.Contains(out, "\n      second\n      line\n") {
		t.Errorf("a diagnostic's own newlines are not indented:\n%s", out)
	}
	if !strings.HasPrefix(out, "ptvmlab matrix compare: BASE runs/41 → NEW runs/42\n") {
		t.Errorf("first line:\n%s", out)
	}
}

// TestMarkdown: sections in the documented order, and guest text cannot
// break a table: '|' escaped, newlines joined.
func TestMarkdown(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := mixed().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if !strings.Contains(md, `rax \| orig_rax; second line`) {
		t.Errorf("diagnostics not escaped:\n%s", md)
	}
	if strings.Index(md, "### Regressions") > strings.Index(md, "### Flaky in NEW") || !strings.Contains(md, "**REGRESSED") {
		t.Errorf("regressions are not first, or not bold:\n%s", md)
	}
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		if cells := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); cells != 4 {
			t.Errorf("a table row with %d unescaped bars, want 4: %q", cells, l)
		}
	}
}

// TestJSON: the documented field names, lists as [] when empty, and the
// result reads back.
func TestJSON(t *testing.T) {
	t.Parallel()
	r := mixed()
	var b bytes.Buffer
	if err := r.JSON(&b); err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"base", "new", "regressed", "thresholds", "cell_regressions", "regressions", "cell_fixes",
		"fixes", "flaky", "quarantined", "new_cells", "vanished_cells", "new_tests", "vanished_tests", "deselected", "changed_cells",
		"changed_tests", "boot_times", "test_times", "bench", "runs", "flakes", "history"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("no %q in the JSON", name)
		}
	}
	if len(fields) != 23 {
		t.Errorf("%d fields, want 23 (a field added is a field to document in doc.go)", len(fields))
	}
	for name, want := range map[string]string{"regressed": "true", "quarantined": "[]", "bench": "null",
		"thresholds": `{"boot_time":"50%+5s","test_time":"50%+1s","bench":"25%"}`} {
		if got := string(fields[name]); strings.Join(strings.Fields(got), "") != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	var back Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.TestRegressions, r.TestRegressions) || back.Opts != r.Opts || !reflect.DeepEqual(back.History, r.History) {
		t.Errorf("does not read back:\n got %+v\nwant %+v", back, r)
	}
}
