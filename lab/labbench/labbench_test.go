package labbench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3 * s}, 3 * s},
		{[]time.Duration{5 * s, 1 * s, 3 * s}, 3 * s},
		{[]time.Duration{4 * s, 1 * s, 2 * s, 10 * s}, 3 * s},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTimesStopsAtError(t *testing.T) {
	calls := 0
	ds, err := Times(context.Background(), 5, func(context.Context) error {
		calls++
		if calls == 3 {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil || len(ds) != 2 || calls != 3 {
		t.Errorf("Times: %d durations, %d calls, err %v; want 2, 3, boom", len(ds), calls, err)
	}
}

func TestTable(t *testing.T) {
	var rows [3]Row
	rows[0] = Row{Name: "run vs bare", Value: "1.05×", Note: "medians of 5"}
	rows[0].Against("≤ 1.10×", 1.05, 1.10)
	rows[1] = Row{Name: "warm matrix", Value: "100 s"}
	rows[1].Against("≤ 60 s", 100, 60)
	rows[2] = Row{Name: "initramfs", Value: "0.4 s"}
	var b strings.Builder
	if err := Table(&b, rows[:]); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"run vs bare  1.05×     ≤ 1.10×  holds", "warm matrix  100 s     ≤ 60 s   MISSES", "initramfs    0.4 s     -        -", "  run vs bare: medians of 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
