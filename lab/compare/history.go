package compare

import (
	"sort"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// FlakeCount is how often one test flaked over the runs compared: in how
// many runs its cell was flaky with the test among the failures of an
// earlier try.
type FlakeCount struct {
	Cell  string `json:"cell"`
	Test  string `json:"test"`
	Flaky int    `json:"flaky"` // runs in which it flaked
	Runs  int    `json:"runs"`  // runs counted: all of Result.Runs
}

// flakeHistory reads runs (oldest first): their labels, each test's flake
// count (tests that never flaked are left out) and each cell's status in
// every run ("" where the cell was not in the run).
func flakeHistory(runs []Side) ([]string, []FlakeCount, map[string][]report.Mark) {
	type key struct{ cell, test string }
	labels := make([]string, len(runs))
	flaked := map[key]int{}
	statuses := map[string][]string{}
	for i, s := range runs {
		labels[i] = s.Label
		for _, b := range s.Run.Boots {
			id := CellID(b)
			if statuses[id] == nil {
				statuses[id] = make([]string, len(runs))
			}
			statuses[id][i] = b.Status
			if b.Status != report.Flaky {
				continue
			}
			inRun := map[string]bool{}
			for _, t := range b.Tries {
				for _, p := range t.Failed {
					inRun[p] = true
				}
			}
			for p := range inRun {
				flaked[key{id, p}]++
			}
		}
	}
	flakes := []FlakeCount{}
	for k, n := range flaked {
		flakes = append(flakes, FlakeCount{Cell: k.cell, Test: k.test, Flaky: n, Runs: len(runs)})
	}
	sort.Slice(flakes, func(i, j int) bool {
		if flakes[i].Cell != flakes[j].Cell {
			return flakes[i].Cell < flakes[j].Cell
		}
		return flakes[i].Test < flakes[j].Test
	})
	history := make(map[string][]report.Mark, len(statuses))
	for id, st := range statuses {
		marks := make([]report.Mark, len(runs))
		for i := range runs {
			marks[i] = report.Mark{Run: labels[i], Status: st[i]}
		}
		history[id] = marks
	}
	return labels, flakes, history
}
