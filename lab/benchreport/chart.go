package benchreport

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	labelWidth = 260 // the row's name, left of its bar
	barMax     = 420 // the longest bar in a chart
	valueWidth = 170 // the number right of a bar
	rowHeight  = 26
	barHeight  = 18
	topMargin  = 30
)

// Bar colours: the series' rows stand out from mainline's.
const (
	seriesColour   = "#2b7bb9"
	mainlineColour = "#9a9a9a"
)

// SVG draws rows as a horizontal bar chart of ns per call, one bar per
// measured row (skipped rows are left out), longest bar = slowest. Each bar
// is labelled with its ns and, for an emulation, host stops per call.
// Returns "" when no row was measured.
func SVG(title string, rows []Row) string {
	var measured []Row
	max := 0.0
	for _, r := range rows {
		if r.Skipped != "" {
			continue
		}
		measured = append(measured, r)
		if r.NsPerCall > max {
			max = r.NsPerCall
		}
	}
	if len(measured) == 0 || max <= 0 {
		return ""
	}
	width := labelWidth + barMax + valueWidth
	height := topMargin + rowHeight*len(measured) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`+"\n",
		width, height, width, height, esc(title))
	fmt.Fprintf(&b, `<text x="0" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", esc(title))
	for i, r := range measured {
		y := topMargin + i*rowHeight
		w := r.NsPerCall / max * barMax
		if w < 1 {
			w = 1
		}
		colour := mainlineColour
		if r.Series {
			colour = seriesColour
		}
		value := fmt.Sprintf("%.0f ns", r.NsPerCall)
		if !r.Loop {
			unit := "stops"
			if r.StopsPerCall == 1 {
				unit = "stop"
			}
			value += fmt.Sprintf(", %.2g %s", r.StopsPerCall, unit)
		}
		fmt.Fprintf(&b, `<g data-row="%s"><text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`,
			esc(r.What), labelWidth-8, y+barHeight-4, esc(r.What))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`,
			labelWidth, y, w, barHeight, colour, esc(r.What), esc(value))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12">%s</text></g>`+"\n", float64(labelWidth)+w+6, y+barHeight-4, esc(value))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// Charts draws r as SVG bar charts: one for the tracer's emulations and
// one for UML's loop (their scales differ by an order of magnitude); a
// group with nothing measured has no chart.
func Charts(r Report) []string {
	var emul, loops []Row
	for _, x := range r.Rows {
		if x.Loop {
			loops = append(loops, x)
		} else {
			emul = append(emul, x)
		}
	}
	var out []string
	for _, c := range []struct {
		title string
		rows  []Row
	}{
		{"ns per emulated system call (guest tracer)", emul},
		{"ns per getppid() in a loop (host guest, and inside UML)", loops},
	} {
		if svg := SVG(c.title, c.rows); svg != "" {
			out = append(out, svg)
		}
	}
	return out
}

type benchPage struct {
	Report
	Charts []template.HTML
	Table  string
}

// HTML renders r as a page: what was measured, one chart for the tracer's
// emulations and one for UML's loop (their scales differ by an order of
// magnitude), and the table.
func HTML(r Report) ([]byte, error) {
	p := benchPage{Report: r}
	for _, svg := range Charts(r) {
		p.Charts = append(p.Charts, template.HTML(svg)) // built from escaped text only
	}
	var t bytes.Buffer
	if err := Table(&t, r); err != nil {
		return nil, err
	}
	p.Table = t.String()
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("bench.html: %w", err)
	}
	return buf.Bytes(), nil
}

var pageTmpl = template.Must(template.New("bench").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ptvmlab bench: {{.Kernel}}, series {{.Series}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
.key span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 .3em 0 1em; }
pre { background: #f4f4f4; padding: .6em; }
</style>
</head>
<body data-charts="{{len .Charts}}" data-rows="{{.Measured}}">
<h1>ptvmlab bench: {{.Kernel}}, series {{.Series}}</h1>
<p>{{.Guest}} guest, boot {{.Status}}. Medians of repeated runs in one boot; shorter is faster.</p>
<p class="key"><span style="background:` + seriesColour + `"></span>uses the PTRACE_VM tags
<span style="background:` + mainlineColour + `"></span>mainline without the series</p>
{{range .Charts}}<figure>{{.}}</figure>
{{end}}<pre id="table">{{.Table}}</pre>
</body>
</html>
`))
