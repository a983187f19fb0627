package proto

import "testing"

func TestResultLineAndStatusOf(t *testing.T) {
	for _, tc := range []struct {
		s         Status
		text      string
		want      string
		ok        bool   // the line's ok/not ok
		directive string // what follows '#'
	}{
		{StatusPass, "", "ok 3 baseline", true, ""},
		{StatusPass, "level=skipcall", "ok 3 baseline # level=skipcall", true, "level=skipcall"},
		{StatusFail, "", "not ok 3 baseline", false, ""},
		{StatusSkip, "no UML\nin this image", "ok 3 baseline # SKIP no UML in this image", true, "SKIP no UML in this image"},
		{StatusXFail, "known", "not ok 3 baseline # XFAIL known", false, "XFAIL known"},
		{StatusTodo, "", "ok 3 baseline # TODO", true, "TODO"},
		{StatusError, "bad", "not ok 3 baseline # ERROR bad", false, "ERROR bad"},
	} {
		if got := ResultLine(tc.s, 3, "baseline", tc.text); got != tc.want {
			t.Errorf("ResultLine(%s, %q) = %q, want %q", tc.s, tc.text, got, tc.want)
		}
		if got := StatusOf(tc.ok, tc.directive); got != tc.s {
			t.Errorf("StatusOf(%v, %q) = %s, want %s", tc.ok, tc.directive, got, tc.s)
		}
	}
	if StatusOf(true, "skip lower case") != StatusSkip {
		t.Error("a lower-case SKIP directive is not a skip")
	}
}

func TestProbeLevel(t *testing.T) {
	for _, l := range []Level{LevelNone, LevelSkipExit, LevelSkipCall} {
		if got, ok := ProbeLevel(ProbeResult(l)); !ok || got != l {
			t.Errorf("ProbeLevel(ProbeResult(%s)) = %s, %v", l, got, ok)
		}
	}
	for _, s := range []string{"", "level=", "level=all", "skipcall", "SKIP no probe"} {
		if l, ok := ProbeLevel(s); ok {
			t.Errorf("ProbeLevel(%q) = %s", s, l)
		}
	}
}
