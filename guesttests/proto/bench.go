package proto

// The benchmark lines the guest logs (as KTAP diagnostics of the bench,
// bench_loop and uml_bench tests), in fmt form. The host's
// lab/benchreport parses them; its test formats with these, so the two
// cannot drift apart.
const (
	// BenchEmulation: the way of emulating, median ns per call, host
	// stops per call, runs, calls per run, and the fastest and slowest
	// run's ns per call (the spread around the median).
	BenchEmulation = "bench %s: ns_per_call=%.0f stops_per_call=%.2f runs=%d calls=%d" + BenchSpread
	// BenchLoop: where the loop ran (host, uml-sysptvm, uml-sysemu,
	// uml-seccomp), median ns per call, runs, calls per run, and the
	// fastest and slowest run's ns per call.
	BenchLoop = "bench loop %s: ns_per_call=%.0f runs=%d calls=%d" + BenchSpread
	// BenchSpread ends a measurement's line: the fastest and the slowest of
	// its runs, in ns per call. Lines from guests before it have none; the
	// host reads them as rows without a spread.
	BenchSpread = " ns_min=%.0f ns_max=%.0f"
	// BenchSkipped: what was not measured, and why.
	BenchSkipped = "bench %s: skipped, %s"
	// BenchUMLSkipped: a UML boot of uml_bench that was not measured
	// (its flag set's name), and why.
	BenchUMLSkipped = "uml %s: skipped, %s"
)
