package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/matrix"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// cmdMatrix is "ptvmlab matrix [run|plan|merge]": with no subcommand (or a
// flag first) it runs every cell.
func cmdMatrix(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "run":
			return matrixRun(ctx, args[1:], stdout, true)
		case "plan":
			return matrixPlan(args[1:], stdout)
		case "merge":
			return matrixMerge(args[1:], stdout)
		case "compare":
			return matrixCompare(args[1:], stdout)
		default:
			return usagef("matrix: unknown command %q: choose run, plan, merge or compare (or none, to run every cell)", args[0])
		}
	}
	return matrixRun(ctx, args, stdout, false)
}

// matrixFlags are what the matrix commands share.
type matrixFlags struct {
	file    string
	out     string
	kernels string
}

func (m *matrixFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.file, "file", "", "matrix file (TOML, see the README); default: every era under patches/, patched and unpatched")
	fs.StringVar(&m.out, "out", "ptvmlab-matrix", "directory for results.json, junit.xml, summary.md, index.html and cells/")
	fs.StringVar(&m.kernels, "kernels", "", "comma-separated kernel names: only their rows (same cell IDs as the whole matrix), e.g. 7.3")
}

// load reads the matrix file, or makes the default matrix, and keeps the
// --kernels rows.
func (m *matrixFlags) load() (matrix.File, error) {
	f, err := m.loadAll()
	if err != nil || m.kernels == "" {
		return f, err
	}
	if f, err = f.Only(strings.Split(m.kernels, ",")); err != nil {
		return f, usageError{fmt.Errorf("--kernels: %w", err)}
	}
	return f, nil
}

func (m *matrixFlags) loadAll() (matrix.File, error) {
	if m.file != "" {
		f, err := matrix.Load(m.file)
		if err != nil {
			return f, usageError{err}
		}
		return f, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return matrix.File{}, usageError{err}
	}
	f, err := matrix.Default(filepath.Join(root, "patches"))
	if err != nil {
		return f, usageError{err}
	}
	return f, nil
}

func matrixRun(ctx context.Context, args []string, stdout io.Writer, sharded bool) error {
	var m matrixFlags
	var shard string
	var boots, jobs int
	var memMB int64
	var fresh bool
	var fault, faultFirst string
	var formats extraFormats
	name := "matrix"
	if sharded {
		name = "matrix run"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	m.register(fs)
	if sharded {
		fs.StringVar(&shard, "shard", "1/1", "the shard to run, i/n (see ptvmlab matrix plan)")
	}
	fs.IntVar(&boots, "boots", runtime.NumCPU(), "boots side by side (each TCG guest keeps a CPU busy)")
	fs.Int64Var(&memMB, "mem", defaultMemMB(), "MiB of guest memory the boots may use together")
	fs.IntVar(&jobs, "jobs", 0, "make -j (default: the CPU count)")
	fs.BoolVar(&fresh, "fresh", false, "boot every cell, even those whose inputs and result are kept from an earlier run")
	fs.StringVar(&fault, "fault", "", "for the lab's own tests: a ptvmlab.fault for every boot, e.g. fail:skipexit plants a regression")
	fs.StringVar(&faultFirst, "fault-first-try", "", "for the lab's own tests: a ptvmlab.fault for each cell's first try only, e.g. fail:basic plants a flake")
	fs.Var(&formats, "format", formatsUsage)
	var accel accelFlags
	accel.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fault != "" && faultFirst != "" {
		return usagef("--fault and --fault-first-try: choose one (the guest reads one ptvmlab.fault)")
	}
	f, err := m.load()
	if err != nil {
		return err
	}
	accel.fromFile = f.Accel
	cells := f.Cells()
	label := ""
	if sharded {
		s, err := matrix.ParseShard(shard)
		if err != nil {
			return usageError{err}
		}
		cells = matrix.Select(cells, s)
		label = " (shard " + s.String() + ")"
	}
	c := common{jobs: jobs, accel: accel}
	env, err := c.env()
	if err != nil {
		return err
	}
	if err := prepareOut(m.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "matrix%s: %d cells\n", label, len(cells))
	r := matrix.Runner{Env: env, Out: m.out, Boots: boots, MemoryMB: memMB, Fresh: fresh, Silence: accel.silence,
		Fault: fault, FaultFirstTry: faultFirst}
	run, err := r.Run(ctx, f, cells)
	if err != nil {
		return err
	}
	return finish(m.out, run, stdout, nil, formats)
}

// defaultMemMB is half the memory available now, or 2 GiB when that cannot
// be read.
func defaultMemMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 2048
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if n, _ := fmt.Sscanf(l, "MemAvailable: %d kB", &kb); n == 1 {
			return max(kb/1024/2, 768)
		}
	}
	return 2048
}

func matrixPlan(args []string, stdout io.Writer) error {
	var m matrixFlags
	var shards int
	var format string
	fs := flag.NewFlagSet("matrix plan", flag.ContinueOnError)
	m.register(fs)
	fs.IntVar(&shards, "shards", 1, "how many shards (CI runners); 0: one per kernel build, so a runner builds one kernel (and its UML)")
	fs.StringVar(&format, "format", "text", "text, or github: a JSON job matrix for strategy.matrix")
	if err := parse(fs, args); err != nil {
		return err
	}
	if shards < 0 {
		return usagef("--shards %d: want 1 or more, or 0 for one per kernel build", shards)
	}
	f, err := m.load()
	if err != nil {
		return err
	}
	cells := f.Cells()
	if shards == 0 {
		shards = matrix.Groups(cells)
	}
	split := matrix.Split(cells, shards)
	switch format {
	case "github":
		// Cache names what the shard builds, not where it sits: a shard's
		// number moves when an era or flag set is added, and its runner's
		// cache should follow its kernels, not its number.
		type job struct {
			Shard string `json:"shard"`
			Cells int    `json:"cells"`
			Cache string `json:"cache"`
		}
		var jobs []job
		for i, s := range split {
			if len(s) > 0 {
				jobs = append(jobs, job{Shard: matrix.Shard{I: i + 1, N: shards}.String(), Cells: len(s), Cache: matrix.CacheName(s)})
			}
		}
		b, _ := json.Marshal(map[string]any{"include": jobs})
		fmt.Fprintln(stdout, string(b))
	case "text":
		for i, s := range split {
			fmt.Fprintf(stdout, "shard %d/%d: %d cells\n", i+1, shards, len(s))
			for _, c := range s {
				fmt.Fprintf(stdout, "  %s\n", c.ID)
			}
		}
	default:
		return usagef("--format %q: choose text or github", format)
	}
	return nil
}

// matrixMerge joins shard outputs into one: every record, sorted by cell,
// with its logs copied under the merged cells/.
func matrixMerge(args []string, stdout io.Writer) error {
	var out string
	var formats extraFormats
	fs := flag.NewFlagSet("matrix merge", flag.ContinueOnError)
	fs.StringVar(&out, "out", "ptvmlab-matrix", "directory for the merged reports")
	fs.Var(&formats, "format", formatsUsage)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() == 0 {
		return usagef("matrix merge: name the shard output directories, e.g. ptvmlab matrix merge --out all shard-1 shard-2")
	}
	var merged report.Run
	seen := map[string]string{}
	for _, dir := range fs.Args() {
		b, err := os.ReadFile(filepath.Join(dir, "results.json"))
		if err != nil {
			return usageError{fmt.Errorf("matrix merge: %s is not a matrix output (%v); run ptvmlab matrix run --out %s first", dir, err, dir)}
		}
		var r report.Run
		if err := json.Unmarshal(b, &r); err != nil {
			return usageError{fmt.Errorf("matrix merge: %s/results.json: %v", dir, err)}
		}
		if len(r.Boots) == 0 {
			return usageError{fmt.Errorf("matrix merge: %s/results.json holds no boots: not a matrix output (run ptvmlab matrix run --out %s)", dir, dir)}
		}
		if merged.Started.IsZero() || r.Started.Before(merged.Started) {
			merged.Started = r.Started
		}
		merged.TookS = max(merged.TookS, r.TookS)
		for _, rec := range r.Boots {
			if rec.Cell == "" {
				return usageError{fmt.Errorf("matrix merge: %s holds a record without a cell: not a matrix output", dir)}
			}
			if prev, ok := seen[rec.Cell]; ok {
				return usageError{fmt.Errorf("matrix merge: cell %s is in both %s and %s: shards overlap", rec.Cell, prev, dir)}
			}
			seen[rec.Cell] = dir
			if rec.ConsoleLog, err = relocate(rec.ConsoleLog, dir, out); err != nil {
				return err
			}
			if rec.ResultsRaw, err = relocate(rec.ResultsRaw, dir, out); err != nil {
				return err
			}
			for i := range rec.Tries { // a flaky cell's earlier try: its logs are half the story
				t := &rec.Tries[i]
				if t.ConsoleLog, err = relocate(t.ConsoleLog, dir, out); err != nil {
					return err
				}
				if t.ResultsRaw, err = relocate(t.ResultsRaw, dir, out); err != nil {
					return err
				}
			}
			merged.Boots = append(merged.Boots, rec)
		}
	}
	sort.SliceStable(merged.Boots, func(i, j int) bool { return merged.Boots[i].Cell < merged.Boots[j].Cell })
	return finish(out, merged, stdout, nil, formats)
}

// relocate copies a cell's log from a shard's output into out, at the same
// path relative to its output directory.
func relocate(path, from, to string) (string, error) {
	if path == "" {
		return "", nil
	}
	rel, err := filepath.Rel(from, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		// Records written on another runner carry that runner's absolute
		// paths: find the file below cells/ instead.
		i := strings.Index(filepath.ToSlash(path), "/cells/")
		if i < 0 {
			return path, nil
		}
		rel = filepath.FromSlash(filepath.ToSlash(path)[i+1:])
	}
	dst := filepath.Join(to, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := cache.CopyFile(filepath.Join(from, rel), dst); err != nil {
		return "", fmt.Errorf("matrix merge: %w", err)
	}
	return dst, nil
}
