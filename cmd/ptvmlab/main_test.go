package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/vm"
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
		{[]string{"run", "--accel", "hvf"}, `--accel: accelerator "hvf" is not known: choose auto, kvm or tcg`},
		{[]string{"boot", "--arch", "x86_64", "--image", "/dev/null", "--accel", "xen"}, `--accel: accelerator "xen" is not known`},
		{[]string{"run", "--silence", "-1s"}, "--silence -1s: must not be negative"},
		{[]string{"matrix", "--accel", "hvf"}, `--accel: accelerator "hvf" is not known`},
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

// TestAccelMode: --accel beats $PTVMLAB_ACCEL, which beats the matrix
// file, which beats auto; a bad value names where it came from.
func TestAccelMode(t *testing.T) {
	tests := []struct {
		flag, env, file string
		want            vm.AccelMode
		err             string
	}{
		{"", "", "", vm.AccelAuto, ""},
		{"", "", "kvm", vm.AccelKVM, ""},
		{"", "tcg", "kvm", vm.AccelTCG, ""},
		{"kvm", "tcg", "auto", vm.AccelKVM, ""},
		{"", "fast", "", "", "PTVMLAB_ACCEL: accelerator \"fast\" is not known"},
		{"", "", "fast", "", "the matrix file's accel: accelerator \"fast\" is not known"},
	}
	for _, tc := range tests {
		t.Setenv(AccelEnv, tc.env)
		got, err := accelFlags{accel: tc.flag, fromFile: tc.file}.mode()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("flag %q env %q file %q: error %v, want %q", tc.flag, tc.env, tc.file, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("flag %q env %q file %q: %q %v, want %q", tc.flag, tc.env, tc.file, got, err, tc.want)
		}
	}
}
