package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsage: bad usage is exit 2 with a one-line error naming the fix.
func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: ptvmlab run|build|boot|patches|bench"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "--arch", "arm64"}, "choose x86_64, i386 or um"},
		{[]string{"run", "--arch", "um"}, "um kernels are not booted under QEMU"},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "--kernel", "debian:6"}, "major.minor"},
		{[]string{"boot", "--arch", "x86_64"}, "--image is required"},
		{[]string{"patches"}, "choose apply, export, check or refresh"},
		{[]string{"patches", "refresh", "--from", "6.12"}, "--from and --to are required"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
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
