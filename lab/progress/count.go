package progress

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/cache"
)

// countKind is the cache directory that keeps the last count of each
// family, one small JSON file each.
const countKind = "progress"

// lastCount is what a count file holds.
type lastCount struct {
	Family string    `json:"family"`
	Count  int       `json:"count"`
	Saved  time.Time `json:"saved"`
}

// familyRe is what a family name may hold: it names a file.
var familyRe = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)

// countPath is where family's count is kept, or "" for a name that
// cannot be a file's.
func countPath(c cache.Dir, family string) string {
	if !familyRe.MatchString(family) || family == "." || family == ".." {
		return ""
	}
	return c.Path(countKind, family+".json")
}

// LastCount returns the count SaveCount last kept for family (a kind of
// build: "kbuild-6.12-x86_64-patched"), or 0 when there is none: a first
// build has no estimate. A family's builds differ little, so the last one
// is a fair guess at the next.
func LastCount(c cache.Dir, family string) int {
	p := countPath(c, family)
	if p == "" {
		return 0
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	var lc lastCount
	if json.Unmarshal(b, &lc) != nil || lc.Count < 0 {
		return 0
	}
	return lc.Count
}

// SaveCount keeps n as family's count, for the next build's estimate. It
// writes through a rename: a reader never sees half a file.
func SaveCount(c cache.Dir, family string, n int) error {
	p := countPath(c, family)
	if p == "" {
		return fmt.Errorf("progress: %q cannot name a count file", family)
	}
	if err := os.MkdirAll(c.Path(countKind), 0o755); err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	b, err := json.MarshalIndent(lastCount{Family: family, Count: n, Saved: time.Now().UTC().Truncate(time.Second)}, "", "  ")
	if err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(p, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("progress: keep the count of %s: %w", family, err)
	}
	return nil
}
