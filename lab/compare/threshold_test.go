package compare

import (
	"testing"
	"time"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Threshold
		err  bool
	}{
		{in: "50%+5s", want: Threshold{Rel: 0.5, Abs: 5 * time.Second}},
		{in: " 5s + 50% ", want: Threshold{Rel: 0.5, Abs: 5 * time.Second}},
		{in: "100%", want: Threshold{Rel: 1}},
		{in: "1.5s", want: Threshold{Abs: 1500 * time.Millisecond}},
		{in: "25%+50ns", want: Threshold{Rel: 0.25, Abs: 50}},
		{in: "0%", want: Threshold{}},
		{in: "", err: true},
		{in: "50", err: true},
		{in: "-5%", err: true},
		{in: "-1s", err: true},
		{in: "5%+6%", err: true},
		{in: "1s+2s", err: true},
		{in: "5%+1s+2s", err: true},
		{in: "NaN%", err: true},
		{in: "Inf%", err: true},
	} {
		got, err := ParseThreshold(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParseThreshold: an error if and only if no threshold; a threshold
// is never negative, and its String reads back as itself.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"50%+5s", "100%", "1.5s", "25%+50ns", "5%+1s+2s", "1e400%", "0.1%+1h2m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if th != (Threshold{}) {
				t.Errorf("%q: error %v with a threshold %+v", s, err, th)
			}
			return
		}
		if th.Rel < 0 || th.Abs < 0 {
			t.Errorf("%q: a negative threshold %+v", s, th)
		}
		back, err := ParseThreshold(th.String())
		if err != nil || back != th {
			t.Errorf("%q → %+v → %q → %+v, %v", s, th, th.String(), back, err)
		}
	})
}

// TestExceeded: both conditions, inclusive at the edge.
func TestExceeded(t *testing.T) {
	t.Parallel()
	th := Threshold{Rel: 0.5, Abs: 5 * time.Second}
	for _, tc := range []struct {
		base, new float64
		want      bool
	}{
		{10, 15, true}, {15, 10, true}, {10, 14.99, false}, {8, 12.99, false},
		{100, 150, true}, {100, 149, false}, {0.1, 0.1, false}, {0, 10, false}, {10, -1, false},
	} {
		if got := th.Exceeded(tc.base, tc.new); got != tc.want {
			t.Errorf("%s: %v → %v: %v, want %v", th, tc.base, tc.new, got, tc.want)
		}
	}
}
