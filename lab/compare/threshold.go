package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is how far apart two measurements must be to count as a
// change: the larger at least (1+Rel) times the smaller, and the two at
// least Abs apart. Both conditions must hold, so that a 2 ms test taking
// 4 ms under TCG (+100 %, but 2 ms) and a 300 s boot taking 302 s (2 s,
// but +0.7 %) are both noise. Its text form is "50%+5s" (see
// ParseThreshold).
type Threshold struct {
	Rel float64       // 0.5 for 50 %
	Abs time.Duration // for a benchmark, ns per call
}

// The defaults: a boot must be 50 % and 5 s slower (or faster), a test
// 50 % and 1 s, and a bench row without a spread 25 %.
var (
	DefaultBootTime = Threshold{Rel: 0.5, Abs: 5 * time.Second}
	DefaultTestTime = Threshold{Rel: 0.5, Abs: time.Second}
	DefaultBench    = Threshold{Rel: 0.25}
)

// slack absorbs float rounding, so that a change exactly at a threshold
// counts whatever the arithmetic did to it.
const slack = 1e-9

// Exceeded reports whether base and new, in seconds, are at least t
// apart. (A benchmark's ns per call go in as seconds too, /1e9, so that a
// bench threshold reads "25%+50ns".) A measurement of 0 or less means none
// was taken: never a change.
func (t Threshold) Exceeded(base, new float64) bool {
	if !(base > 0) || !(new > 0) {
		return false
	}
	lo, hi := math.Min(base, new), math.Max(base, new)
	return hi >= lo*(1+t.Rel)-slack*hi && hi-lo >= t.Abs.Seconds()-slack
}

// String is t's text form, as ParseThreshold reads it: "50%+5s", "25%",
// "2s", "0%".
func (t Threshold) String() string {
	rel := strconv.FormatFloat(t.Rel*100, 'f', -1, 64) + "%"
	switch {
	case t.Abs == 0:
		return rel
	case t.Rel == 0:
		return t.Abs.String()
	}
	return rel + "+" + t.Abs.String()
}

// Set parses s into t (flag.Value).
func (t *Threshold) Set(s string) error {
	v, err := ParseThreshold(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseThreshold reads a threshold: a percentage, a duration or both
// joined by "+", e.g. "50%+5s", "100%", "1.5s", "200ns". Neither may be
// negative; the one left out is 0.
func ParseThreshold(s string) (Threshold, error) {
	var t Threshold
	var haveRel, haveAbs bool
	parts := strings.Split(strings.TrimSpace(s), "+")
	if len(parts) > 2 {
		return Threshold{}, fmt.Errorf("threshold %q: more than one \"+\"; write a percentage and a duration, e.g. 50%%+5s", s)
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if num, ok := strings.CutSuffix(p, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || haveRel || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return Threshold{}, fmt.Errorf("threshold %q: %q is not one non-negative percentage; write e.g. 50%%+5s", s, p)
			}
			t.Rel, haveRel = v/100, true
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil || haveAbs || d < 0 {
			return Threshold{}, fmt.Errorf("threshold %q: %q is neither a percentage nor one non-negative duration; write e.g. 50%%+5s", s, p)
		}
		t.Abs, haveAbs = d, true
	}
	return t, nil
}

// MarshalText writes t's text form, so JSON shows "50%+5s".
func (t Threshold) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads t's text form.
func (t *Threshold) UnmarshalText(b []byte) error { return t.Set(string(b)) }
