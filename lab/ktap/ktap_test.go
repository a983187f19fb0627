package ktap

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		complete bool
		plan     int
		statuses []Status
		failed   []string
		problems int
	}{
		{
			name:     "passing run",
			in:       "KTAP version 1\n1..2\n# probe: SKIPEXIT ignored\nok 1 probe # level=none\nok 2 baseline\n",
			complete: true, plan: 2, statuses: []Status{Pass, Pass},
		},
		{
			name:     "failure and skip",
			in:       "KTAP version 1\n1..3\nnot ok 1 a\nok 2 b # SKIP no seccomp\nok 3 c # XFAIL known\n",
			complete: true, plan: 3, statuses: []Status{Fail, Skip, XFail}, failed: []string{"a"},
		},
		{
			name:     "truncated",
			in:       "KTAP version 1\n1..3\nok 1 a\n# b: started\n",
			complete: false, plan: 3, statuses: []Status{Pass}, problems: 1,
		},
		{
			name:     "no header",
			in:       "1..1\nok 1 a\n",
			complete: false, plan: 1, statuses: []Status{Pass},
		},
		{
			name:     "garbage",
			in:       "\x00\xff\xfe garbage\nmore garbage\n",
			complete: false, plan: -1, problems: 2,
		},
		{
			name:     "interleaved console lines",
			in:       "KTAP version 1\n1..1\n[    1.234] random: crng init done\nok 1 a\n",
			complete: true, plan: 1, statuses: []Status{Pass}, problems: 1,
		},
		{
			name:     "TAP 13 with dash",
			in:       "TAP version 13\n1..1\nok 1 - a\n",
			complete: true, plan: 1, statuses: []Status{Pass},
		},
		{
			name:     "bail out",
			in:       "KTAP version 1\n1..2\nok 1 a\nBail out! kernel too old\n",
			complete: false, plan: 2, statuses: []Status{Pass},
		},
		{
			name:     "out of order",
			in:       "KTAP version 1\n1..2\nok 2 b\nok 1 a\n",
			complete: true, plan: 2, statuses: []Status{Pass, Pass}, problems: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Parse(strings.NewReader(tc.in))
			if r.Complete() != tc.complete {
				t.Errorf("Complete() = %v, want %v (report %+v)", r.Complete(), tc.complete, r)
			}
			if r.Plan != tc.plan {
				t.Errorf("Plan = %d, want %d", r.Plan, tc.plan)
			}
			var got []Status
			for _, res := range r.Results {
				got = append(got, res.Status)
			}
			if len(got) != len(tc.statuses) {
				t.Fatalf("statuses %v, want %v", got, tc.statuses)
			}
			for i := range got {
				if got[i] != tc.statuses[i] {
					t.Errorf("result %d: %s, want %s", i+1, got[i], tc.statuses[i])
				}
			}
			if f := r.Failed(); strings.Join(f, ",") != strings.Join(tc.failed, ",") {
				t.Errorf("Failed() = %v, want %v", f, tc.failed)
			}
			if len(r.Problems) != tc.problems {
				t.Errorf("problems %q, want %d", r.Problems, tc.problems)
			}
		})
	}
}

func TestParseDiagnosticsAndDirective(t *testing.T) {
	t.Parallel()
	r := Parse(strings.NewReader("KTAP version 1\n1..1\n# probe: one\n# probe: two\nok 1 probe # level=none\n"))
	if len(r.Results) != 1 {
		t.Fatalf("results %+v", r.Results)
	}
	res := r.Results[0]
	if res.Name != "probe" || res.Directive != "level=none" {
		t.Errorf("name %q directive %q", res.Name, res.Directive)
	}
	if strings.Join(res.Diagnostic, "|") != "probe: one|probe: two" {
		t.Errorf("diagnostic %q", res.Diagnostic)
	}
}

func TestParseNested(t *testing.T) {
	t.Parallel()
	in := `KTAP version 1
1..2
  KTAP version 1
  1..2
  ok 1 inner-a
  not ok 2 inner-b
not ok 1 uml
ok 2 after
`
	r := Parse(strings.NewReader(in))
	if !r.Complete() || len(r.Results) != 2 {
		t.Fatalf("report %+v", r)
	}
	uml := r.Results[0]
	if uml.Name != "uml" || uml.SubPlan != 2 || len(uml.Subtests) != 2 || uml.Subtests[1].Status != Fail {
		t.Errorf("nested result %+v", uml)
	}
	if len(r.Results[1].Subtests) != 0 {
		t.Errorf("subtests leaked to the next result: %+v", r.Results[1])
	}
}

// TestParseProgress: the guest's progress lines, between results or before
// a nested block, belong to no test: counted, never a diagnostic.
func TestParseProgress(t *testing.T) {
	t.Parallel()
	in := `KTAP version 1
1..2
# progress: uml: UML default: 5s, last line: ok 3 skipcall
# probe: kept
  KTAP version 1
  1..1
  ok 1 inner
# progress: uml: UML nosysptvm: 10s, last line: x
ok 1 uml
# progress: kselftest: ptrace_syscall_64 ended
ok 2 kselftest
`
	r := Parse(strings.NewReader(in))
	if !r.Complete() || len(r.Results) != 2 || r.Progress != 3 || len(r.Problems) != 0 {
		t.Fatalf("report %+v", r)
	}
	if d := strings.Join(r.Results[0].Diagnostic, "|"); d != "probe: kept" {
		t.Errorf("uml's diagnostics %q: progress lines leaked in", d)
	}
	if len(r.Results[0].Subtests) != 1 || len(r.Results[1].Diagnostic) != 0 {
		t.Errorf("results %+v", r.Results)
	}
}

// FuzzParse checks that no input crashes the parser and that its invariants
// hold: a complete report has exactly Plan results, and every result
// number/status is sane.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"KTAP version 1\n1..2\nok 1 a\nnot ok 2 b # SKIP x\n",
		"KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 x\nok 1 y\n",
		"TAP version 13\n1..1\nok 1 - a\n",
		"\x00\x01garbage\n1..99999999999999999999\n",
		"KTAP version 1\n1..3\nok 1 a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Parse(bytes.NewReader(b))
		if r.Complete() && len(r.Results) != r.Plan {
			t.Fatalf("complete with %d results for plan %d", len(r.Results), r.Plan)
		}
		for _, res := range r.Results {
			switch res.Status {
			case Pass, Fail, Skip, XFail, Todo, Error:
			default:
				t.Fatalf("bad status %q", res.Status)
			}
		}
		if len(r.Problems) > maxProblems+1 {
			t.Fatalf("%d problems kept", len(r.Problems))
		}
	})
}
