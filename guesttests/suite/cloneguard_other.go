//go:build !amd64 && !386

package suite

import "os"

// CloneGuardFlag: see cloneguard.go (x86 only).
const CloneGuardFlag = "-clone-guard"

// RunCloneGuard is x86-only.
func RunCloneGuard(args []string) { os.Exit(2) }
