package patch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EraDir returns the series directory under root (the repo's patches/) for
// a kernel version: patches/2.6.29 for 2.6.29.x, patches/6.12 for 6.12.y.
func EraDir(root, version string) (string, error) {
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 4)
	var names []string
	if len(parts) >= 3 && parts[0] == "2" {
		names = append(names, strings.Join(parts[:3], "."))
	}
	if len(parts) >= 2 {
		names = append(names, strings.Join(parts[:2], "."))
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
