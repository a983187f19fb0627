package suite

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelRelease is the running kernel's release string ("2.6.29").
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelOlder reports whether the running kernel is older than
// major.minor. An unreadable release counts as new.
func kernelOlder(major, minor int) bool {
	f := strings.FieldsFunc(kernelRelease(), func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		return false
	}
	a, _ := strconv.Atoi(f[0])
	b, _ := strconv.Atoi(f[1])
	return a < major || (a == major && b < minor)
}

// seccompFilters probes for seccomp filters (3.5): with a NULL program,
// PR_SET_SECCOMP in filter mode fails with EFAULT where filters exist and
// EINVAL where they do not. Nothing is installed either way.
func seccompFilters() error {
	_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, 0, 0, 0, 0)
	switch {
	case errors.Is(e, unix.EFAULT):
		return nil
	case e == 0:
		return fmt.Errorf("PR_SET_SECCOMP with a NULL filter succeeded")
	default:
		return fmt.Errorf("kernel %s has no seccomp filters (PR_SET_SECCOMP: %v); they arrived in 3.5", kernelRelease(), e)
	}
}
