package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/benchreport"
	"github.com/ptvmlab/ptvmlab/lab/cell"
)

// cmdBench boots the x86_64 kernel of --kernel/--series with the guest
// benchmarks and prints their table: ns and host stops per emulated system
// call for each way of emulating, and UML's syscall-heavy loop with sysptvm,
// with sysemu and in seccomp mode. Medians over repeated runs in one boot.
// It also writes bench.json, bench.txt and bench.html (an SVG bar chart)
// into --out.
//
// "ptvmlab bench lab" measures the lab itself instead (cmdBenchLab).
func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "lab" {
		return cmdBenchLab(ctx, args[1:], stdout)
	}
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
	var diags []string
	for _, t := range rec.Tests {
		diags = append(diags, t.Diagnostic...)
	}
	rep := benchreport.Report{Kernel: st.tree.Version, Series: st.seriesName, Guest: "x86_64", Status: rec.Status, Rows: benchreport.Parse(diags)}
	fmt.Fprintf(stdout, "ptvmlab bench: %s, series %s, x86_64 guest under QEMU (%s)\n\n", rep.Kernel, rep.Series, rep.Status)
	if err := benchreport.Table(stdout, rep); err != nil {
		return err
	}
	if err := benchreport.Write(c.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntable, bench.json and chart: %s\n", filepath.Join(c.out, "bench.html"))
	if rec.Status != "passed" || rep.Measured() == 0 {
		fmt.Fprintf(stdout, "\nthe benchmark boot ended %s: %s (console log %s)\n", rec.Status, rec.Title, rec.ConsoleLog)
		return exitError{code: exitFailed}
	}
	return nil
}
