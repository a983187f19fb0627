//go:build !amd64 && !386

package suite

import (
	"fmt"
	"os"
)

// runCloneThread needs the raw clone of clone_amd64.s or clone_386.s.
func runCloneThread(string) {
	fmt.Fprintln(os.Stderr, "tracee: the clonethread scenario is amd64 and 386 only")
	os.Exit(3)
}

// testUMLEscape: UML rides in x86 guests only.
func testUMLEscape(t *T) {
	t.Skipf("the raw-clone tracee is amd64 and 386 only; this is a %s build", goarch)
}
