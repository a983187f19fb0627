package compare

import (
	"github.com/ptvmlab/ptvmlab/lab/benchreport"
)

// BenchComparison compares the bench rows of two runs, matched by name.
type BenchComparison struct {
	// Compared counts the rows measured in both runs; WithoutSpread those
	// of them compared by the relative threshold (Opts.Bench) because
	// either run's row has no spread.
	Compared      int `json:"compared"`
	WithoutSpread int `json:"without_spread"`
	// Moved are the rows whose median moved (see BenchMove).
	Moved []BenchMove `json:"moved"`
}

// BenchMove is a bench row whose median moved. With both rows' spreads
// (the fastest and slowest of the guest's runs) known, a median moved
// when the two ranges do not overlap: every NEW run was slower than every
// BASE run (NewMin > BaseMax), or every one faster (NewMax < BaseMin). That
// is the NEW median outside BASE's range widened by NEW's own spread on
// the side facing it, so one noisy round in either run cannot make a move.
// Without a spread on either side it moved when the medians are at least
// Opts.Bench apart, and Rule says so.
type BenchMove struct {
	What    string  `json:"what"`
	BaseNs  float64 `json:"base_ns"` // BASE's median, ns per call
	NewNs   float64 `json:"new_ns"`  // NEW's median
	BaseMin float64 `json:"base_ns_min,omitempty"`
	BaseMax float64 `json:"base_ns_max,omitempty"`
	NewMin  float64 `json:"new_ns_min,omitempty"`
	NewMax  float64 `json:"new_ns_max,omitempty"`
	// Rule is how the move was judged: RuleSpread or RuleRelative.
	Rule string `json:"rule"`
}

// How a BenchMove was judged.
const (
	RuleSpread   = "spread"   // the runs' ranges do not overlap
	RuleRelative = "relative" // a row had no spread: the medians differ by Opts.Bench
)

// Slower reports whether NEW's median is the slower.
func (m BenchMove) Slower() bool { return m.NewNs > m.BaseNs }

// compareBench compares base's rows with new's of the same name, both
// measured; nil unless both runs had a bench report.
func compareBench(base, new *benchreport.Report, fallback Threshold) *BenchComparison {
	if base == nil || new == nil {
		return nil
	}
	c := &BenchComparison{Moved: []BenchMove{}}
	before := map[string]benchreport.Row{}
	for _, x := range base.Rows {
		if x.Skipped == "" {
			before[x.What] = x
		}
	}
	for _, y := range new.Rows {
		x, ok := before[y.What]
		if !ok || y.Skipped != "" {
			continue
		}
		c.Compared++
		m := BenchMove{What: y.What, BaseNs: x.NsPerCall, NewNs: y.NsPerCall, Rule: RuleSpread}
		var moved bool
		if x.HasSpread() && y.HasSpread() {
			m.BaseMin, m.BaseMax, m.NewMin, m.NewMax = x.NsMin, x.NsMax, y.NsMin, y.NsMax
			moved = y.NsMin > x.NsMax || y.NsMax < x.NsMin
		} else {
			c.WithoutSpread++
			m.Rule = RuleRelative
			moved = fallback.Exceeded(x.NsPerCall/1e9, y.NsPerCall/1e9)
		}
		if moved {
			c.Moved = append(c.Moved, m)
		}
	}
	return c
}
