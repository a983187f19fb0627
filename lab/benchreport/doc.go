// Package benchreport turns the guest benchmarks' KTAP diagnostics into
// rows (ns and host stops per emulated system call, and UML's getppid
// loop), and writes them as a table, bench.json and an HTML page with an
// SVG bar chart, so a reviewer sees what the series buys over what mainline
// already has.
package benchreport
