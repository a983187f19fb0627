package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
		{[]string{"matrix", "plan", "--kernels", "9.9"}, `--kernels: the matrix has no kernel "9.9"; it has 7.3, 6.12`},
		{[]string{"run", "--format", "xml"}, `format "xml" is not known: choose kcidb`},
		{[]string{"matrix", "merge", "--format", "kcidb,tap", "x"}, `format "tap" is not known: choose kcidb`},
		{[]string{"matrix", "--format", "json"}, `format "json" is not known: choose kcidb`},
		{[]string{"matrix", "--fault", "fail:a", "--fault-first-try", "fail:b"}, "--fault and --fault-first-try: choose one"},
		{[]string{"matrix", "compare", "a"}, "1 run directories given: name two, BASE and NEW"},
		{[]string{"run", "--timeout=-1s"}, "--timeout -1s: a boot limit must be positive"},
		{[]string{"run", "--timeout", "0"}, "--timeout 0s: a boot limit must be positive"},
		{[]string{"boot", "--arch", "x86_64", "--image", "/dev/null", "--timeout=-1s"}, "--timeout -1s: a boot limit must be positive"},
		{[]string{"bisect", "--good", "a", "--bad", "b", "--", "--timeout=-1s"}, "bisect: --timeout -1s: a boot limit must be positive"},
		{[]string{"patches", "export", "--out", "x", "--signoff", "Renzo Davoli"}, `--signoff "Renzo Davoli" is not "Name <name@domain>"`},
		{[]string{"patches", "export", "--out", "x", "--signoff", "Renzo <renzo@cs@unibo.it>"}, "does not have exactly one @"},
		{[]string{"patches", "export", "--out", "x", "--signoff", "R <r@x.org>", "--no-signoff"}, "--signoff and --no-signoff: choose one"},
		{[]string{"patches", "check", "--signoff", "<r@x.org>"}, "--signoff \"<r@x.org>\": the name is empty"},
		{[]string{"review", "--series", "x", "--signoff", "R <r>"}, "--signoff \"R <r>\""},
		{[]string{"bench", "lab", "--rows", "cold", "--shard", "3/2"}, `--shard: shard "3/2": want i/n`},
		{[]string{"matrix", "plan", "--shards", "-1"}, "--shards -1: want 1 or more, or 0 for one per kernel build"},
		{[]string{"bench", "lab", "--shard", "1/16"}, "--shard 1/16: only the cold row runs a shard; add --rows cold"},
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

// TestMatrixPlanPerBuild: --shards 0 gives every kernel build of the
// default matrix its own shard, so a cold nightly's wall time is one
// build's, and covers every cell once.
func TestMatrixPlanPerBuild(t *testing.T) {
	var all, per, stderr bytes.Buffer
	if code := realMain([]string{"matrix", "plan", "--shards", "1"}, &all, &stderr); code != 0 {
		t.Fatalf("plan --shards 1: exit %d: %s", code, stderr.String())
	}
	if code := realMain([]string{"matrix", "plan", "--shards", "0"}, &per, &stderr); code != 0 {
		t.Fatalf("plan --shards 0: exit %d: %s", code, stderr.String())
	}
	group := func(id string) string { return id[:strings.LastIndex(id, "/")] }
	wantGroups := map[string]bool{}
	cells := 0
	for _, l := range strings.Split(all.String(), "\n") {
		if id, ok := strings.CutPrefix(l, "  "); ok {
			wantGroups[group(id)] = true
			cells++
		}
	}
	shardOf := map[string]string{}
	var shard, header string
	got := 0
	for _, l := range strings.Split(per.String(), "\n") {
		if id, ok := strings.CutPrefix(l, "  "); ok {
			got++
			if s, ok := shardOf[group(id)]; ok && s != shard {
				t.Errorf("build %s in shards %s and %s", group(id), s, shard)
			}
			shardOf[group(id)] = shard
			continue
		}
		if l != "" {
			header = l
			shard = strings.Fields(l)[1]
		}
	}
	if !strings.HasSuffix(strings.TrimSuffix(shard, ":"), fmt.Sprintf("/%d", len(wantGroups))) {
		t.Errorf("last shard header %q, want N = %d builds", header, len(wantGroups))
	}
	shards := map[string]int{}
	for _, s := range shardOf {
		shards[s]++
	}
	for s, n := range shards {
		if n != 1 {
			t.Errorf("shard %s holds %d builds, want 1", s, n)
		}
	}
	if len(shardOf) != len(wantGroups) || got != cells {
		t.Errorf("plan --shards 0 has %d builds and %d cells, the matrix %d and %d", len(shardOf), got, len(wantGroups), cells)
	}

	// The nightly reads the github format: a job per build, each with
	// N = the build count and its own cache name.
	var gh bytes.Buffer
	if code := realMain([]string{"matrix", "plan", "--shards", "0", "--format", "github"}, &gh, &stderr); code != 0 {
		t.Fatalf("plan --shards 0 --format github: exit %d: %s", code, stderr.String())
	}
	var plan struct {
		Include []struct {
			Shard string `json:"shard"`
			Cells int    `json:"cells"`
			Cache string `json:"cache"`
		} `json:"include"`
	}
	if err := json.Unmarshal(gh.Bytes(), &plan); err != nil {
		t.Fatalf("github plan %q: %v", gh.String(), err)
	}
	if len(plan.Include) != len(wantGroups) {
		t.Errorf("github plan has %d jobs, want one per build (%d)", len(plan.Include), len(wantGroups))
	}
	caches := map[string]bool{}
	for _, j := range plan.Include {
		if !strings.HasSuffix(j.Shard, fmt.Sprintf("/%d", len(wantGroups))) {
			t.Errorf("job shard %q, want i/%d", j.Shard, len(wantGroups))
		}
		if j.Cache == "" || strings.Contains(j.Cache, "+") || caches[j.Cache] {
			t.Errorf("job %s cache %q: want one build's own name", j.Shard, j.Cache)
		}
		caches[j.Cache] = true
	}
}

// TestPosterIdentity: without --signoff, export signs with git config's
// user.name and user.email and names where they came from; with neither
// set it is a one-line error naming both fixes (exit 2); half an identity
// is one too; check falls back to its placeholder. Not parallel: it moves
// into a directory outside any repository and points git's global and
// system files away, as on a CI machine.
func TestPosterIdentity(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(dir, "gitconfig"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	gitConfig := func(kv ...string) {
		t.Helper()
		os.Remove(filepath.Join(dir, "gitconfig"))
		for i := 0; i < len(kv); i += 2 {
			if out, err := exec.Command("git", "config", "--global", kv[i], kv[i+1]).CombinedOutput(); err != nil {
				t.Fatalf("git config: %v %s", err, out)
			}
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		config []string
		err    string
	}{
		{"none", nil, `export: no identity to sign the mails off with: pass --signoff "Full Name <name@domain>" or set git config user.name and user.email`},
		{"name only", []string{"user.name", "Renzo Davoli"}, "git config has user.name but no user.email: set both"},
		{"malformed", []string{"user.name", "Renzo Davoli", "user.email", "renzo"}, `the address "renzo" does not have exactly one @`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gitConfig(tc.config...)
			var stdout, stderr bytes.Buffer
			code := realMain([]string{"patches", "export", "--out", filepath.Join(dir, "out")}, &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != exitUsage || !strings.Contains(msg, tc.err) || strings.Contains(msg, "\n") || !strings.Contains(msg, "--signoff") {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", code, msg, exitUsage, tc.err)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("export wrote mails without an identity")
			}
		})
	}
	// review judges an mbox as it was posted: --signoff has no say there.
	mbx := filepath.Join(dir, "series.mbx")
	os.WriteFile(mbx, []byte("From x Mon Sep 17 00:00:00 2001\nFrom: A <a@ptvmlab.invalid>\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nSubject: [PATCH 1/1] a\n\nb\n---\n"), 0o644)
	var stdout, stderr bytes.Buffer
	t.Setenv("PTVMLAB_ROOT", root)
	if code := realMain([]string{"review", "--series", mbx, "--arch", "i386", "--signoff", "R <r@x.org>"}, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "is mail as it was posted; --signoff is for a series directory") {
		t.Errorf("review of an mbox with --signoff: exit %d, %q", code, stderr.String())
	}
	gitConfig()
	if id, said, err := checkPoster(ctx, ""); err != nil || id != checkIdentity || !strings.Contains(said, "placeholder ptvmlab check <check@ptvmlab.invalid>") {
		t.Errorf("check without an identity: %v %q %v", id, said, err)
	}
	gitConfig("user.name", "Renzo Davoli", "user.email", "renzo@cs.unibo.it")
	for _, tc := range []struct{ flag, want, from string }{
		{"", "Renzo Davoli <renzo@cs.unibo.it>", "git config"},
		{"ptvmlab tests <tests@ptvmlab.invalid>", "ptvmlab tests <tests@ptvmlab.invalid>", "--signoff"},
	} {
		id, from, err := poster(ctx, tc.flag)
		if err != nil || id.String() != tc.want || from != tc.from {
			t.Errorf("poster(%q) = %v, %q, %v; want %s from %s", tc.flag, id, from, err, tc.want, tc.from)
		}
		id, said, err := checkPoster(ctx, tc.flag)
		if err != nil || id.String() != tc.want || !strings.Contains(said, "(from "+tc.from+")") {
			t.Errorf("checkPoster(%q) = %v, %q, %v", tc.flag, id, said, err)
		}
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
