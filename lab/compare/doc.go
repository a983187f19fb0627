// Package compare says what changed between two matrix runs, BASE and NEW:
// the regressions first (a test or cell that passed in BASE and fails, or
// is missing, in NEW), then the fixes, flaky cells, quarantined failures,
// new and vanished tests and cells, tests NEW's command line no longer
// selects (a change of plan, not a regression), other status changes, times that moved
// beyond a threshold, bench medians that moved beyond their spread and,
// over a history of earlier runs, how often each test flaked and each
// cell's status in every run.
//
// Compare is a pure function from runs (Side values) to a Result; Load
// reads a run directory and Result.Text, Result.Markdown and Result.JSON
// render it.
//
// # The JSON shape
//
// Result.JSON writes one object. Its field names are stable; lists are
// always present (empty as []), sorted by cell then test. "regressions"
// are the tests that regressed, the list to read first; a cell's own
// regression (it panicked, or is gone) is in "cell_regressions":
//
//	{
//	  "base": "nightly-41", "new": "nightly-42",   // the runs' labels (directories)
//	  "regressed": true,                           // Result.Regressed()
//	  "thresholds": {"boot_time": "50%+5s", "test_time": "50%+1s", "bench": "25%"},
//	  "regressions": [Test],      "cell_regressions": [Cell],
//	  "fixes": [Test],            "cell_fixes": [Cell],
//	  "flaky": [Flaky],           "quarantined": [Test],
//	  "new_cells": [Cell],        "vanished_cells": [Cell],
//	  "new_tests": [Test],        "vanished_tests": [Test],
//	  "deselected": [Test],       // in BASE, not selected by NEW's ptvmlab.tests=
//	  "changed_cells": [Cell],    "changed_tests": [Test],
//	  "boot_times": [Time],       "test_times": [Time],
//	  "bench": null | {"compared": 6, "without_spread": 0, "moved": [Bench]},
//	  "runs": ["nightly-40", "nightly-41", "nightly-42"], // history, BASE, NEW
//	  "flakes": [Flake],
//	  "history": {"6.12/auto/x86_64/default": [{"run": "nightly-40", "status": "passed"}, ...]}
//	}
//
//	Cell:  {"cell", "base", "new", "title", "unreached"}   // a status "" = not in that run
//	Test:  {"cell", "test", "base", "new", "diagnostic", "quarantine"}
//	Flaky: {"cell", "base", "tries", "failed"}
//	Time:  {"cell", "test", "base_s", "new_s"}              // "test" "" for a boot
//	Bench: {"what", "base_ns", "new_ns", "base_ns_min", "base_ns_max", "new_ns_min", "new_ns_max", "rule"}
//	Flake: {"cell", "test", "flaky", "runs"}
//
// See the types CellChange, TestChange, FlakyCell, TimeChange, BenchMove
// and FlakeCount for what each field holds.
package compare
