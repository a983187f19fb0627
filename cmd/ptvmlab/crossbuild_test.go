package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/crossbuild"
)

// TestCrossbuildUsage: bad crossbuild input is exit 2 with a one-line error
// naming the choices, before any tree is resolved.
func TestCrossbuildUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"crossbuild", "--arch", "riscv"}, `--arch: unknown cross-build arch "riscv": choose arm64`},
		{[]string{"crossbuild", "--cc", "tcc"}, `--cc "tcc": choose auto, gcc or clang`},
		{[]string{"crossbuild", "extra"}, `unexpected argument "extra"`},
		{[]string{"crossbuild", "--kernel", "debian:6"}, "major.minor"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := realMain(tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") > 0 {
				t.Errorf("stderr %q, want one line containing %q", msg, tc.want)
			}
		})
	}
}

func TestCrossbuildReportLine(t *testing.T) {
	t.Parallel()
	a := crossbuild.Arches["arm64"]
	built := func(tags crossbuild.Tags, cached bool) crossbuild.Result {
		return crossbuild.Result{Cached: cached, Entry: crossbuild.Entry{Compiler: "Debian clang version 14.0.6",
			Tags: tags, Symbols: []string{"syscall_trace_enter"}, BuildS: 61.4}}
	}
	tests := []struct {
		name   string
		res    crossbuild.Result
		series string
		want   string
	}{
		{"before the opt-in symbol", built(crossbuild.TagsAbsent, false), "6.12",
			"arm64 6.12.117 + series 6.12: built with Debian clang version 14.0.6, syscall_trace_enter linked; CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS: symbol absent from this series (make took 1m1s)"},
		{"after it, cached", built(crossbuild.TagsUnset, true), "6.12",
			"arm64 6.12.117 + series 6.12: built with Debian clang version 14.0.6, syscall_trace_enter linked; CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS not set (arm64 does not opt in: the tags are ignored) (cache hit, no make run)"},
		{"arm64 selects it", built(crossbuild.TagsSet, true), "6.12",
			"arm64 6.12.117 + series 6.12: built with Debian clang version 14.0.6, syscall_trace_enter linked; FAILED: CONFIG_HAVE_ARCH_PTRACE_SYSCALL_TAGS is set on arm64, want not set: fix the select in the series' Kconfig (cache hit, no make run)"},
	}
	for _, tc := range tests {
		if got := reportLine("arm64 6.12.117 + series "+tc.series, a, tc.series, tc.res); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
