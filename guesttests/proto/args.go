package proto

import (
	"fmt"
	"strings"
)

// Level is a PTRACE_VM level: what a kernel offers, or must offer.
type Level string

// The levels, as UML's start-up probe (check_sysptvm) tells them apart.
const (
	LevelNone     Level = "none"     // no tags: an unpatched kernel
	LevelSkipExit Level = "skipexit" // PTRACE_SYSCALL_SKIPEXIT only
	LevelSkipCall Level = "skipcall" // both tags: the whole series
)

// ParseLevel reads a level; "" is an error (callers that accept any level
// leave it unset instead).
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case LevelNone, LevelSkipExit, LevelSkipCall:
		return l, nil
	}
	return "", fmt.Errorf("PTRACE_VM level %q is not known: choose none, skipexit or skipcall", s)
}

// Channel is how the guest sends its KTAP to the host.
type Channel string

// The channels.
const (
	ChannelPort    Channel = "port"    // a virtio-serial port named ResultsPort (kernels ≥ 2.6.35)
	ChannelHVC     Channel = "hvc"     // the single virtio console, hvc0 (older kernels)
	ChannelSerial  Channel = "serial"  // the second 8250 UART, ttyS1 (no virtio console)
	ChannelConsole Channel = "console" // the init's own stdout (UML inside the guest)
)

// ParseChannel reads a channel; "" is an error.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(s); c {
	case ChannelPort, ChannelHVC, ChannelSerial, ChannelConsole:
		return c, nil
	}
	return "", fmt.Errorf("results channel %q is not known: choose port, hvc, serial or console", s)
}

// Halt is how the init ends its machine.
type Halt string

// The ways to end.
const (
	HaltReboot   Halt = "reboot"   // QEMU runs with -no-reboot: a reboot ends it
	HaltPowerOff Halt = "poweroff" // UML, which would restart on a reboot
)

// Args is everything the host tells the guest's init on the kernel
// command line. The host writes it with Cmdline and the init reads it with
// ParseArgs: the keys and their values exist only here. The zero value asks
// for nothing (the init's defaults).
type Args struct {
	// Channel forces the results channel; "" lets the init choose: the
	// named port, then hvc0, then ttyS1.
	Channel Channel
	// Expect is the level the kernel must offer; "" accepts any.
	Expect Level
	// Tests selects the tests to run; empty is all.
	Tests []string
	// Halt is how the init ends; "" is HaltReboot.
	Halt Halt
	// UML is "" (UML in the image), UMLOff (left out on request) or
	// UMLUnreliable (left out by the lab, era.UMLi386Unreliable).
	UML string
	// UMLBoots selects UML's boot flag sets (default, nosysptvm,
	// usesysemu); empty is all three.
	UMLBoots []string
	// Bench runs the benchmarks too.
	Bench bool
	// Probe makes the init print MarkerProbe and end at once: the host's
	// accelerator probe.
	Probe bool
	// Fault makes the init misbehave on purpose (FaultHang, FaultGarbage,
	// FaultExit, or FaultFail+"NAME"), for the lab's own tests.
	Fault string
	// UMLLogLevel is the console loglevel of the UMLs the uml tests boot;
	// "" is 1 (emergencies only, so UML's KTAP stays readable). A higher
	// one shows UML's own errors, for diagnosing how a UML ended.
	UMLLogLevel string
}

// Values of Args.UML and Args.Fault.
const (
	UMLOff       = "off"
	FaultHang    = "hang"    // never report
	FaultGarbage = "garbage" // random bytes on the results channel instead of KTAP
	FaultExit    = "exit"    // the init exits, so the kernel panics
	// FaultFail+NAME fails the test NAME after it ran, saying it was
	// planted: a regression or a flake on purpose, for the lab's own tests
	// of retries and of matrix compare.
	FaultFail = "fail:"
)

// Cmdline is a's kernel arguments, in a fixed order, only those set.
func (a Args) Cmdline() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	add(ArgChannel, string(a.Channel))
	add(ArgHalt, string(a.Halt))
	add(ArgExpect, string(a.Expect))
	add(ArgTests, strings.Join(a.Tests, ","))
	add(ArgUML, a.UML)
	add(ArgUMLBoots, strings.Join(a.UMLBoots, ","))
	if a.Bench {
		add(ArgBench, "1")
	}
	if a.Probe {
		add(ArgProbe, ProbeAccel)
	}
	add(ArgFault, a.Fault)
	add(ArgUMLLogLevel, a.UMLLogLevel)
	return out
}

// ParseArgs reads the init's arguments from the kernel command line's
// words (/proc/cmdline, split on blanks). Words that are not ptvmlab keys
// are the kernel's and are ignored; a key given twice takes its last
// value, so that a user's --append wins over the lab's own. A value that
// is not known is an error naming it; the other keys are still read.
func ParseArgs(words []string) (Args, error) {
	var a Args
	var errs []string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || !strings.HasPrefix(k, "ptvmlab.") {
			continue
		}
		switch k {
		case ArgChannel:
			a.Channel = parseValue(k, v, ParseChannel, &errs)
		case ArgExpect:
			a.Expect = parseValue(k, v, ParseLevel, &errs)
		case ArgHalt:
			a.Halt = Halt(v)
		case ArgTests:
			a.Tests = splitList(v)
		case ArgUML:
			a.UML = v
		case ArgUMLBoots:
			a.UMLBoots = splitList(v)
		case ArgBench:
			a.Bench = v == "1"
		case ArgProbe:
			a.Probe = v == ProbeAccel
		case ArgFault:
			a.Fault = v
		case ArgUMLLogLevel:
			a.UMLLogLevel = v
		}
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("kernel command line: %s", strings.Join(errs, "; "))
	}
	return a, nil
}

// parseValue reads key's value v with parse; "" is unset, and a value
// parse refuses is unset too, with the error added to errs.
func parseValue[T ~string](key, v string, parse func(string) (T, error), errs *[]string) T {
	if v == "" {
		return ""
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, key+": "+err.Error())
		return ""
	}
	return x
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
