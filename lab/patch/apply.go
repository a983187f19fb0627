package patch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// ApplyError says which patch, file and hunk did not apply.
type ApplyError struct {
	Patch string
	File  string
	Hunk  int // 0 when the failure is not a hunk (a missing file, a malformed patch)
	Line  int // where the hunk was expected in the file
	Why   string
}

func (e *ApplyError) Error() string {
	switch {
	case e.Hunk > 0:
		return fmt.Sprintf("patch %s does not apply: %s hunk #%d (at line %d) failed; refresh the series for this tree (ptvmlab patches refresh)", e.Patch, e.File, e.Hunk, e.Line)
	case e.File != "":
		return fmt.Sprintf("patch %s does not apply to %s: %s", e.Patch, e.File, e.Why)
	}
	return fmt.Sprintf("patch %s does not apply: %s", e.Patch, e.Why)
}

// Options tune Apply.
type Options struct {
	// Fuzz is GNU patch's fuzz factor: 0 (the default) takes the series
	// only where it fits exactly; refresh uses 3.
	Fuzz int
}

// Apply applies every patch of s to the tree at dir, in order. Each patch is
// tried with --dry-run first, so a failing patch changes nothing; patches
// before it stay applied, so callers apply into a scratch copy and drop it
// on error (the tree is never left half-patched).
func Apply(ctx context.Context, dir string, s *Series, o Options) error {
	for _, p := range s.Patches {
		if err := applyOne(ctx, dir, p, o); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, dir string, p Patch, o Options) error {
	args := []string{"-p1", "--batch", "--forward", "--no-backup-if-mismatch", "--reject-file=-",
		"--fuzz=" + strconv.Itoa(o.Fuzz), "-d", dir, "-i", p.Path}
	out, err := proc.Command(ctx, "patch", append([]string{"--dry-run"}, args...)...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("run patch: %w (install it with: apt-get install patch)", err)
		}
		return ParsePatchFailure(p.Name, out)
	}
	if out, err := proc.Command(ctx, "patch", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("patch %s: applied in a dry run but not for real: %w: %s", p.Name, err, proc.FirstLine(out))
	}
	return nil
}

var (
	fileRe = regexp.MustCompile(`^(?:checking|patching) file '?([^']+?)'?$`)
	hunkRe = regexp.MustCompile(`^Hunk #(\d+) FAILED at (\d+)`)
)

// ParsePatchFailure reads GNU patch's output and names the first file and
// hunk that failed.
func ParsePatchFailure(name string, out []byte) *ApplyError {
	e := &ApplyError{Patch: name}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := fileRe.FindStringSubmatch(line); m != nil {
			e.File = m[1]
			continue
		}
		if m := hunkRe.FindStringSubmatch(line); m != nil {
			e.Hunk, _ = strconv.Atoi(m[1])
			e.Line, _ = strconv.Atoi(m[2])
			return e
		}
		switch {
		case strings.Contains(line, "can't find file to patch"):
			e.Why = "a file it changes does not exist in this tree"
			return e
		case strings.Contains(line, "Reversed (or previously applied) patch detected"):
			e.Why = "it is already applied"
			return e
		case strings.HasPrefix(line, "patch: **** "):
			e.Why = strings.TrimPrefix(line, "patch: **** ")
			return e
		}
	}
	e.Why = "patch failed: " + proc.FirstLine(out)
	return e
}
