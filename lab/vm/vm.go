// Package vm is the lab's view of a virtual machine: what to boot (Spec),
// what a boot leaves behind (Output), and the Backend that does it. The rest
// of the lab uses this package only; the QEMU command line lives in vm/qemu.
package vm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Spec says what to boot.
type Spec struct {
	Arch     string   // x86_64 or i386
	Kernel   string   // the kernel image
	Initrd   string   // the initramfs
	Cmdline  []string // extra kernel arguments
	MemoryMB int      // guest memory; 0 means 512
	// Timeout bounds the whole boot, from start to the machine's end.
	Timeout time.Duration
	// Dir receives console.log and results.raw.
	Dir string
	// ResultsVia is how results travel: "port" (a named virtio-serial
	// port, kernels ≥ 2.6.35), "hvc" (a virtio console, seen as hvc0) or
	// "serial" (a second 8250 UART).
	ResultsVia string
}

// Output is everything a boot produced, before any verdict.
type Output struct {
	Command  []string      // the QEMU command line
	Console  []byte        // the serial console, bounded to its last MaxConsole bytes
	Results  []byte        // raw bytes from the results channel
	Opened   bool          // the guest opened the results channel
	TimedOut bool          // the machine was stopped at Spec.Timeout
	Crashed  string        // the first crash line seen on the console, if any
	Took     time.Duration // from QEMU start to its end
	// FirstResult is the time from QEMU start to the first byte on the
	// results channel; zero when none came.
	FirstResult time.Duration
	ExitErr     error // QEMU's own exit status, when not zero
}

// MaxConsole bounds the console kept in memory; console.log keeps it all.
const MaxConsole = 256 << 10

// Backend boots machines.
type Backend interface {
	Boot(ctx context.Context, s Spec) (*Output, error)
}

// InfraError is a failure of the tooling, not of the kernel under test:
// QEMU missing or refusing its arguments, a socket that never came up. Bisect
// maps it to "skip" (125).
type InfraError struct {
	Op  string
	Err error
}

func (e *InfraError) Error() string { return fmt.Sprintf("infrastructure: %s: %v", e.Op, e.Err) }

func (e *InfraError) Unwrap() error { return e.Err }

// IsInfra reports whether err is an infrastructure failure.
func IsInfra(err error) bool {
	var ie *InfraError
	return errors.As(err, &ie)
}
