//go:build e2e

package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests' time budget.
//
// A cold cache (a fresh CI runner) builds every kernel the tests use from
// nothing. On 2 cores that is more compile than CI's 90 minutes hold
// (measured 2026-12-02: a cold run reached the Matrix test at 52 minutes
// of e2e, with Accel, Bisect, BootImage and the arm64 cross-build having
// built their kernels; DEVELOPERS.md, Speed). Rather than let go test's
// -timeout kill the run and every verdict in it, a test whose kernels are
// not all cached, and whose cost from a cold cache no longer fits what is
// left of the budget, is skipped, saying so. The kernels the tests before
// it built stay cached, so the next run gets further; a warm run (every
// kernel cached) never skips. PTVMLAB_E2E_BUDGET=0 turns the budget off.

// e2eStart is when the test binary started: the budget counts from it.
var e2eStart = time.Now()

// defaultE2EBudget leaves a cold CI run (lint and unit about 8 minutes,
// then e2e) well inside 90 minutes, with room for the test that starts
// just inside it.
const defaultE2EBudget = 50 * time.Minute

func e2eBudget(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("PTVMLAB_E2E_BUDGET")
	if v == "" {
		return defaultE2EBudget
	}
	if v == "0" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("PTVMLAB_E2E_BUDGET=%q: want a duration such as 50m, or 0 for none", v)
	}
	return d
}

// fitBudget skips t when its kernels are not all cached and cold, its cost
// from a cold cache (measured on 2 cores), does not fit what is left of the
// budget. Each of builds is the arguments of a `ptvmlab build` that names
// kernels the test uses, asked with --cached-only; no builds means the test
// builds what no cache answers for (in place, or with no cache at all), and
// cold is then always its cost.
func fitBudget(t *testing.T, cold time.Duration, builds ...[]string) {
	t.Helper()
	budget := e2eBudget(t)
	left := budget - time.Since(e2eStart)
	if budget == 0 || left >= cold {
		return
	}
	var missing []string
	for _, args := range builds {
		code, out, _ := ptvmlab(t, append([]string{"build", "--cached-only"}, args...)...)
		if code == exitPassed {
			continue
		}
		var these []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if what, ok := strings.CutSuffix(l, ": not cached"); ok {
				if i := slices.Index(args, "--series"); i >= 0 && i+1 < len(args) {
					what += " (series " + args[i+1] + ")"
				}
				these = append(these, what)
			}
		}
		if code != exitFailed || len(these) == 0 {
			these = append(these, "ptvmlab build "+strings.Join(args, " ")+" (the look-up failed)")
		}
		missing = append(missing, these...)
	}
	if skip, why := budgetSkip(budget, left, cold, missing, len(builds) == 0); skip {
		t.Skip(why)
	}
}

// accelKernel is the kernel the accelerator tests boot.
var accelKernel = []string{"--series", "none", "--arch", "i386"}

// every612 names the Debian 6.12 kernels and UMLs of both guests with
// series, as a run of both arches with UML builds them.
func every612(series string) []string {
	return []string{"--series", series, "--arch", "x86_64,i386,um,um-i386"}
}
