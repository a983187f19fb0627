package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/vm"
)

func sampleRun() Run {
	return Run{Boots: []Boot{
		{Version: "6.12.117", Series: "none", Arch: "x86_64", Status: "passed", Title: "2 tests passed", Probe: "none",
			Tests: []Test{{Name: "probe", Status: "pass", Directive: "level=none"}, {Name: "baseline", Status: "pass"}},
			Build: &Build{Key: "abc", Cached: true}, Accel: "tcg", AccelWhy: "fallback: the KVM attempt silent for 30s after: x86/fpu",
			Attempts: []vm.Attempt{{Accel: "kvm", Why: "silent for 30s after: x86/fpu", ConsoleLog: "out/x86_64/console.kvm.log"}}},
		{Version: "6.12.117", Series: "none", Arch: "i386", Status: "failed", Title: "failed: baseline",
			Tests:      []Test{{Name: "probe", Status: "pass"}, {Name: "baseline", Status: "fail", Diagnostic: []string{"baseline: want exit stop"}}},
			ConsoleLog: "out/i386/console.log"},
		{Version: "6.12.117", Series: "none", Arch: "x86_64", Status: "panic", Title: "Kernel panic - not syncing: x"},
	}}
}

func TestJUnit(t *testing.T) {
	t.Parallel()
	b, err := JUnit(sampleRun())
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if len(got.Suites) != 3 || got.Failures != 1 || got.Errors != 1 || got.Tests != 5 {
		t.Fatalf("suites %d failures %d errors %d tests %d", len(got.Suites), got.Failures, got.Errors, got.Tests)
	}
	if c := got.Suites[1].Cases[1]; c.Failure == nil || !strings.Contains(c.Failure.Body, "want exit stop") {
		t.Errorf("failed case %+v", c)
	}
	if c := got.Suites[2].Cases[0]; c.Name != "boot" || c.Error == nil || !strings.HasPrefix(c.Error.Message, "panic: ") {
		t.Errorf("a panicked boot must be an errored case: %+v", c)
	}
	props := map[string]string{}
	if p := got.Suites[0].Properties; p != nil {
		for _, kv := range p.Props {
			props[kv.Name] = kv.Value
		}
	}
	if props["accel"] != "tcg" || props["fallback_from"] != "kvm: silent for 30s after: x86/fpu" || !strings.HasPrefix(props["accel_why"], "fallback:") {
		t.Errorf("the boot's properties do not name its accelerator and fallback: %v", props)
	}
	if got.Suites[1].Properties != nil {
		t.Errorf("a boot with no accelerator recorded has properties: %+v", got.Suites[1].Properties)
	}
}

func TestWriteAllAndSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := sampleRun()
	if err := WriteAll(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Run
	if err := json.Unmarshal(b, &back); err != nil || len(back.Boots) != 3 || back.Boots[0].Probe != "none" {
		t.Fatalf("results.json round trip: %v %+v", err, back)
	}
	var sum bytes.Buffer
	Summary(&sum, r)
	for _, want := range []string{"x86_64  passed", "tcg after kvm failed  cached", "not ok baseline", "want exit stop", "console log out/i386/console.log",
		"the kvm attempt was retried under tcg: silent for 30s after: x86/fpu (console out/x86_64/console.kvm.log)"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if got := StatusLine(r); got != "3 boots: 1 failed, 1 panic, 1 passed" {
		t.Errorf("StatusLine = %q", got)
	}
}

// TestTookS: a test's time is its last "took" diagnostic; none, or one
// that is not a duration, is 0.
func TestTookS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		diags []string
		want  float64
	}{
		{nil, 0},
		{[]string{"took 1.5s"}, 1.5},
		{[]string{"took 2ms", "subtest x", "took 250ms"}, 0.25},
		{[]string{"took soon"}, 0},
		{[]string{"it took 3s"}, 0},
		{[]string{"skipexit: exit stop skipped", "skipexit: took 13.181ms"}, 0.013181},
		{[]string{"skipexit: it took 3s"}, 0},
	} {
		if got := tookS(tc.diags); got != tc.want {
			t.Errorf("tookS(%q) = %v, want %v", tc.diags, got, tc.want)
		}
	}
}

// TestJUnitQuarantine: a quarantined test's failure is a skipped case that
// says why, and a quarantined cell adds no failing "boot" case; the same
// failure without a quarantine is a failure.
func TestJUnitQuarantine(t *testing.T) {
	t.Parallel()
	tests := []Test{{Name: "uml", Status: "fail", Quarantine: "bug 12", Diagnostic: []string{"uml: hung"}}}
	run := Run{Boots: []Boot{{Cell: "6.12/auto/i386/default", Status: Quarantined, Tests: tests},
		{Cell: "6.12/auto/x86_64/default", Status: "failed", Title: "failed: uml", Tests: []Test{{Name: "uml", Status: "fail"}}}}}
	b, err := JUnit(run)
	if err != nil {
		t.Fatal(err)
	}
	x := string(b)
	for _, want := range []string{`<testsuite name="6.12/auto/i386/default" tests="1" failures="0" errors="0" skipped="1"`,
		`<skipped message="quarantined: bug 12">uml: hung</skipped>`, `<testsuite name="6.12/auto/x86_64/default" tests="1" failures="1"`} {
		if !strings.Contains(x, want) {
			t.Errorf("junit lacks %q:\n%s", want, x)
		}
	}
}
