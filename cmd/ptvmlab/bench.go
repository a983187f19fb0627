package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cell"
)

var benchLineRe = regexp.MustCompile(`bench (?:loop )?(\S+?):? ns_per_call=(\d+)(?: stops_per_call=([\d.]+))?`)

// cmdBench boots the x86_64 kernel of --kernel/--series with the guest
// benchmarks and prints their table: ns and host stops per emulated system
// call for each way of emulating, and UML's syscall-heavy loop with sysptvm
// and with sysemu. Medians over repeated runs in one boot.
func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := newFlags("bench", &c, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.setup(ctx)
	if err != nil {
		return err
	}
	timeout := c.timeout
	if timeout < 10*time.Minute {
		timeout = 10 * time.Minute // TCG and three UML boots
	}
	rec, err := cell.Run(ctx, st.env, cell.Cell{Tree: st.tree, Series: st.series, SeriesName: st.seriesName, Arch: "x86_64",
		Cmdline: append(proto.Args{Bench: true, Tests: []string{"bench", "bench_loop", "uml_bench"}}.Cmdline(), c.appends...),
		Expect:  st.expect, Timeout: timeout, Silence: c.accel.silence, Out: filepath.Join(c.out, "bench")})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ptvmlab bench: %s, series %s, x86_64 guest under QEMU (%s)\n\n", st.tree.Version, st.seriesName, rec.Status)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tNS/CALL (median)\tHOST STOPS/CALL")
	rows := 0
	for _, t := range rec.Tests {
		for _, d := range t.Diagnostic {
			m := benchLineRe.FindStringSubmatch(d)
			if m == nil {
				if strings.Contains(d, "skipped") {
					fmt.Fprintf(tw, "%s\t-\t-\n", strings.TrimSpace(d))
				}
				continue
			}
			what := m[1]
			if strings.HasPrefix(d, "uml_bench:") || strings.HasPrefix(d, "bench_loop:") {
				what = "getppid loop, " + what
			}
			stops := m[3]
			if stops == "" {
				stops = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", what, m[2], stops)
			rows++
		}
	}
	tw.Flush()
	if rec.Status != "passed" || rows == 0 {
		fmt.Fprintf(stdout, "\nthe benchmark boot ended %s: %s (console log %s)\n", rec.Status, rec.Title, rec.ConsoleLog)
		return exitError{code: exitFailed}
	}
	return nil
}
