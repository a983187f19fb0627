package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// budgetSkip decides whether an end-to-end test is skipped for the e2e
// time budget: only when what it builds is not all cached (missing names
// it; a test with no cache to ask, such as one that builds in place, says
// so with unknownCache) and its cost from a cold cache, cold, is more than
// the budget has left. It returns why, for t.Skip.
func budgetSkip(budget, left, cold time.Duration, missing []string, unknownCache bool) (bool, string) {
	if budget <= 0 || left >= cold || (len(missing) == 0 && !unknownCache) {
		return false, ""
	}
	what := "builds that no cache can answer for"
	if len(missing) > 0 {
		what = strings.Join(missing, ", ") + " not cached"
	}
	return true, fmt.Sprintf("e2e time budget: %s left of PTVMLAB_E2E_BUDGET=%s, and this test takes up to %s from a cold cache (%s); "+
		"it runs once the tests before it have filled the cache (rerun), or with PTVMLAB_E2E_BUDGET=0",
		max(left, 0).Round(time.Second), budget, cold, what)
}

func TestBudgetSkip(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	for _, tc := range []struct {
		name               string
		budget, left, cold time.Duration
		missing            []string
		unknown            bool
		skip               bool
		why                string
	}{
		{name: "no budget", budget: 0, left: -5 * m, cold: 30 * m, missing: []string{"6.12 x86_64"}},
		{name: "fits even cold", budget: 60 * m, left: 31 * m, cold: 30 * m, missing: []string{"6.12 x86_64"}},
		{name: "all cached", budget: 60 * m, left: m, cold: 30 * m},
		{name: "cold and late", budget: 60 * m, left: 12 * m, cold: 30 * m, missing: []string{"6.12 um", "6.12 um-i386"},
			skip: true, why: "12m0s left of PTVMLAB_E2E_BUDGET=1h0m0s, and this test takes up to 30m0s from a cold cache (6.12 um, 6.12 um-i386 not cached)"},
		{name: "no cache to ask, late", budget: 60 * m, left: 5 * m, cold: 15 * m, unknown: true,
			skip: true, why: "(builds that no cache can answer for)"},
		{name: "over the budget already", budget: 60 * m, left: -2 * m, cold: 10 * m, missing: []string{"6.1 x86_64"},
			skip: true, why: "0s left of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skip, why := budgetSkip(tc.budget, tc.left, tc.cold, tc.missing, tc.unknown)
			if skip != tc.skip || !strings.Contains(why, tc.why) {
				t.Errorf("budgetSkip = %v %q, want %v containing %q", skip, why, tc.skip, tc.why)
			}
		})
	}
}
