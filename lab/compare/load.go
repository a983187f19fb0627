package compare

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ptvmlab/ptvmlab/lab/benchreport"
)

// LoadError says why a directory holds no run to compare: Path is the
// file at fault, Why what is wrong with it, in a few words.
type LoadError struct {
	Path string
	Why  string
	Err  error // the cause, if any
}

func (e *LoadError) Error() string { return e.Path + ": " + e.Why }
func (e *LoadError) Unwrap() error { return e.Err }

// Load reads the run in dir, labelled dir: dir/results.json (written by
// ptvmlab matrix, or matrix merge) and, when there, dir/bench.json
// (ptvmlab bench). A directory with a bench.json alone is a run without
// boots. Errors are *LoadError.
func Load(dir string) (Side, error) {
	s := Side{Label: dir}
	resultsPath, benchPath := filepath.Join(dir, "results.json"), filepath.Join(dir, "bench.json")
	b, err := os.ReadFile(benchPath)
	switch {
	case err == nil:
		s.Bench = &benchreport.Report{}
		if err := json.Unmarshal(b, s.Bench); err != nil {
			return Side{}, &LoadError{benchPath, "not a bench.json of ptvmlab bench (" + err.Error() + ")", err}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Side{}, &LoadError{benchPath, err.Error(), err}
	}
	b, err = os.ReadFile(resultsPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && s.Bench != nil:
		return s, nil
	case errors.Is(err, fs.ErrNotExist):
		return Side{}, &LoadError{resultsPath, "no such file", err}
	case err != nil:
		return Side{}, &LoadError{resultsPath, err.Error(), err}
	}
	if err := json.Unmarshal(b, &s.Run); err != nil {
		return Side{}, &LoadError{resultsPath, "not a results.json of ptvmlab matrix (" + err.Error() + ")", err}
	}
	if len(s.Run.Boots) == 0 && s.Bench == nil {
		return Side{}, &LoadError{Path: resultsPath, Why: "holds no boots"}
	}
	return s, nil
}
