package patch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptvmlab/ptvmlab/lab/era"
)

// EraDir returns the series directory under root (the repo's patches/) for
// a kernel version: patches/2.6.29 for 2.6.29.x, patches/6.12 for 6.12.y.
func EraDir(root, version string) (string, error) {
	v, err := era.ParseVersion(version)
	if err != nil {
		return "", err
	}
	names := []string{v.Name()}
	if len(v) >= 3 && v[0] == 2 {
		names = append(names, era.Version{v[0], v[1]}.Name())
	}
	for _, n := range names {
		d := filepath.Join(root, n)
		if _, err := os.Stat(filepath.Join(d, "series")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no series for kernel %s under %s (looked for %s); pass --series DIR, or --series none for the unpatched kernel",
		version, root, strings.Join(names, ", "))
}
