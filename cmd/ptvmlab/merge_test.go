package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptvmlab/ptvmlab/lab/kcidb"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// TestMergeKeepsTries: merging a shard whose cell was flaky brings the
// failed try's logs into the merged output too (a link into the shard's
// runner would be dead in the artifact), and --format kcidb adds a
// kcidb.json that passes the export's checks.
func TestMergeKeepsTries(t *testing.T) {
	t.Parallel()
	shard, out := t.TempDir(), t.TempDir()
	cellDir := filepath.Join(shard, "cells", "6.12", "auto", "i386", "default")
	tryDir := filepath.Join(cellDir, "try-1")
	if err := os.MkdirAll(tryDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(cellDir, "console.log"), filepath.Join(tryDir, "console.log"), filepath.Join(tryDir, "results.raw")} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRun(t, filepath.Dir(shard), filepath.Base(shard), report.Boot{Cell: "6.12/auto/i386/default", Kernel: "debian:6.12", Version: "6.12.117", Series: "6.12", Arch: "i386",
		Status: report.Flaky, Digest: "sha256:1", Build: &report.Build{Key: "k1", Cached: true}, ConsoleLog: filepath.Join(cellDir, "console.log"), Tests: []report.Test{{Name: "baseline", Status: "pass"}},
		Tries: []report.Try{{Status: "failed", Failed: []string{"baseline"},
			ConsoleLog: filepath.Join(tryDir, "console.log"), ResultsRaw: filepath.Join(tryDir, "results.raw")}}})
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"matrix", "merge", "--format", "kcidb", "--out", out, shard}, &stdout, &stderr); code != exitPassed {
		t.Fatalf("merge: exit %d (a flaky cell does not fail the run)\n%s%s", code, stdout.String(), stderr.String())
	}
	var merged report.Run
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err == nil {
		err = json.Unmarshal(b, &merged)
	}
	if err != nil || len(merged.Boots) != 1 || len(merged.Boots[0].Tries) != 1 {
		t.Fatalf("merged results: %v, %+v", err, merged)
	}
	try := merged.Boots[0].Tries[0]
	for _, p := range []string{try.ConsoleLog, try.ResultsRaw} {
		if rel, err := filepath.Rel(out, p); err != nil || !filepath.IsLocal(rel) {
			t.Errorf("try log %s is not under the merged output %s", p, out)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("try log not copied: %v", err)
		}
	}
	var export kcidb.Data
	b, err = os.ReadFile(filepath.Join(out, "kcidb.json"))
	if err == nil {
		err = json.Unmarshal(b, &export)
	}
	if err == nil {
		err = kcidb.Check(export)
	}
	if err != nil || len(export.Tests) != 2 {
		t.Errorf("kcidb.json: %v, %d tests (want the boot and baseline)", err, len(export.Tests))
	}
}
