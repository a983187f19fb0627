// Package labbench holds the lab's own speed figures (ptvmlab bench lab):
// a row per figure, with the command or setup that measured it, the
// value, the target it is held to and whether it holds. The measuring is
// done by the caller; this package times, takes medians and prints.
package labbench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Row is one figure.
type Row struct {
	// Name says what was measured, e.g. "default matrix, every cell booted".
	Name string `json:"name"`
	// Value is the figure as measured: a time, a ratio and its parts.
	Value string `json:"value"`
	// Target is what the figure is held to ("" for none).
	Target string `json:"target,omitempty"`
	// Holds says whether Value meets Target; nil when there is no target
	// or the figure could not be measured.
	Holds *bool `json:"holds,omitempty"`
	// Note says how it was measured, or why it was not.
	Note string `json:"note,omitempty"`
}

// Verdict is Holds as a word.
func (r Row) Verdict() string {
	switch {
	case r.Holds == nil:
		return "-"
	case *r.Holds:
		return "holds"
	default:
		return "MISSES"
	}
}

// Against sets r's target and whether got meets it (got ≤ limit).
func (r *Row) Against(target string, got, limit float64) {
	ok := got <= limit
	r.Target, r.Holds = target, &ok
}

// Table prints rows as an aligned table, then each row's note.
func Table(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEASURED\tTARGET\tVERDICT")
	for _, r := range rows {
		target := r.Target
		if target == "" {
			target = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Value, target, r.Verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Note != "" {
			if _, err := fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Note); err != nil {
				return err
			}
		}
	}
	return nil
}

// Median is the middle of ds (the mean of the two middle ones for an even
// count); 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Times runs f n times, one after another, and returns how long each run
// took; it stops at the first error.
func Times(ctx context.Context, n int, f func(ctx context.Context) error) ([]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := f(ctx); err != nil {
			return ds, err
		}
		ds = append(ds, time.Since(start))
	}
	return ds, nil
}

// Seconds prints d as seconds with two decimals below a minute, else as
// minutes and seconds.
func Seconds(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}
