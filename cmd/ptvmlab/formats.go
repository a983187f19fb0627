package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/kcidb"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// extraFormats are the reports --format adds to those every run writes
// (results.json, junit.xml, summary.md, index.html).
type extraFormats struct{ kcidb bool }

const formatsUsage = "an extra report in --out: kcidb (kcidb.json, KCIDB v5 JSON for KernelCI's results database); repeatable"

func (f *extraFormats) String() string {
	if f.kcidb {
		return "kcidb"
	}
	return ""
}

// Set takes one format or a comma-separated list.
func (f *extraFormats) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		switch name {
		case "kcidb":
			f.kcidb = true
		default:
			return fmt.Errorf("format %q is not known: choose kcidb (the other reports are always written)", name)
		}
	}
	return nil
}

// files are the file names the formats write, for the line that lists the
// reports.
func (f extraFormats) files() []string {
	if f.kcidb {
		return []string{"kcidb.json"}
	}
	return nil
}

// write writes the formats' reports of run into out.
func (f extraFormats) write(out string, run report.Run) error {
	if !f.kcidb {
		return nil
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("kcidb.json: %w", err)
	}
	if err := kcidb.Write(filepath.Join(out, "kcidb.json"), run, kcidb.Options{OutDir: abs}); err != nil {
		return fmt.Errorf("kcidb.json: %w", err)
	}
	return nil
}
