package kcidb

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The schema version the export follows: kernelci/kcidb-io,
// kcidb_io/schema/v05_03.py (class Version, major 5 from v05_00.py, minor
// 3). Every value below is checked against what that file and its parents
// (v05_00.py, v03_00.py) say.
const (
	Major = 5
	Minor = 3
)

// Patterns of the schema's strings, as kcidb-io writes them.
var (
	// originRe is v03_00.py's origin_pattern: the submitting CI system.
	originRe = regexp.MustCompile(`^[a-z0-9_]+$`)
	// idRe is v05_00.py's origin_id_pattern: "origin:" and anything
	// without a NUL.
	idRe = regexp.MustCompile(`^([a-z0-9_]+):[^\x00]*$`)
	// pathRe is v05_00.py's test_path_re: dot-separated components of
	// letters, digits, '_' and '-'; "" is the root.
	pathRe = regexp.MustCompile(`^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$`)
	// archRe is a build's "architecture" pattern.
	archRe = regexp.MustCompile(`^[a-z0-9_]*$`)
	// sha256Re is v03_00.py's sha256_pattern (a patchset_hash), and
	// sha1Re its git_commit_hash_pattern.
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha1Re   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// maxExcerpt is the schema's maxLength of a log_excerpt.
const maxExcerpt = 16384

// Status is a build's or test's status, the schema's "$defs/status" enum.
type Status string

// The statuses, highest priority first, as the schema lists them.
const (
	Fail  Status = "FAIL"  // completed, and found the code faulty
	Error Status = "ERROR" // did not complete for a fault of its own; code unknown
	Miss  Status = "MISS"  // did not run for a fault of the harness
	Pass  Status = "PASS"  // completed, and found the code correct
	Done  Status = "DONE"  // completed, with no verdict (a measurement)
	Skip  Status = "SKIP"  // did not run: not applicable
)

// statuses lists every Status by priority, highest first.
var statuses = []Status{Fail, Error, Miss, Pass, Done, Skip}

// priority is s's rank, 0 the highest; -1 when s is not a status.
func priority(s Status) int {
	for i, x := range statuses {
		if x == s {
			return i
		}
	}
	return -1
}

// Data is a KCIDB submission: the schema's top-level object.
type Data struct {
	Version   Version    `json:"version"`
	Checkouts []Checkout `json:"checkouts,omitempty"`
	Builds    []Build    `json:"builds,omitempty"`
	Tests     []Test     `json:"tests,omitempty"`
}

// Version is the schema version a submission follows.
type Version struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

// Checkout is the source a build was made from: a kernel tree and the
// patches applied to it.
type Checkout struct {
	ID               string `json:"id"`
	Origin           string `json:"origin"`
	TreeName         string `json:"tree_name,omitempty"`
	GitRepositoryURL string `json:"git_repository_url,omitempty"`
	GitCommitHash    string `json:"git_commit_hash,omitempty"`
	GitCommitName    string `json:"git_commit_name,omitempty"`
	// PatchsetHash is "" for no patches, so nil (unknown) is distinct.
	PatchsetHash *string      `json:"patchset_hash,omitempty"`
	Comment      string       `json:"comment,omitempty"`
	StartTime    string       `json:"start_time,omitempty"`
	Valid        *bool        `json:"valid,omitempty"`
	Misc         CheckoutMisc `json:"misc"`
}

// CheckoutMisc is what ptvmlab knows of a checkout beyond the schema.
type CheckoutMisc struct {
	Kernel       string `json:"kernel,omitempty"` // the --kernel spec
	Version      string `json:"version,omitempty"`
	SourceDigest string `json:"source_digest,omitempty"`
	Series       string `json:"series,omitempty"`
}

// Build is a kernel built from a checkout, or one that could not be.
type Build struct {
	ID           string    `json:"id"`
	Origin       string    `json:"origin"`
	CheckoutID   string    `json:"checkout_id"`
	Comment      string    `json:"comment,omitempty"`
	StartTime    string    `json:"start_time,omitempty"`
	Duration     *float64  `json:"duration,omitempty"`
	Architecture string    `json:"architecture,omitempty"`
	LogExcerpt   string    `json:"log_excerpt,omitempty"`
	Status       Status    `json:"status,omitempty"`
	Misc         BuildMisc `json:"misc"`
}

// BuildMisc is what ptvmlab knows of a build beyond the schema.
type BuildMisc struct {
	Key          string `json:"key,omitempty"` // the build's content key
	Cached       bool   `json:"cached,omitempty"`
	Given        bool   `json:"given,omitempty"`
	ImageDigest  string `json:"image_digest,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
}

// Test is one test run on a build: a boot, or a KTAP test within one.
type Test struct {
	ID          string     `json:"id"`
	Origin      string     `json:"origin"`
	BuildID     string     `json:"build_id"`
	Path        string     `json:"path"`
	Comment     string     `json:"comment,omitempty"`
	LogURL      string     `json:"log_url,omitempty"`
	LogExcerpt  string     `json:"log_excerpt,omitempty"`
	Status      Status     `json:"status,omitempty"`
	StartTime   string     `json:"start_time,omitempty"`
	Duration    *float64   `json:"duration,omitempty"`
	OutputFiles []Resource `json:"output_files,omitempty"`
	Misc        TestMisc   `json:"misc"`
}

// TestMisc is what ptvmlab knows of a test beyond the schema.
type TestMisc struct {
	Cell       string `json:"cell,omitempty"`
	KTAPStatus string `json:"ktap_status,omitempty"` // a KTAP test's own word
	BootStatus string `json:"boot_status,omitempty"` // a boot's own word
	Directive  string `json:"directive,omitempty"`
	Quarantine string `json:"quarantine,omitempty"`
	Probe      string `json:"probe,omitempty"`
	Accel      string `json:"accel,omitempty"`
	Reused     bool   `json:"reused,omitempty"`
	Tries      int    `json:"tries,omitempty"` // earlier tries of a rerun cell
	ConsoleLog string `json:"console_log,omitempty"`
	ResultsRaw string `json:"results_raw,omitempty"`
}

// Resource is a named file at a URL.
type Resource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Check reports every way d breaks the schema's rules that a JSON schema
// validator cannot see, and those it can that matter most: the version,
// each object's origin and id ("origin:…", its own origin), unique ids,
// statuses, test paths, and that every build's checkout and every test's
// build is in d. nil when d keeps them all.
func Check(d Data) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if d.Version.Major != Major || d.Version.Minor < 0 || d.Version.Minor > Minor {
		bad("version %d.%d: want %d.0 to %d.%d", d.Version.Major, d.Version.Minor, Major, Major, Minor)
	}
	checkouts, builds, tests := map[string]bool{}, map[string]bool{}, map[string]bool{}
	object := func(kind, id, origin string, seen map[string]bool) {
		if !originRe.MatchString(origin) {
			bad("%s %q: origin %q does not match %s", kind, id, origin, originRe)
		}
		if m := idRe.FindStringSubmatch(id); m == nil || m[1] != origin {
			bad("%s %q: id does not start with its origin %q and ':'", kind, id, origin)
		}
		if seen[id] {
			bad("%s %q: id used twice", kind, id)
		}
		seen[id] = true
	}
	status := func(kind, id string, s Status) {
		if s != "" && priority(s) < 0 {
			bad("%s %q: status %q is not one of %v", kind, id, s, statuses)
		}
	}
	for _, c := range d.Checkouts {
		object("checkout", c.ID, c.Origin, checkouts)
		if c.PatchsetHash != nil && *c.PatchsetHash != "" && !sha256Re.MatchString(*c.PatchsetHash) {
			bad("checkout %q: patchset_hash %q is not a sha256", c.ID, *c.PatchsetHash)
		}
	}
	for _, b := range d.Builds {
		object("build", b.ID, b.Origin, builds)
		status("build", b.ID, b.Status)
		if !checkouts[b.CheckoutID] {
			bad("build %q: checkout %q is not in the data", b.ID, b.CheckoutID)
		}
		if !archRe.MatchString(b.Architecture) {
			bad("build %q: architecture %q does not match %s", b.ID, b.Architecture, archRe)
		}
	}
	for _, t := range d.Tests {
		object("test", t.ID, t.Origin, tests)
		status("test", t.ID, t.Status)
		if !builds[t.BuildID] {
			bad("test %q: build %q is not in the data", t.ID, t.BuildID)
		}
		if !pathRe.MatchString(t.Path) {
			bad("test %q: path %q does not match %s", t.ID, t.Path, pathRe)
		}
		if len(t.LogExcerpt) > maxExcerpt {
			bad("test %q: log_excerpt of %d bytes, more than %d", t.ID, len(t.LogExcerpt), maxExcerpt)
		}
	}
	return errors.Join(errs...)
}

// component makes name one test path component: every character the
// schema does not allow becomes '_', and "" becomes "_".
func component(name string) string {
	if name == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}
