package benchreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// Row is one measurement, or one that was skipped and why.
type Row struct {
	// What names the way of emulating ("SKIPCALL", "PTRACE_SYSEMU") or, for
	// a loop, "getppid loop, uml-sysptvm".
	What string `json:"what"`
	// Loop: a getppid loop timed inside the guest or inside UML, not a
	// tracer emulating calls.
	Loop bool `json:"loop,omitempty"`
	// Series: the measurement uses the PTRACE_VM tags (SKIPCALL, SKIPEXIT,
	// UML with sysptvm); the others are what mainline already has.
	Series bool `json:"series"`
	// NsPerCall is the median ns per call over the guest's repeated runs.
	NsPerCall float64 `json:"ns_per_call,omitempty"`
	// NsMin and NsMax are the fastest and the slowest of those runs, ns per
	// call: the spread the median came from. Both 0 when the guest gave
	// none (lines from before proto.BenchSpread); see HasSpread.
	NsMin float64 `json:"ns_min,omitempty"`
	NsMax float64 `json:"ns_max,omitempty"`
	// StopsPerCall is host stops per emulated call; 0 for a loop.
	StopsPerCall float64 `json:"stops_per_call,omitempty"`
	// Skipped says why there is no number, e.g. "this kernel has no PTRACE_VM tags".
	Skipped string `json:"skipped,omitempty"`
}

// HasSpread reports whether r carries the spread of its runs: a measured
// row whose NsMin ≤ NsPerCall ≤ NsMax, with NsMax above 0.
func (r Row) HasSpread() bool {
	return r.Skipped == "" && r.NsMax > 0 && r.NsMin <= r.NsPerCall && r.NsPerCall <= r.NsMax
}

// Report is one bench boot's rows and what they were measured on.
type Report struct {
	Kernel string `json:"kernel"`
	Series string `json:"series"`
	Guest  string `json:"guest"`
	Status string `json:"status"` // the boot's status: passed, failed, ...
	Rows   []Row  `json:"rows"`
}

// Measured counts the rows with a number.
func (r Report) Measured() int {
	n := 0
	for _, x := range r.Rows {
		if x.Skipped == "" {
			n++
		}
	}
	return n
}

// The guest's lines (guesttests/suite/bench.go, uml.go), as they arrive in
// a test's KTAP diagnostics, prefixed by the test's name:
//
//	bench: bench SKIPCALL: ns_per_call=812 stops_per_call=1.00 runs=5 calls=2000 ns_min=790 ns_max=850
//	bench_loop: bench loop host: ns_per_call=95 runs=5 calls=20000 ns_min=93 ns_max=99
//	uml_bench: uml default: bench loop uml-sysptvm: ns_per_call=4100 runs=5 calls=20000 ns_min=4050 ns_max=4400
//	bench: bench SKIPCALL: skipped, this kernel has no PTRACE_VM tags
//	uml_bench: uml seccomp: skipped, this UML has no seccomp= flag (6.16 and later)
//
// Lines from guests older than the spread end after calls=; their rows
// have no spread.
var (
	measuredRe = regexp.MustCompile(`bench (loop )?(\S+?): ns_per_call=(\d+(?:\.\d+)?)(?: stops_per_call=(\d+(?:\.\d+)?))?`)
	spreadRe   = regexp.MustCompile(` ns_min=(\d+(?:\.\d+)?) ns_max=(\d+(?:\.\d+)?)`)
	skippedRe  = regexp.MustCompile(`^(?:bench|uml_bench): (?:bench|uml) (\S+?): skipped, (.+)$`)
)

// Parse reads rows from diagnostic lines, in their order; lines that are
// neither a measurement nor a skip are ignored.
func Parse(diagnostics []string) []Row {
	var rows []Row
	for _, d := range diagnostics {
		d = strings.TrimSpace(d)
		if m := measuredRe.FindStringSubmatch(d); m != nil {
			ns, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				continue
			}
			r := Row{What: m[2], Loop: m[1] != "", NsPerCall: ns}
			if m[4] != "" {
				if r.StopsPerCall, err = strconv.ParseFloat(m[4], 64); err != nil {
					continue
				}
			}
			r.NsMin, r.NsMax = parseSpread(d, ns)
			if r.Loop {
				r.What = "getppid loop, " + r.What
			}
			r.Series = usesSeries(r.What)
			rows = append(rows, r)
			continue
		}
		if m := skippedRe.FindStringSubmatch(d); m != nil {
			what := m[1]
			if strings.HasPrefix(d, "uml_bench:") {
				what = "getppid loop, uml " + what
			}
			rows = append(rows, Row{What: what, Loop: strings.HasPrefix(d, "uml_bench:"), Series: usesSeries(what), Skipped: m[2]})
		}
	}
	return rows
}

// parseSpread reads a measurement line's fastest and slowest run; 0, 0
// when it has none, or one that does not hold its median.
func parseSpread(line string, median float64) (float64, float64) {
	m := spreadRe.FindStringSubmatch(line)
	if m == nil {
		return 0, 0
	}
	lo, err1 := strconv.ParseFloat(m[1], 64)
	hi, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || hi <= 0 || lo > median || median > hi {
		return 0, 0
	}
	return lo, hi
}

// usesSeries says whether a measurement needs the PTRACE_VM tags: the
// SKIP* rows and UML with sysptvm (its default boot, where the series
// makes it use them).
func usesSeries(what string) bool {
	return strings.Contains(what, "SKIP") || strings.Contains(what, "sysptvm") || what == "getppid loop, uml default"
}

// Table writes the rows as an aligned text table.
func Table(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tNS/CALL (median)\tRUNS (min-max)\tHOST STOPS/CALL\tFROM")
	for _, x := range r.Rows {
		from := "mainline"
		if x.Series {
			from = "PTRACE_VM"
		}
		runs := "-"
		if x.HasSpread() {
			runs = fmt.Sprintf("%.0f-%.0f", x.NsMin, x.NsMax)
		}
		switch {
		case x.Skipped != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\tskipped: %s\n", x.What, x.Skipped)
		case x.Loop:
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t-\t%s\n", x.What, x.NsPerCall, runs, from)
		default:
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.2f\t%s\n", x.What, x.NsPerCall, runs, x.StopsPerCall, from)
		}
	}
	return tw.Flush()
}

// Write writes bench.json, bench.txt (the table) and bench.html (the
// table and an SVG bar chart) into dir, each to a temp name and renamed.
func Write(dir string, r Report) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench.json: %w", err)
	}
	var txt bytes.Buffer
	if err := Table(&txt, r); err != nil {
		return fmt.Errorf("bench.txt: %w", err)
	}
	page, err := HTML(r)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"bench.json": append(js, '\n'), "bench.txt": txt.Bytes(), "bench.html": page} {
		if err := cache.WriteFileAtomic(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("bench report %s: %w", name, err)
		}
	}
	return nil
}
