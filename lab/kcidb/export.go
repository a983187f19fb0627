package kcidb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/ktap"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// DefaultOrigin names ptvmlab to KCIDB when Options.Origin is "".
const DefaultOrigin = "ptvmlab"

// skipped is matrix.Skipped: a cell whose source names an unset variable.
const skipped = "skipped"

// Options say what a run's record does not: who submits it, and where its
// sources and logs live. The zero value exports as origin "ptvmlab" with
// no URLs.
type Options struct {
	// Origin names the submitting CI system: lowercase letters, digits
	// and '_'. "" is DefaultOrigin.
	Origin string
	// RunID makes the run's ids its own; "" is the run's start time
	// (20060102T150405.000000000Z), or a hash of the run when it has none.
	RunID string
	// Sources describe kernel sources by their --kernel spec
	// (report.Boot.Kernel): the git tree and commit, when known.
	Sources map[string]Source
	// Patchsets are KCIDB patchset hashes (PatchsetHash) by series name
	// (report.Boot.Series); a series not here exports no patchset_hash.
	Patchsets map[string]string
	// LogBaseURL is where the run's output directory is published
	// (https://…/artifacts/123); logs are linked only when it is set.
	LogBaseURL string
	// OutDir is the run's output directory, for records that name their
	// logs by absolute paths below it.
	OutDir string
}

// Source is what KCIDB calls the base of a checkout.
type Source struct {
	TreeName         string // "mainline", "stable"
	GitRepositoryURL string // https:// only, as the schema asks
	GitCommitHash    string // 40 hex digits
	GitCommitName    string // as git describe gives it
}

// Export renders r as KCIDB v5.3 JSON, indented, newline-terminated: the
// same run and options always give the same bytes.
func Export(r report.Run, o Options) ([]byte, error) {
	d, err := Convert(r, o)
	if err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("kcidb: %w", err)
	}
	return append(js, '\n'), nil
}

// Write exports r to path, atomically.
func Write(path string, r report.Run, o Options) error {
	js, err := Export(r, o)
	if err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(path, js, 0o644); err != nil {
		return fmt.Errorf("kcidb: write %s: %w", path, err)
	}
	return nil
}

// Convert maps r to KCIDB objects (see the package comment), and checks
// them (Check): an error is either bad options or a bug here.
func Convert(r report.Run, o Options) (Data, error) {
	if err := o.fill(r); err != nil {
		return Data{}, err
	}
	x := exporter{o: o, start: startTime(r.Started), checkouts: map[string]int{}, builds: map[string]int{}, ids: map[string]bool{}}
	x.d.Version = Version{Major: Major, Minor: Minor}
	for _, b := range r.Boots {
		x.boot(b)
	}
	if err := Check(x.d); err != nil {
		return Data{}, fmt.Errorf("kcidb: the export breaks the schema: %w", err)
	}
	return x.d, nil
}

// fill sets o's defaults and checks its values against the schema.
func (o *Options) fill(r report.Run) error {
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if !originRe.MatchString(o.Origin) {
		return fmt.Errorf("kcidb: origin %q does not match %s: use lowercase letters, digits and '_' only, e.g. %q",
			o.Origin, originRe, strings.ReplaceAll(strings.ToLower(component(o.Origin)), "-", "_"))
	}
	switch {
	case strings.ContainsRune(o.RunID, 0):
		return fmt.Errorf("kcidb: run ID %q holds a NUL: give one without", o.RunID)
	case o.RunID != "":
	case !r.Started.IsZero():
		o.RunID = r.Started.UTC().Format("20060102T150405.000000000Z")
	default:
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("kcidb: %w", err)
		}
		o.RunID = "run-" + hash(string(js))
	}
	if o.LogBaseURL != "" {
		if u, err := url.Parse(o.LogBaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("kcidb: log base URL %q is not an absolute URL: give one like https://host/artifacts/run", o.LogBaseURL)
		}
	}
	for spec, s := range o.Sources {
		if s.GitRepositoryURL != "" && !strings.HasPrefix(s.GitRepositoryURL, "https://") {
			return fmt.Errorf("kcidb: source %s: git repository URL %q: KCIDB takes https:// URLs only", spec, s.GitRepositoryURL)
		}
		if s.GitCommitHash != "" && !sha1Re.MatchString(s.GitCommitHash) {
			return fmt.Errorf("kcidb: source %s: git commit %q: give the full 40-digit lowercase hash", spec, s.GitCommitHash)
		}
	}
	for series, h := range o.Patchsets {
		if !sha256Re.MatchString(h) {
			return fmt.Errorf("kcidb: series %s: patchset hash %q is not 64 lowercase hex digits: compute it with PatchsetHash", series, h)
		}
	}
	return nil
}

// PatchsetHash is KCIDB's patchset_hash of patches with these sha256 sums,
// in order of application: the sha256 of each sum's hex and a newline
// ("sha256sum *.patch | cut -c-64 | sha256sum"). A sum may carry a
// "sha256:" prefix; no patches hash to "".
func PatchsetHash(sums ...string) string {
	if len(sums) == 0 {
		return ""
	}
	h := sha256.New()
	for _, s := range sums {
		fmt.Fprintf(h, "%s\n", strings.ToLower(strings.TrimPrefix(s, "sha256:")))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// exporter gathers one run's objects.
type exporter struct {
	o     Options
	start string
	d     Data
	// checkouts and builds index d's objects by their ids.
	checkouts, builds map[string]int
	ids               map[string]bool // test ids taken
}

// boot adds b's checkout, build and tests.
func (x *exporter) boot(b report.Boot) {
	if b.Status == skipped || (b.Digest == "" && b.Build == nil) {
		return
	}
	c := x.checkout(b)
	bu := x.build(b, c)
	if b.Build == nil && unbooted(b.Status) {
		return
	}
	x.bootTests(b, bu)
}

// checkout finds or adds b's checkout, and returns its index.
func (x *exporter) checkout(b report.Boot) int {
	source := b.Digest
	if source == "" {
		// A kernel image from elsewhere: the build is all that names it.
		source = "build:" + b.Build.Key
	}
	id := x.id("src-" + hash(source, b.Series))
	i, ok := x.checkouts[id]
	if !ok {
		s := x.o.Sources[b.Kernel]
		c := Checkout{ID: id, Origin: x.o.Origin, TreeName: clean(s.TreeName), GitRepositoryURL: s.GitRepositoryURL,
			GitCommitHash: s.GitCommitHash, GitCommitName: clean(s.GitCommitName), StartTime: x.start,
			Comment: clean(checkoutComment(b)),
			Misc:    CheckoutMisc{Kernel: b.Kernel, Version: b.Version, SourceDigest: b.Digest, Series: b.Series}}
		if h, ok := x.o.Patchsets[b.Series]; ok {
			c.PatchsetHash = &h
		} else if b.Series == "none" {
			c.PatchsetHash = new("")
		}
		i = len(x.d.Checkouts)
		x.checkouts[id] = i
		x.d.Checkouts = append(x.d.Checkouts, c)
	}
	if b.Build != nil {
		x.d.Checkouts[i].Valid = new(true)
	}
	return i
}

func checkoutComment(b report.Boot) string {
	s := "Linux " + dash(b.Version) + " (" + dash(b.Kernel) + ")"
	if b.Series != "" && b.Series != "none" {
		s += " with series " + b.Series
	}
	return s
}

// build finds or adds b's build from checkout c, and returns its id.
func (x *exporter) build(b report.Boot, c int) string {
	co := x.d.Checkouts[c]
	key := ""
	if b.Build != nil {
		key = b.Build.Key
	}
	id := x.id("build-" + hash(co.ID, b.Arch, key))
	if i, ok := x.builds[id]; ok {
		if b.Build == nil {
			// Boots with no kernel share a build: the worst of their
			// statuses is its status.
			if s := unbuiltStatus(b.Status); s != "" && (x.d.Builds[i].Status == "" || priority(s) < priority(x.d.Builds[i].Status)) {
				x.d.Builds[i].Status, x.d.Builds[i].LogExcerpt = s, excerpt(b.Title)
			}
		}
		return id
	}
	bu := Build{ID: id, Origin: x.o.Origin, CheckoutID: co.ID, StartTime: x.start, Architecture: arch(b.Arch)}
	if b.Build != nil {
		bu.Status = Pass
		bu.Misc = BuildMisc{Key: b.Build.Key, Cached: b.Build.Cached, Given: b.Build.Given}
		how := "built"
		switch {
		case b.Build.Given:
			how = "given, not built"
		case b.Build.Cached:
			how = "from the build cache"
		default:
			bu.Duration = new(b.Build.TookS)
		}
		bu.Comment = clean(fmt.Sprintf("%s %s, %s", dash(b.Version), b.Arch, how))
		if b.Digests != nil {
			bu.Misc.ImageDigest, bu.Misc.ConfigDigest = b.Digests.Image, b.Digests.Config
		}
	} else {
		bu.Status = unbuiltStatus(b.Status)
		bu.Comment = clean(fmt.Sprintf("%s %s, no kernel: %s", dash(b.Version), b.Arch, b.Status))
		if bu.Status != "" {
			bu.LogExcerpt = excerpt(b.Title)
		}
	}
	x.builds[id] = len(x.d.Builds)
	x.d.Builds = append(x.d.Builds, bu)
	return id
}

// unbooted says a boot of this status ran nothing when it has no kernel:
// its build says why.
func unbooted(status string) bool { return unbuiltStatus(status) != "" }

// unbuiltStatus is the status of a build that made no kernel for a boot
// that ended as status; "" when the boot's status says nothing of it.
func unbuiltStatus(status string) Status {
	switch status {
	case "invalid":
		return Fail // the series or config under test does not fit the source
	case "infra", "interrupted":
		return Miss
	}
	return ""
}

// bootTests adds b's own test and its KTAP tests, on build bu.
func (x *exporter) bootTests(b report.Boot, bu string) {
	name := b.Cell
	if name == "" {
		name = b.SuiteName()
	}
	root := "boot"
	switch b.UMLFlags {
	case "":
	case "-":
		root = "none"
	default:
		root = component(b.UMLFlags)
	}
	t := Test{ID: x.testID(name, root), Origin: x.o.Origin, BuildID: bu, Path: root, Status: bootStatus(b.Status),
		StartTime: x.start, Comment: clean(b.Title), LogURL: x.url(b.ConsoleLog),
		Misc: TestMisc{Cell: b.Cell, BootStatus: b.Status, Probe: b.Probe, Accel: b.Accel, Reused: b.Reused, Tries: len(b.Tries)}}
	if b.DurationS > 0 {
		t.Duration = new(b.DurationS)
	}
	if t.Status != Pass {
		t.LogExcerpt = excerpt(b.Title)
	}
	if t.LogURL == "" {
		t.Misc.ConsoleLog = b.ConsoleLog
	}
	raw := x.url(b.ResultsRaw)
	if raw != "" {
		t.OutputFiles = []Resource{{Name: "results.raw", URL: raw}}
	} else {
		t.Misc.ResultsRaw = b.ResultsRaw
	}
	x.d.Tests = append(x.d.Tests, t)
	x.ktapTests(b, name, bu, root, raw, b.Tests)
}

// ktapTests adds ts, below path, and their subtests.
func (x *exporter) ktapTests(b report.Boot, name, bu, path, log string, ts []report.Test) {
	for _, kt := range ts {
		p := path + "." + component(kt.Name)
		t := Test{ID: x.testID(name, p), Origin: x.o.Origin, BuildID: bu, Path: p, Status: ktapStatus(kt.Status),
			StartTime: x.start, LogURL: log, Comment: clean(kt.Directive),
			Misc: TestMisc{Cell: b.Cell, KTAPStatus: kt.Status, Directive: kt.Directive, Quarantine: kt.Quarantine}}
		if kt.DurationS > 0 {
			t.Duration = new(kt.DurationS)
		}
		if t.Status == Fail || t.Status == Error {
			t.LogExcerpt = excerpt(strings.Join(kt.Diagnostic, "\n"))
		}
		x.d.Tests = append(x.d.Tests, t)
		x.ktapTests(b, name, bu, p, log, kt.Subtests)
	}
}

// bootStatus is the status of a boot's own test.
func bootStatus(s string) Status {
	switch s {
	case "passed", report.Flaky:
		return Pass
	case "failed", "panic", report.Quarantined:
		return Fail // a quarantined cell's tests did fail; misc.quarantine says why that is tolerated
	case "timeout":
		return Error
	}
	return Miss // infra, interrupted, invalid, and any word this package does not know
}

// ktapStatus is the status of a KTAP test.
func ktapStatus(s string) Status {
	switch ktap.Status(s) {
	case ktap.Pass, ktap.XFail:
		return Pass
	case ktap.Fail:
		return Fail
	case ktap.Skip, ktap.Todo:
		return Skip
	}
	return Error // ktap.Error, and a word the parser never writes
}

// id is an object id: origin, run, local.
func (x *exporter) id(local string) string { return x.o.Origin + ":" + x.o.RunID + "/" + local }

// testID is the id of the test at path in the boot called name; the first
// one is plain, a later one with the same path gets "~2", "~3" and so on.
func (x *exporter) testID(name, path string) string {
	base := x.id(name + "/" + path)
	id := base
	for n := 2; x.ids[id]; n++ {
		id = fmt.Sprintf("%s~%d", base, n)
	}
	x.ids[id] = true
	return id
}

// url is where the log at p (relative to the run's output directory, or
// absolute below Options.OutDir) is published; "" when it is not.
func (x *exporter) url(p string) string {
	if p == "" || x.o.LogBaseURL == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		if x.o.OutDir == "" {
			return ""
		}
		rel, err := filepath.Rel(x.o.OutDir, p)
		if err != nil {
			return ""
		}
		p = rel
	}
	p = filepath.ToSlash(filepath.Clean(p))
	if p == ".." || strings.HasPrefix(p, "../") {
		return ""
	}
	u, err := url.JoinPath(x.o.LogBaseURL, strings.Split(p, "/")...)
	if err != nil {
		return ""
	}
	return u
}

// startTime is t as the schema's date-time; "" for no time.
func startTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// hash is a short, stable name for parts.
func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// arch is a as the schema's architecture: lowercase, [a-z0-9_].
func arch(a string) string {
	if a == "" {
		return ""
	}
	return strings.ToLower(component(a))
}

// clean drops the NULs the schema's free text may not hold.
func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// excerpt is s cut to the schema's log_excerpt limit, on a rune boundary.
func excerpt(s string) string {
	s = strings.ToValidUTF8(clean(s), "\uFFFD")
	if len(s) <= maxExcerpt {
		return s
	}
	n := maxExcerpt
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
