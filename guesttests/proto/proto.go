// Package proto is the little that the host and the guest must agree on:
// the results port's name, the kernel command-line keys the guest init
// reads, and the markers it prints. It imports only the standard library,
// so the guest binaries stay free of host code.
package proto

// ResultsPort is the name of the virtio-serial port that carries KTAP.
const ResultsPort = "org.ptvmlab.results"

// Kernel command-line keys read by the guest init.
const (
	// ArgFault makes the init misbehave on purpose, for the lab's own fault
	// tests: "hang" (never report), "garbage" (random bytes on the results
	// port instead of KTAP), "exit" (exit, so the kernel panics).
	ArgFault = "ptvmlab.fault"
	// ArgTests selects the tests to run (comma-separated names); empty is all.
	ArgTests = "ptvmlab.tests"
	// ArgChannel forces the results channel: "port" (named virtio-serial
	// port), "hvc" (the virtio console hvc0), "serial" (ttyS1) or
	// "console" (the init's own stdout: UML inside the guest).
	ArgChannel = "ptvmlab.channel"
	// ArgHalt is how the init ends the machine: "reboot" (the default:
	// QEMU runs with -no-reboot) or "poweroff" (UML, which would restart).
	ArgHalt = "ptvmlab.halt"
	// ArgExpect is the PTRACE_VM level the kernel must offer: "none" for an
	// unpatched kernel (the negative control), "skipcall" for a patched one.
	ArgExpect = "ptvmlab.expect"
	// ArgUML, set to off, says the cell was built without UML (ptvmlab run
	// --no-uml): the uml test skips and says so.
	ArgUML = "ptvmlab.uml"
	// UMLUnreliable, as ArgUML's value, says the lab left this kernel's
	// 32-bit UML out of the cell on purpose (era.UMLi386Unreliable).
	UMLUnreliable = "unreliable-i386"
	// ArgBench, set to 1, runs the benchmarks too (ptvmlab bench).
	ArgBench = "ptvmlab.bench"
	// ArgUMLBoots selects UML's boot flag sets (comma-separated: default,
	// nosysptvm, usesysemu); empty is all three. A matrix runs one per cell.
	ArgUMLBoots = "ptvmlab.umlboots"
	// ArgProbe, set to ProbeAccel, makes the init print MarkerProbe and
	// power off at once: the host's accelerator probe, a boot with a known
	// end.
	ArgProbe = "ptvmlab.probe"
	// ArgUMLLogLevel is Args.UMLLogLevel.
	ArgUMLLogLevel = "ptvmlab.umlloglevel"
	ProbeAccel     = "accel"
)

// Console markers printed by the guest init on the serial console.
const (
	MarkerStart = "ptvmlab-init: start"
	MarkerDone  = "ptvmlab-init: done"
	MarkerProbe = "ptvmlab-init: accel probe reached its end"
)

// ProgressPrefix starts the guest's progress lines on the results channel:
// KTAP diagnostics sent while a long test runs, so that the host's silence
// watchdog sees a healthy slow guest move.
const ProgressPrefix = "# progress:"

// TestsBinary is where the test binary lives in the initramfs.
const TestsBinary = "/bin/ptvm-tests"

// IA32TestsBinary is where an x86_64 image carries the suite's 386 build
// (ia32 tracees, and a 32-bit tracer, on the x86_64 kernel).
const IA32TestsBinary = "/bin/ptvm-tests-386"

// SelftestPrograms are the programs the kernel's selftests exec by name,
// selftest (without its _64/_32) → where the image carries each; the
// guest's PATH is /bin. vmaccess's child execs true and must block there:
// when execlp fails, the child runs on into the rest of the test body and
// the test races its own child (on 6.12 and 7.3 it fails when the child
// has exited before the parent opens its /proc/PID/mem). sleep, which
// vmaccess's attach test execs, is left out on purpose: see the guest's
// knownFailures.
var SelftestPrograms = map[string][]string{"vmaccess": {"/bin/true"}}

// KselftestDir holds the kernel's own ptrace and seccomp selftests, built
// for the guest's word size(s); KselftestLeftOut, in it, lists the ones
// the tree has that did not build, one "NAME_BITS: why" per line.
const (
	KselftestDir     = "/kselftest"
	KselftestLeftOut = "left-out"
)

// Where a guest image carries User-Mode Linux: the static kernel (64-bit
// in x86_64 images, 32-bit in i386 images) and the initramfs UML boots
// with (binaries of the UML's own width).
const (
	UMLKernel = "/uml/linux"
	UMLInitrd = "/uml/initrd.cpio"
)
