package patch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// RefreshReport says how a series fared on a new base.
type RefreshReport struct {
	Out     string
	Patches []RefreshedPatch
}

// RefreshedPatch is one patch on the new base: applied (perhaps with fuzz
// or offsets), or the hunks that need a hand.
type RefreshedPatch struct {
	Name    string
	Applied bool
	Notes   []string // "Hunk #2 succeeded at 845 (offset 12 lines)." and failures
}

// Applied reports whether every patch applied.
func (r *RefreshReport) Applied() bool {
	for _, p := range r.Patches {
		if !p.Applied {
			return false
		}
	}
	return true
}

func (r *RefreshReport) String() string {
	var b strings.Builder
	for _, p := range r.Patches {
		state := "applies"
		if !p.Applied {
			state = "NEEDS A HAND"
		}
		fmt.Fprintf(&b, "%s: %s\n", p.Name, state)
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "    %s\n", n)
		}
	}
	if r.Applied() {
		fmt.Fprintf(&b, "refreshed series written to %s\n", r.Out)
	} else {
		fmt.Fprintf(&b, "nothing written: fix the hunks above by hand in a tree, then ptvmlab patches export --no-signoff\n")
	}
	return b.String()
}

// Refresh applies s to a copy of base with fuzz, and when every patch
// applies, writes the refreshed series (re-exported mails against base) to
// out. Otherwise it writes nothing and reports the hunks that need a hand.
func Refresh(ctx context.Context, base string, s *Series, out string) (*RefreshReport, error) {
	scratch, doneScratch, err := cache.ScratchDir("", "ptvmlab-refresh-")
	if err != nil {
		return nil, err
	}
	defer doneScratch()
	repo := filepath.Join(scratch, "tree")
	if err := seedTouched(base, s, repo); err != nil {
		return nil, err
	}
	rep := &RefreshReport{Out: out}
	failed := false
	for _, p := range s.Patches {
		rp := RefreshedPatch{Name: p.Name}
		args := []string{"-p1", "--batch", "--forward", "--no-backup-if-mismatch", "--reject-file=-", "--fuzz=3", "-d", repo, "-i", p.Path}
		res, err := proc.Command(ctx, "patch", args...).CombinedOutput()
		rp.Applied = err == nil
		rp.Notes = hunkNotes(res)
		if !rp.Applied {
			failed = true
		}
		rep.Patches = append(rep.Patches, rp)
		if failed {
			break
		}
	}
	if failed {
		return rep, nil
	}
	return rep, Export(ctx, base, s, out, Options{Fuzz: 3})
}

// hunkNotes keeps GNU patch's lines about hunks that moved, fuzzed or failed.
func hunkNotes(out []byte) []string {
	var notes []string
	file := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := fileRe.FindStringSubmatch(line); m != nil {
			file = m[1]
			continue
		}
		if strings.HasPrefix(line, "Hunk #") || strings.Contains(line, "can't find file") {
			notes = append(notes, file+": "+line)
		}
	}
	return notes
}
