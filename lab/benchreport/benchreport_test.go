package benchreport

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// guestLines are diagnostics as a patched 7.3 bench boot prints them,
// made with the guest's own formats, each after its test's name.
var guestLines = []string{
	"bench: " + fmt.Sprintf(proto.BenchEmulation, "PTRACE_SYSCALL", 24000.0, 2.0, 5, 2000, 23000.0, 26000.0),
	"bench: " + fmt.Sprintf(proto.BenchEmulation, "PTRACE_SYSEMU", 12500.0, 1.0, 5, 2000, 12000.0, 13000.0),
	"bench: " + fmt.Sprintf(proto.BenchEmulation, "SET_SYSCALL_INFO+SKIPEXIT", 13000.0, 1.0, 5, 2000, 12900.0, 13500.0),
	"bench: " + fmt.Sprintf(proto.BenchEmulation, "SKIPCALL", 12000.4, 1.0, 5, 2000, 11800.0, 12000.4),
	"bench_loop: " + fmt.Sprintf(proto.BenchLoop, "host", 95.0, 5, 20000, 93.0, 99.0),
	"uml_bench: uml default: " + fmt.Sprintf(proto.BenchLoop, "uml-sysptvm", 41000.0, 5, 20000, 40000.0, 45000.0),
	"uml_bench: " + fmt.Sprintf(proto.BenchUMLSkipped, "seccomp", "this UML has no seccomp= flag (6.16 and later)"),
	"bench: " + fmt.Sprintf(proto.BenchSkipped, "SKIPEXIT", "this kernel has no PTRACE_VM tags"),
	"an unrelated line",
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []string
		want []Row
	}{
		{"nothing", nil, nil},
		{"unrelated lines", []string{"probe: level=skipcall", "bench: started"}, nil},
		{"emulation", guestLines[:1], []Row{{What: "PTRACE_SYSCALL", NsPerCall: 24000, NsMin: 23000, NsMax: 26000, StopsPerCall: 2}}},
		{"series emulation", guestLines[2:4], []Row{
			{What: "SET_SYSCALL_INFO+SKIPEXIT", Series: true, NsPerCall: 13000, NsMin: 12900, NsMax: 13500, StopsPerCall: 1},
			{What: "SKIPCALL", Series: true, NsPerCall: 12000, NsMin: 11800, NsMax: 12000, StopsPerCall: 1}}},
		{"loops", guestLines[4:6], []Row{
			{What: "getppid loop, host", Loop: true, NsPerCall: 95, NsMin: 93, NsMax: 99},
			{What: "getppid loop, uml-sysptvm", Loop: true, Series: true, NsPerCall: 41000, NsMin: 40000, NsMax: 45000}}},
		{"skips", guestLines[6:8], []Row{
			{What: "getppid loop, uml seccomp", Loop: true, Skipped: "this UML has no seccomp= flag (6.16 and later)"},
			{What: "SKIPEXIT", Series: true, Skipped: "this kernel has no PTRACE_VM tags"}}},
		{"a line from before the spread", []string{"bench: bench SKIPCALL: ns_per_call=812 stops_per_call=1.00 runs=5 calls=2000"},
			[]Row{{What: "SKIPCALL", Series: true, NsPerCall: 812, StopsPerCall: 1}}},
		{"a loop from before the spread", []string{"bench_loop: bench loop host: ns_per_call=95 runs=5 calls=20000"},
			[]Row{{What: "getppid loop, host", Loop: true, NsPerCall: 95}}},
		{"a spread that does not hold its median is dropped", []string{"bench: bench SKIPCALL: ns_per_call=812 stops_per_call=1.00 runs=5 calls=2000 ns_min=900 ns_max=950"},
			[]Row{{What: "SKIPCALL", Series: true, NsPerCall: 812, StopsPerCall: 1}}},
		{"a number too large is not a row", []string{"bench: bench X: ns_per_call=" + strings.Repeat("9", 400)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestSVG(t *testing.T) {
	t.Parallel()
	rows := Parse(guestLines)
	svg := SVG("a <chart>", rows[:4])
	var doc struct {
		Groups []struct {
			Row  string `xml:"data-row,attr"`
			Rect struct {
				Width float64 `xml:"width,attr"`
				Fill  string  `xml:"fill,attr"`
			} `xml:"rect"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
	}
	if len(doc.Groups) != 4 {
		t.Fatalf("%d bars, want 4", len(doc.Groups))
	}
	// The slowest row gets the longest bar; the others are in proportion.
	for i, g := range doc.Groups {
		want := rows[i].NsPerCall / 24000 * barMax
		if d := g.Rect.Width - want; d > 0.1 || d < -0.1 {
			t.Errorf("%s: bar %.1f wide, want %.1f", g.Row, g.Rect.Width, want)
		}
		wantFill := mainlineColour
		if rows[i].Series {
			wantFill = seriesColour
		}
		if g.Rect.Fill != wantFill {
			t.Errorf("%s: fill %s, want %s", g.Row, g.Rect.Fill, wantFill)
		}
	}
	for _, want := range []string{"24000 ns, 2 stops", "12000 ns, 1 stop<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("no bar labelled %q", want)
		}
	}
	if !strings.Contains(svg, "a &lt;chart&gt;") {
		t.Errorf("the title is not escaped: %s", svg)
	}
	if got := SVG("skips only", rows[6:8]); got != "" {
		t.Errorf("a chart of skipped rows only: %q, want none", got)
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := Report{Kernel: "7.3.4", Series: "7.3", Guest: "x86_64", Status: "passed", Rows: Parse(guestLines)}
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("bench.json does not read back: %v\n%s", err, b)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "bench.html"))
	for _, want := range []string{`data-charts="2"`, `data-rows="6"`, "<svg", "skipped: this kernel has no PTRACE_VM tags"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("bench.html has no %q", want)
		}
	}
	txt, _ := os.ReadFile(filepath.Join(dir, "bench.txt"))
	if !strings.Contains(string(txt), "SKIPCALL") || !strings.Contains(string(txt), "PTRACE_VM") {
		t.Errorf("bench.txt:\n%s", txt)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// FuzzParse: no input crashes Parse, every row has a name and either a
// finite, non-negative number or a reason it was skipped, and a row's
// spread, when it has one, holds its median.
func FuzzParse(f *testing.F) {
	f.Add(strings.Join(guestLines, "\n"))
	f.Add("bench: bench : ns_per_call=1.5 stops_per_call=")
	f.Add("bench: bench X: ns_per_call=5 stops_per_call=1.00 runs=5 calls=2000 ns_min=0 ns_max=5")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Parse(strings.Split(s, "\n")) {
			if r.What == "" {
				t.Errorf("a row with no name: %+v", r)
			}
			if r.NsMin != 0 || r.NsMax != 0 {
				if !r.HasSpread() || r.NsMin < 0 || r.NsMax > 1e308 {
					t.Errorf("a row with a spread that does not hold its median: %+v", r)
				}
			}
			if r.Skipped == "" && (r.NsPerCall < 0 || r.NsPerCall > 1e308 || r.StopsPerCall < 0 || r.StopsPerCall > 1e308) {
				t.Errorf("a measured row with a number out of range: %+v", r)
			}
			_ = SVG("fuzz", []Row{r})
		}
	})
}
