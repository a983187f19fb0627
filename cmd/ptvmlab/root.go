package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

const modulePath = "github.com/ptvmlab/ptvmlab"

// moduleRoot finds the ptvmlab checkout: $PTVMLAB_ROOT, else the first
// directory at or above the working directory, or above the executable,
// whose go.mod declares this module. The guest binaries are built from its
// guesttests/ and the configs read from its kconfigs/.
func moduleRoot() (string, error) {
	if r := os.Getenv("PTVMLAB_ROOT"); r != "" {
		if isRoot(r) {
			return r, nil
		}
		return "", fmt.Errorf("PTVMLAB_ROOT=%s holds no ptvmlab checkout (go.mod of %s)", r, modulePath)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, d := range starts {
		for ; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "", fmt.Errorf("no ptvmlab checkout found above the working directory: run ptvmlab inside the repository or set PTVMLAB_ROOT")
}

func isRoot(d string) bool {
	b, err := os.ReadFile(filepath.Join(d, "go.mod"))
	return err == nil && bytes.HasPrefix(b, []byte("module "+modulePath+"\n"))
}
