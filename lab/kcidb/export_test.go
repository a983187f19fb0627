package kcidb

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ptvmlab/ptvmlab/lab/report"
)

// subsetSchema is our own subset of the KCIDB v5.3 schema (see its
// $comment).
const subsetSchema = "testdata/kcidb-v5-subset.schema.json"

// loadRun reads a results.json fixture: trimmed records of real runs.
func loadRun(t testing.TB, name string) report.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Run
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// compileSchema compiles the JSON schema in file; draft is the one it is
// read as when it names none (kcidb-io's names none and is Draft 7).
func compileSchema(t testing.TB, file string, draft *jsonschema.Draft) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	c.AssertFormat()
	const url = "file:///kcidb.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return sch
}

// validate checks js against sch.
func validate(sch *jsonschema.Schema, js []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// checkExport is every check an export must pass: the subset schema, then
// Check's rules on the decoded data.
func checkExport(sch *jsonschema.Schema, js []byte) error {
	if err := validate(sch, js); err != nil {
		return err
	}
	var d Data
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return err
	}
	return Check(d)
}

var started = time.Date(2026, 12, 1, 16, 21, 20, 499505450, time.UTC)

// edgeRun holds a boot of every status and the odd cases of the mapping.
func edgeRun() report.Run {
	build := func(key string) *report.Build { return &report.Build{Key: key, TookS: 312.5} }
	src := "sha256:" + strings.Repeat("ab", 32)
	return report.Run{Started: started, Boots: []report.Boot{
		{Cell: "7.3/auto/x86_64/default", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "7.3", Arch: "x86_64",
			UMLFlags: "default", Status: "failed", Title: "failed: skipcall", DurationS: 12.5, Build: build("k1"),
			ConsoleLog: "cells/7.3/auto/x86_64/default/console.log", ResultsRaw: "cells/7.3/auto/x86_64/default/results.raw",
			Tests: []report.Test{
				{Name: "probe", Status: "pass", Directive: "level=skipcall"},
				{Name: "skipcall", Status: "fail", Diagnostic: []string{"want 1, got 2", "took 3ms"}, DurationS: 0.003,
					Subtests: []report.Test{{Name: "addr=0x6", Status: "pass"}, {Name: "addr=0x6", Status: "fail"}, {Name: "", Status: "todo"}}},
				{Name: "kselftest", Status: "pass", Subtests: []report.Test{
					{Name: "global.KILL_all", Status: "xfail"}, {Name: "seccomp bpf", Status: "skip", Directive: "SKIP no bpf"},
					{Name: "weird\x00name", Status: "error", Diagnostic: []string{strings.Repeat("é", maxExcerpt)}}}},
			}},
		{Cell: "7.3/auto/x86_64/nosysptvm", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "7.3", Arch: "x86_64",
			UMLFlags: "nosysptvm", Status: "panic", Title: "Kernel panic - not syncing\x00", DurationS: 3, Build: build("k1")},
		{Cell: "7.3/auto/i386/-", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "7.3", Arch: "i386",
			UMLFlags: "-", Status: "timeout", Title: "silent for 60s", Build: &report.Build{Key: "k2", Cached: true}},
		{Cell: "7.3/none/x86_64/default", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "none", Arch: "x86_64",
			UMLFlags: "default", Status: report.Flaky, Title: "21 tests passed", Build: build("k3"),
			Tries: []report.Try{{Status: "failed"}}, Tests: []report.Test{{Name: "baseline", Status: "pass"}}},
		{Cell: "7.3/none/x86_64/seccomp", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "none", Arch: "x86_64",
			UMLFlags: "seccomp", Status: "infra", Title: "QEMU could not start", Build: build("k3")},
		{Cell: "7.3/none/i386/default", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "none", Arch: "i386",
			UMLFlags: "default", Status: "invalid", Title: "config drops CONFIG_FOO"},
		{Cell: "7.3/none/i386/seccomp", Kernel: "debian:7.3", Version: "7.3.1", Digest: src, Series: "none", Arch: "i386",
			UMLFlags: "seccomp", Status: "interrupted", Title: "interrupted"},
		{Cell: "next/auto/x86_64/default", Kernel: "$NEXT_TREE", Series: "auto", Arch: "x86_64", UMLFlags: "default",
			Status: "skipped", Title: "NEXT_TREE is unset"},
		{Cell: "gone/auto/x86_64/default", Kernel: "/srv/gone", Series: "auto", Arch: "x86_64", UMLFlags: "default",
			Status: "invalid", Title: "no kernel source at /srv/gone"},
		{Kernel: "", Version: "6.1.0", Series: "none", Arch: "x86_64", Status: "passed", Title: "1 test passed",
			Build: &report.Build{Key: "image-k", Given: true}, Tests: []report.Test{{Name: "baseline", Status: "pass"}}},
	}}
}

// exportCases are the runs and options every check runs on.
func exportCases(t testing.TB) []struct {
	name string
	run  report.Run
	o    Options
} {
	full := Options{Origin: "ptvmlab_ci", RunID: "nightly-42", LogBaseURL: "https://ci.example.org/artifacts/42/",
		OutDir:    "/tmp/mrest/out",
		Sources:   map[string]Source{"debian:6.12": {TreeName: "stable", GitRepositoryURL: "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git", GitCommitHash: strings.Repeat("0123456789", 4), GitCommitName: "v6.12.117"}},
		Patchsets: map[string]string{"6.12": PatchsetHash("1111", "2222"), "7.3": PatchsetHash("3333")}}
	return []struct {
		name string
		run  report.Run
		o    Options
	}{
		{"matrix", loadRun(t, "matrix.json"), Options{}},
		{"matrix/full options", loadRun(t, "matrix.json"), full},
		{"run failed", loadRun(t, "run-failed.json"), Options{}},
		{"run panic", loadRun(t, "run-panic.json"), Options{LogBaseURL: "https://ci.example.org/a", OutDir: "/tmp/d11/out-4b"}},
		{"edge", edgeRun(), Options{}},
		{"edge/full options", edgeRun(), full},
		{"empty run", report.Run{}, Options{}},
	}
}

func TestExportValidates(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t, subsetSchema, jsonschema.Draft2020)
	for _, tc := range exportCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			js, err := Export(tc.run, tc.o)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if err := checkExport(sch, js); err != nil {
				t.Errorf("the export breaks the schema: %v\n%s", err, js)
			}
		})
	}
}

func TestExportDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range exportCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			first, err := Export(tc.run, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			// The run read back from its JSON, as a later command reads
			// results.json, and options whose maps were rebuilt (a new
			// iteration order) export the same bytes.
			var again report.Run
			js, _ := json.Marshal(tc.run)
			if err := json.Unmarshal(js, &again); err != nil {
				t.Fatal(err)
			}
			o := tc.o
			o.Patchsets = map[string]string{}
			for k, v := range tc.o.Patchsets {
				o.Patchsets[k] = v
			}
			for range 5 {
				second, err := Export(again, o)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first, second) {
					t.Fatalf("two exports of one run differ:\n%s\n---\n%s", first, second)
				}
			}
		})
	}
}

// TestChecksCatchBadExports plants faults in a good export: every one must
// be caught, or the checks above prove nothing.
func TestChecksCatchBadExports(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t, subsetSchema, jsonschema.Draft2020)
	good, err := Export(edgeRun(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkExport(sch, good); err != nil {
		t.Fatalf("the good export fails: %v", err)
	}
	for _, tc := range []struct {
		name  string
		plant func(d map[string]any)
		// schema says the subset schema sees the fault on its own (a
		// dangling reference or a foreign id prefix only Check sees).
		schema bool
	}{
		{"test id with another origin", func(d map[string]any) { item(d, "tests", 0)["id"] = "kernelci:x" }, false},
		{"build id without origin", func(d map[string]any) { item(d, "builds", 0)["id"] = "no-colon" }, true},
		{"uppercase origin", func(d map[string]any) { item(d, "checkouts", 0)["origin"] = "PTVMlab" }, true},
		{"test status not in the enum", func(d map[string]any) { item(d, "tests", 1)["status"] = "OK" }, true},
		{"lowercase build status", func(d map[string]any) { item(d, "builds", 0)["status"] = "pass" }, true},
		{"dangling checkout_id", func(d map[string]any) { item(d, "builds", 0)["checkout_id"] = "ptvmlab:nowhere" }, false},
		{"dangling build_id", func(d map[string]any) { item(d, "tests", 2)["build_id"] = "ptvmlab:nowhere" }, false},
		{"duplicate test id", func(d map[string]any) { item(d, "tests", 1)["id"] = item(d, "tests", 0)["id"] }, false},
		{"slash in a path", func(d map[string]any) { item(d, "tests", 1)["path"] = "default/skipcall" }, true},
		{"major 4", func(d map[string]any) { d["version"].(map[string]any)["major"] = 4 }, true},
		{"minor 9", func(d map[string]any) { d["version"].(map[string]any)["minor"] = 9 }, true},
		{"patchset hash not sha256", func(d map[string]any) { item(d, "checkouts", 1)["patchset_hash"] = "abc" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(good, &d); err != nil {
				t.Fatal(err)
			}
			tc.plant(d)
			bad, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkExport(sch, bad); err == nil {
				t.Errorf("a planted fault (%s) passed the checks", tc.name)
			}
			if err := validate(sch, bad); (err != nil) != tc.schema {
				t.Errorf("subset schema error = %v; want one: %v", err, tc.schema)
			}
		})
	}
}

// item is the i-th object of d's list.
func item(d map[string]any, list string, i int) map[string]any {
	return d[list].([]any)[i].(map[string]any)
}

func TestMapping(t *testing.T) {
	t.Parallel()
	d, err := Convert(edgeRun(), Options{RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]Test{}
	for _, x := range d.Tests {
		tests[strings.TrimPrefix(x.ID, "ptvmlab:r/")] = x
	}
	for _, tc := range []struct {
		id, path string
		status   Status
	}{
		{"7.3/auto/x86_64/default/default", "default", Fail},
		{"7.3/auto/x86_64/default/default.probe", "default.probe", Pass},
		{"7.3/auto/x86_64/default/default.skipcall", "default.skipcall", Fail},
		{"7.3/auto/x86_64/default/default.skipcall.addr_0x6", "default.skipcall.addr_0x6", Pass},
		{"7.3/auto/x86_64/default/default.skipcall.addr_0x6~2", "default.skipcall.addr_0x6", Fail},
		{"7.3/auto/x86_64/default/default.skipcall._", "default.skipcall._", Skip},
		{"7.3/auto/x86_64/default/default.kselftest.global_KILL_all", "default.kselftest.global_KILL_all", Pass},
		{"7.3/auto/x86_64/default/default.kselftest.seccomp_bpf", "default.kselftest.seccomp_bpf", Skip},
		{"7.3/auto/x86_64/default/default.kselftest.weird_name", "default.kselftest.weird_name", Error},
		{"7.3/auto/x86_64/nosysptvm/nosysptvm", "nosysptvm", Fail},
		{"7.3/auto/i386/-/none", "none", Error},
		{"7.3/none/x86_64/default/default", "default", Pass},
		{"7.3/none/x86_64/seccomp/seccomp", "seccomp", Miss},
		{"6.1.0/none/x86_64/boot", "boot", Pass},
		{"6.1.0/none/x86_64/boot.baseline", "boot.baseline", Pass},
	} {
		got, ok := tests[tc.id]
		if !ok {
			t.Errorf("no test %s", tc.id)
			continue
		}
		if got.Path != tc.path || got.Status != tc.status {
			t.Errorf("test %s: path %q status %s; want %q %s", tc.id, got.Path, got.Status, tc.path, tc.status)
		}
	}
	if n := len(tests); n != 17 {
		t.Errorf("%d tests; want 17 (no tests for boots that never got a kernel)", n)
	}
	// Builds: k1, k2, k3, none for 7.3/none/i386 (its invalid and
	// interrupted boots), and the given image; none for the skipped cell
	// and the source that was not there.
	want := map[string]Status{"k1": Pass, "k2": Pass, "k3": Pass, "": Fail, "image-k": Pass}
	if len(d.Builds) != len(want) {
		t.Errorf("%d builds; want %d", len(d.Builds), len(want))
	}
	for _, b := range d.Builds {
		if s, ok := want[b.Misc.Key]; !ok || s != b.Status {
			t.Errorf("build %q status %s; want %s", b.Misc.Key, b.Status, s)
		}
		switch b.Misc.Key {
		case "k1":
			if b.Duration == nil || *b.Duration != 312.5 {
				t.Errorf("build k1 duration %v; want 312.5", b.Duration)
			}
		case "k2", "image-k":
			if b.Duration != nil {
				t.Errorf("build %s (not built in this run) has a duration", b.Misc.Key)
			}
		case "":
			if b.LogExcerpt != "config drops CONFIG_FOO" {
				t.Errorf("unbuilt build's excerpt %q; want the invalid boot's title", b.LogExcerpt)
			}
		}
	}
	// Checkouts: 7.3+series, 7.3 alone, the given image's.
	if len(d.Checkouts) != 3 {
		t.Fatalf("%d checkouts; want 3", len(d.Checkouts))
	}
	if c := d.Checkouts[1]; c.PatchsetHash == nil || *c.PatchsetHash != "" || c.Valid == nil || !*c.Valid {
		t.Errorf("checkout without a series: patchset_hash %v valid %v; want \"\" and true", c.PatchsetHash, c.Valid)
	}
	if c := d.Checkouts[0]; c.PatchsetHash != nil {
		t.Errorf("checkout with a series and no Patchsets entry has patchset_hash %q", *c.PatchsetHash)
	}
}

func TestStatusWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		word string
		boot Status
		ktap Status
	}{
		{"passed", Pass, Error}, {"flaky", Pass, Error}, {"failed", Fail, Error}, {"quarantined", Fail, Error}, {"panic", Fail, Error},
		{"timeout", Error, Error}, {"infra", Miss, Error}, {"interrupted", Miss, Error}, {"invalid", Miss, Error},
		{"pass", Miss, Pass}, {"fail", Miss, Fail}, {"skip", Miss, Skip}, {"xfail", Miss, Pass}, {"todo", Miss, Skip},
		{"error", Miss, Error},
	} {
		if got := bootStatus(tc.word); got != tc.boot {
			t.Errorf("bootStatus(%q) = %s; want %s", tc.word, got, tc.boot)
		}
		if got := ktapStatus(tc.word); got != tc.ktap {
			t.Errorf("ktapStatus(%q) = %s; want %s", tc.word, got, tc.ktap)
		}
	}
}

func TestLogURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, console, base, out string
		want                     string
	}{
		{"relative", "cells/6.12/auto/x86_64/default/console.log", "https://ci.example.org/a/7", "",
			"https://ci.example.org/a/7/cells/6.12/auto/x86_64/default/console.log"},
		{"absolute below out", "/tmp/o/cells/x/console.log", "https://ci.example.org/a/", "/tmp/o",
			"https://ci.example.org/a/cells/x/console.log"},
		{"escaped", "cells/a b/console#1.log", "https://h/a", "", "https://h/a/cells/a%20b/console%231.log"},
		{"absolute, no out dir", "/tmp/o/console.log", "https://h/a", "", ""},
		{"outside out", "/elsewhere/console.log", "https://h/a", "/tmp/o", ""},
		{"climbs out", "../console.log", "https://h/a", "", ""},
		{"no base", "cells/x/console.log", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Run{Started: started, Boots: []report.Boot{{Kernel: "k", Version: "6.12", Digest: "sha256:00", Series: "none",
				Arch: "x86_64", Status: "passed", Build: &report.Build{Key: "b"}, ConsoleLog: tc.console}}}
			d, err := Convert(r, Options{LogBaseURL: tc.base, OutDir: tc.out})
			if err != nil {
				t.Fatal(err)
			}
			boot := d.Tests[0]
			if boot.LogURL != tc.want {
				t.Errorf("log_url %q; want %q", boot.LogURL, tc.want)
			}
			if tc.want == "" && boot.Misc.ConsoleLog != tc.console {
				t.Errorf("misc.console_log %q; want the path %q kept", boot.Misc.ConsoleLog, tc.console)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    Options
		want string // in the error
	}{
		{"origin with capitals and a dash", Options{Origin: "PTVM-Lab"}, `e.g. "ptvm_lab"`},
		{"run ID with a NUL", Options{RunID: "a\x00b"}, "NUL"},
		{"relative log base", Options{LogBaseURL: "artifacts/7"}, "https://host/"},
		{"git URL over ssh", Options{Sources: map[string]Source{"k": {GitRepositoryURL: "git@github.com:a/b"}}}, "https://"},
		{"short commit", Options{Sources: map[string]Source{"k": {GitCommitHash: "abc123"}}}, "40-digit"},
		{"patchset hash", Options{Patchsets: map[string]string{"6.12": "sha256:abc"}}, "PatchsetHash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Export(report.Run{Started: started}, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Export error = %v; want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestPatchsetHash(t *testing.T) {
	t.Parallel()
	one, two := strings.Repeat("1", 64), strings.Repeat("2", 64)
	// printf '%s\n' $one $two | sha256sum
	const want = "f5404fd407075eb9ef6261cbfc12da4cbe2906c3a04dcffd2be12daa6a475c89"
	for _, tc := range []struct {
		name string
		sums []string
		want string
	}{
		{"hex", []string{one, two}, want},
		{"prefixed", []string{"sha256:" + one, "sha256:" + two}, want},
		{"no patches", nil, ""},
	} {
		if got := PatchsetHash(tc.sums...); got != tc.want {
			t.Errorf("%s: PatchsetHash = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	r := loadRun(t, "run-panic.json")
	path := filepath.Join(t.TempDir(), "kcidb.json")
	if err := Write(path, r, Options{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Export(r, Options{})
	if !bytes.Equal(got, want) {
		t.Errorf("Write wrote other bytes than Export gives")
	}
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "dir", "k.json"), r, Options{}); err == nil {
		t.Errorf("Write into a missing directory: no error")
	}
}

// TestFullSchema validates the exports against kcidb-io's own schema, when
// PTVMLAB_KCIDB_SCHEMA names a dump of it (kcidb_io.schema.LATEST.json).
func TestFullSchema(t *testing.T) {
	t.Parallel()
	file := os.Getenv("PTVMLAB_KCIDB_SCHEMA")
	if file == "" {
		t.Skip("PTVMLAB_KCIDB_SCHEMA is unset: dump kcidb-io's schema (python3 -c 'import json,kcidb_io; " +
			"print(json.dumps(kcidb_io.schema.LATEST.json))' > kcidb.schema.json) and name it to validate against the real schema")
	}
	sch := compileSchema(t, file, jsonschema.Draft7)
	for _, tc := range exportCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			js, err := Export(tc.run, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(sch, js); err != nil {
				t.Errorf("kcidb-io's schema rejects the export: %v", err)
			}
		})
	}
}
