package suite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// TestMedianSpread: a benchmark line's median lies in its spread, the
// fastest and slowest run, whatever the order the runs came in.
func TestMedianSpread(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		in            []float64
		med, min, max float64
	}{
		{"none", nil, 0, 0, 0},
		{"one", []float64{7}, 7, 7, 7},
		{"odd, shuffled", []float64{30, 10, 50, 20, 40}, 30, 10, 50},
		{"even takes the upper middle", []float64{4, 1, 3, 2}, 3, 1, 4},
		{"ties", []float64{5, 5, 5}, 5, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := spread(tc.in)
			if m := median(tc.in); m != tc.med || lo != tc.min || hi != tc.max {
				t.Errorf("median %v spread [%v, %v], want %v [%v, %v]", m, lo, hi, tc.med, tc.min, tc.max)
			}
		})
	}
}

// TestBenchLineFormats: the benchmark lines take exactly the arguments the
// suite gives them, spread included.
func TestBenchLineFormats(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		fmt.Sprintf(proto.BenchEmulation, "SKIPCALL", 812.0, 1.0, benchRepeats, benchCalls, 790.0, 850.0),
		fmt.Sprintf(proto.BenchLoop, "host", 95.0, benchRepeats, 20000, 90.0, 101.0),
	} {
		for _, bad := range []string{"%!", "MISSING", "EXTRA"} {
			if strings.Contains(line, bad) {
				t.Errorf("%q: the format and its arguments disagree", line)
			}
		}
	}
}
