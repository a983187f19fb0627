package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/benchreport"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/ktap"
)

// WriteMatrix writes everything WriteAll does, plus summary.md (Markdown,
// for $GITHUB_STEP_SUMMARY) and index.html (the matrix page: kernels and
// series down, arches and UML flag sets across, each cell linking its
// console log and KTAP).
func WriteMatrix(dir string, r Run) error {
	return WriteMatrixWith(dir, r, Extras{})
}

// Mark is one earlier run's word on a cell, for the cell's history strip.
type Mark struct {
	Run    string `json:"run"`    // the run's label: its directory or start time
	Status string `json:"status"` // the cell's status in that run; "" when the cell was not in it
}

// Extras are what a matrix page shows beyond one run: each cell's history
// over earlier runs (ptvmlab matrix compare --history) and the bench.
type Extras struct {
	// History maps a cell ID to its marks, oldest first.
	History map[string][]Mark
	// Bench is a bench run's report (bench.json), drawn as its chart.
	Bench *benchreport.Report
}

// WriteMatrixWith is WriteMatrix with history strips and the bench chart
// on index.html.
func WriteMatrixWith(dir string, r Run, x Extras) error {
	if err := WriteAll(dir, r); err != nil {
		return err
	}
	var md bytes.Buffer
	Markdown(&md, r)
	if err := cache.WriteFileAtomic(filepath.Join(dir, "summary.md"), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("summary.md: %w", err)
	}
	page, err := HTMLWith(r, dir, x)
	if err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(filepath.Join(dir, "index.html"), page, 0o644); err != nil {
		return fmt.Errorf("index.html: %w", err)
	}
	return nil
}

// passed counts a boot's top-level tests that passed.
func passed(b Boot) int {
	n := 0
	for _, t := range b.Tests {
		if t.Status == string(ktap.Pass) {
			n++
		}
	}
	return n
}

// Markdown writes r as a Markdown summary: a tally, one table row per boot,
// and the failed tests with their diagnostics.
func Markdown(w io.Writer, r Run) {
	fmt.Fprintf(w, "## ptvmlab: %s\n\n", StatusLine(r))
	fmt.Fprintln(w, "| cell | kernel | status | probe | tests | time | accel | result |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, b := range r.Boots {
		how := "booted"
		if b.Reused {
			how = "reused (inputs unchanged)"
		}
		if b.Status == "skipped" {
			how = "-"
		}
		fmt.Fprintf(w, "| `%s` | %s | **%s** | %s | %d/%d | %.1fs | %s | %s |\n", b.SuiteName(), mdEscape(b.Version), b.Status,
			dash(b.Probe), passed(b), len(b.Tests), b.DurationS, mdEscape(dash(b.AccelNote())), how)
	}
	var notes []string
	for _, b := range r.Boots {
		for _, a := range b.Attempts {
			notes = append(notes, fmt.Sprintf("- `%s` fell back from %s to %s: %s", b.SuiteName(), a.Accel, b.Accel, mdEscape(a.Why)))
		}
		if b.Status != "passed" && b.Title != "" {
			notes = append(notes, fmt.Sprintf("- `%s` %s: %s", b.SuiteName(), b.Status, mdEscape(b.Title)))
		}
		for i, t := range b.Tries {
			notes = append(notes, fmt.Sprintf("- `%s` try %d was %s: %s", b.SuiteName(), i+1, t.Status, mdEscape(t.Title)))
		}
		for _, t := range flatten("", b.Tests) {
			if t.Status == string(ktap.Fail) {
				q := ""
				if t.Quarantine != "" {
					q = " (quarantined: " + mdEscape(t.Quarantine) + ")"
				}
				notes = append(notes, fmt.Sprintf("- `%s` not ok `%s`%s: %s", b.SuiteName(), t.Name, q, mdEscape(strings.Join(t.Diagnostic, "; "))))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n### Not passed\n\n%s\n", strings.Join(notes, "\n"))
	}
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type pageCell struct {
	ID, Status, Probe, Tests, Title, Console, KTAP, Accel, AccelWhy string
	Reused                                                          bool
	// Anchor names the cell's drill-down section; Time is its boot time.
	Anchor, Time string
	History      []Mark
	Tries        []pageTry
	All          []pageTest // every test, subtests under their parents
}

type pageTry struct {
	N int // counted from 1
	Try
}

type pageTest struct {
	Path, Status, Time, Quarantine string
	Depth                          int
}

// pageTests lists every test of b by path, with its time when the guest
// gave one.
func pageTests(b Boot) []pageTest {
	var out []pageTest
	for _, t := range flatten("", b.Tests) {
		tm := "-"
		if t.DurationS > 0 {
			tm = fmt.Sprintf("%.3fs", t.DurationS)
		}
		out = append(out, pageTest{Path: t.Name, Status: t.Status, Time: tm, Quarantine: t.Quarantine, Depth: strings.Count(t.Name, "/")})
	}
	return out
}

type pageRow struct {
	Name  string
	Cells []*pageCell // one per column; nil where the matrix has no cell
}

type page struct {
	Title   string
	Status  string
	Columns []string
	Rows    []pageRow
	Count   int
	Cells   []*pageCell // in run order, for the drill-down sections
	// HistoryRuns labels the history strips' runs, oldest first.
	HistoryRuns []string
	Bench       *benchreport.Report
	BenchCharts []template.HTML
}

// HTML renders r as a static matrix page. Links are relative to dir, where
// the page is written.
func HTML(r Run, dir string) ([]byte, error) { return HTMLWith(r, dir, Extras{}) }

// HTMLWith is HTML with x's history strips and bench chart.
func HTMLWith(r Run, dir string, x Extras) ([]byte, error) {
	p := page{Title: "ptvmlab matrix", Status: StatusLine(r)}
	rowIndex, colIndex := map[string]int{}, map[string]int{}
	type placed struct {
		row, col int
		c        *pageCell
	}
	var all []placed
	for _, b := range r.Boots {
		row, col := rowCol(b)
		if _, ok := rowIndex[row]; !ok {
			rowIndex[row] = len(p.Rows)
			p.Rows = append(p.Rows, pageRow{Name: row})
		}
		if _, ok := colIndex[col]; !ok {
			colIndex[col] = len(p.Columns)
			p.Columns = append(p.Columns, col)
		}
		c := &pageCell{ID: b.SuiteName(), Status: b.Status, Probe: dash(b.Probe), Title: b.Title, Reused: b.Reused,
			Tests: fmt.Sprintf("%d/%d", passed(b), len(b.Tests)), Console: rel(dir, b.ConsoleLog), KTAP: rel(dir, b.ResultsRaw),
			Accel: dash(b.AccelNote()), AccelWhy: b.AccelWhy, Anchor: "cell-" + anchorRe.ReplaceAllString(b.SuiteName(), "-"),
			Time: fmt.Sprintf("%.1fs", b.DurationS), History: x.History[b.Cell], All: pageTests(b)}
		for i, t := range b.Tries {
			t.ConsoleLog, t.ResultsRaw = rel(dir, t.ConsoleLog), rel(dir, t.ResultsRaw)
			c.Tries = append(c.Tries, pageTry{i + 1, t})
		}
		all = append(all, placed{rowIndex[row], colIndex[col], c})
		p.Cells = append(p.Cells, c)
	}
	for i := range p.Rows {
		p.Rows[i].Cells = make([]*pageCell, len(p.Columns))
	}
	for _, a := range all {
		p.Rows[a.row].Cells[a.col] = a.c
		p.Count++
	}
	for _, marks := range x.History {
		if len(marks) > len(p.HistoryRuns) {
			p.HistoryRuns = p.HistoryRuns[:0]
			for _, m := range marks {
				p.HistoryRuns = append(p.HistoryRuns, m.Run)
			}
		}
	}
	if x.Bench != nil {
		p.Bench = x.Bench
		for _, svg := range benchreport.Charts(*x.Bench) {
			p.BenchCharts = append(p.BenchCharts, template.HTML(svg)) // built from escaped text only
		}
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("index.html: %w", err)
	}
	return buf.Bytes(), nil
}

var anchorRe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// rowCol places a boot: the row is kernel and series, the column arch
// and UML flag set.
func rowCol(b Boot) (string, string) {
	if parts := strings.Split(b.Cell, "/"); len(parts) == 4 {
		return parts[0] + " / " + parts[1], parts[2] + " / " + parts[3]
	}
	col := b.Arch
	if b.UMLFlags != "" {
		col += " / " + b.UMLFlags
	}
	return dash(b.Version) + " / " + b.Series, col
}

func rel(dir, path string) string {
	if path == "" {
		return ""
	}
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return "file://" + filepath.ToSlash(path)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: .4em .6em; text-align: left; vertical-align: top; }
.passed { background: #d8f5d0; } .failed, .panic, .timeout, .fail, .error { background: #f7d4d4; }
.infra { background: #f5e6c8; } .skipped, .skip { background: #e8e8e8; } td.none { background: #fafafa; }
.flaky, .quarantined { background: #fbeeb0; } .pass { background: #e9f8e4; }
.small { font-size: 85%; color: #444; }
.history { display: flex; gap: 2px; margin-top: .3em; }
.history span { display: inline-block; width: .8em; height: .8em; border: 1px solid #777; }
.history span.missing { background: #fff; border-style: dashed; }
details { margin: .4em 0; } details table { margin: .3em 0 .6em 1em; font-size: 90%; }
td.depth1 { padding-left: 1.6em; } td.depth2 { padding-left: 2.8em; } td.depth3 { padding-left: 4em; }
</style>
</head>
<body data-cells="{{.Count}}">
<h1>{{.Title}}</h1>
<p id="status">{{.Status}}</p>
{{if .HistoryRuns}}<p class="small">History strips: the cell in each run, oldest first: {{range $i, $r := .HistoryRuns}}{{if $i}}, {{end}}{{$r}}{{end}}.</p>{{end}}
<table id="matrix">
<thead><tr><th>kernel / series</th>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><th>{{.Name}}</th>{{range .Cells}}{{if .}}<td class="{{.Status}}" data-cell="{{.ID}}" title="{{.Title}}"><b><a href="#{{.Anchor}}">{{.Status}}</a></b>
<div class="small">probe {{.Probe}}, tests {{.Tests}}, {{.Time}}{{if .Reused}}, reused{{end}}</div>
<div class="small" data-accel="{{.Accel}}" title="{{.AccelWhy}}">accel {{.Accel}}</div>
<div class="small">{{if .Console}}<a href="{{.Console}}">console</a>{{end}} {{if .KTAP}}<a href="{{.KTAP}}">KTAP</a>{{end}}</div>
{{if .History}}<div class="history" data-runs="{{len .History}}">{{range .History}}<span class="{{if .Status}}{{.Status}}{{else}}missing{{end}}" title="{{.Run}}: {{if .Status}}{{.Status}}{{else}}not in this run{{end}}"></span>{{end}}</div>{{end}}</td>{{else}}<td class="none">-</td>{{end}}{{end}}</tr>
{{end}}</tbody>
</table>
<h2>Tests by cell</h2>
{{range .Cells}}<details id="{{.Anchor}}" data-drill="{{.ID}}"{{if ne .Status "passed"}} open{{end}}>
<summary><b>{{.ID}}</b>: {{.Status}}, {{.Tests}} passed, {{.Time}}{{if .Title}} — {{.Title}}{{end}}</summary>
{{range .Tries}}<p class="small" data-try="{{.N}}">try {{.N}}: {{.Status}} — {{.Title}} {{if .ConsoleLog}}<a href="{{.ConsoleLog}}">console</a>{{end}} {{if .ResultsRaw}}<a href="{{.ResultsRaw}}">KTAP</a>{{end}}</p>{{end}}
{{if .All}}<table><thead><tr><th>test</th><th>status</th><th>time</th></tr></thead><tbody>
{{range .All}}<tr data-test="{{.Path}}"><td class="depth{{.Depth}}">{{.Path}}</td><td class="{{.Status}}">{{.Status}}{{if .Quarantine}} (quarantined: {{.Quarantine}}){{end}}</td><td>{{.Time}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="small">no test results</p>{{end}}
</details>
{{end}}
{{if .Bench}}<h2 id="bench">Bench: {{.Bench.Kernel}}, series {{.Bench.Series}}, {{.Bench.Guest}} guest ({{.Bench.Status}})</h2>
{{range .BenchCharts}}<div class="chart">{{.}}</div>{{end}}{{end}}
<script>
// Says the page rendered: the count of cells the browser laid out.
document.body.dataset.rendered = String(document.querySelectorAll("td[data-cell]").length);
</script>
</body>
</html>
`))
