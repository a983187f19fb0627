package boot

import (
	"fmt"
	"strings"
	"testing"
)

// tracker records what Follow tells it.
type tracker struct {
	total, count int
	now          string
}

func (t *tracker) SetTotal(n int)  { t.total = n }
func (t *tracker) Set(n int)       { t.count = n }
func (t *tracker) Now(text string) { t.now = text }

// TestFollow: the view follows the plan, the top-level results and the
// last progress line or result, in whatever pieces the channel delivers
// them; subtests and diagnostics do not count; a retry starts over.
func TestFollow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stream string
		want   tracker
	}{
		{"nothing yet", "", tracker{}},
		{"header and plan", "KTAP version 1\n1..21\n", tracker{total: 21}},
		{"a result", "KTAP version 1\n1..21\n# baseline: took 1ms\nok 1 baseline\n", tracker{21, 1, "baseline: pass"}},
		{"a progress line after it", "KTAP version 1\n1..21\nok 1 baseline\n# progress: syscall_skip: entry ended\n", tracker{21, 1, "syscall_skip: entry ended"}},
		{"subtests do not count", "KTAP version 1\n1..3\n  KTAP version 1\n  1..2\n  ok 1 a\n  ok 2 b\nnot ok 1 regs\n", tracker{3, 1, "regs: fail"}},
		{"a skip", "KTAP version 1\n1..3\nok 1 probe\nok 2 uml # SKIP no UML\n", tracker{3, 2, "uml: skip"}},
		{"a line not ended yet", "KTAP version 1\n1..3\nok 1 probe\nok 2 ba", tracker{3, 1, "probe: pass"}},
		{"a retry starts over", "KTAP version 1\n1..3\nok 1 probe\nok 2 x\nKTAP version 1\n1..3\n", tracker{total: 3}},
		{"garbage", "\x00\x01\x02 nothing\n", tracker{}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, chunk), func(t *testing.T) {
				var got tracker
				w := Follow(&got)
				for s := tt.stream; s != ""; {
					n := min(chunk, len(s))
					if k, err := w.Write([]byte(s[:n])); k != n || err != nil {
						t.Fatalf("Write: %d, %v", k, err)
					}
					s = s[n:]
				}
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			})
		}
	}
}

// TestFollowLongStream: a stream longer than Follow keeps still moves
// the view with its progress lines.
func TestFollowLongStream(t *testing.T) {
	t.Parallel()
	var got tracker
	w := Follow(&got)
	fmt.Fprint(w, "KTAP version 1\n1..2\nok 1 a\n")
	fmt.Fprint(w, strings.Repeat("# noise\n", maxLive/8+1))
	fmt.Fprint(w, "# progress: b: still going\n")
	if want := (tracker{2, 1, "b: still going"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
