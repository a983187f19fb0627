// Package vm is the lab's view of a virtual machine: what to boot (Spec),
// what a boot leaves behind (Output), and the Backend that does it. The rest
// of the lab uses this package only; the QEMU command line lives in vm/qemu.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
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
	// Channel is the device the results travel on: a named virtio-serial
	// port (proto.ChannelPort, kernels ≥ 2.6.35; "" means it too), a
	// virtio console seen as hvc0 (proto.ChannelHVC) or a second 8250 UART
	// (proto.ChannelSerial). The backend makes the device; telling the
	// guest which one to use is the caller's, in Cmdline.
	Channel proto.Channel
	// Probe is the kernel arguments that make this guest's init end at
	// once, printing proto.MarkerProbe: the accelerator probe boots the
	// spec's kernel with them added. Empty, the guest cannot be probed,
	// and a backend choosing its accelerator uses TCG.
	Probe []string
	// Silence is the watchdog: a machine whose console and results channel
	// both stay silent this long is stopped as timed out. 0 is the
	// backend's default for its accelerator; negative turns it off.
	Silence time.Duration
	// Live, when set, receives the results channel's bytes as they come
	// (Output.Results still gets them all), for a live view of the boot;
	// a retried boot sends its stream again from the start. A write to it
	// must not block for long: the guest waits on it.
	Live io.Writer
}

// Attempt is a boot attempt that was abandoned and retried: a boot under
// KVM that went silent or died before the guest answered.
type Attempt struct {
	Accel      string        `json:"accel"`
	Why        string        `json:"why"` // what went wrong, one line
	Took       time.Duration `json:"-"`   // from QEMU start to its end
	TookS      float64       `json:"took_s"`
	ConsoleLog string        `json:"console_log,omitempty"` // that attempt's console, kept beside the retry's
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
	// Silent is the silence threshold that stopped the machine (TimedOut
	// is then set too); zero when the watchdog did not fire.
	Silent time.Duration
	// LastLine is the last non-empty console line, for a silent machine's
	// verdict.
	LastLine string
	// Accel is the accelerator this output was produced under: "kvm" or
	// "tcg". AccelWhy says in a few words why it was chosen.
	Accel, AccelWhy string
	// Attempts are the earlier attempts of this boot that went wrong and
	// were retried (KVM, then TCG); empty when the first attempt stood.
	Attempts []Attempt
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

// AccelMode is how a backend chooses its accelerator.
type AccelMode string

// The accelerator modes.
const (
	// AccelAuto uses KVM only where a probe boot under KVM reached its end,
	// and retries under TCG a KVM boot that goes silent or dies early.
	AccelAuto AccelMode = "auto"
	AccelKVM  AccelMode = "kvm" // KVM or an error, never TCG
	AccelTCG  AccelMode = "tcg" // TCG, never KVM
)

// ParseAccel reads an accelerator mode; "" is auto.
func ParseAccel(s string) (AccelMode, error) {
	switch AccelMode(s) {
	case "", AccelAuto:
		return AccelAuto, nil
	case AccelKVM, AccelTCG:
		return AccelMode(s), nil
	}
	return "", fmt.Errorf("accelerator %q is not known: choose auto, kvm or tcg", s)
}

// AccelError is an accelerator asked for (--accel kvm) that cannot be used
// here. It stops a run: no boot could honour it.
type AccelError struct{ Why string }

func (e *AccelError) Error() string {
	return fmt.Sprintf("--accel kvm: KVM cannot run a guest here (%s); use --accel auto or tcg", e.Why)
}
