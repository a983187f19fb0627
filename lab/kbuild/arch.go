package kbuild

import "fmt"

// Arch is one kernel architecture ptvmlab builds, with what it takes to
// build it: the make ARCH value, the image target and where make leaves it,
// and the config fragments (kconfigs/NAME.config) merged for it, in order.
type Arch struct {
	Name      string   // the name users type: x86_64, i386, um, um-i386
	MakeArch  string   // ARCH= for make
	MakeVars  []string // more make variables (SUBARCH=i386); they enter the build's key
	Target    string   // the make goal that builds the image
	Image     string   // the image's path below the object directory
	Fragments []string // fragment names, merged in this order
	GOARCH    string   // the guest binaries' GOARCH, "" for the um arches (not booted under QEMU)
	// UML is the um arch whose kernel a guest of this arch carries and
	// boots inside itself (the uml test): a 64-bit UML in x86_64 guests, a
	// 32-bit one in i386 guests. "" for the um arches.
	UML string
	// UMLGOARCH is, for a um arch, the GOARCH of the binaries in the
	// initramfs its kernel boots.
	UMLGOARCH string
	// HostM32 says the build compiles and statically links code against
	// the build host's libc with -m32 (a 32-bit UML's user-space half):
	// the host must have the 32-bit headers and glibc, checked before make.
	HostM32 bool
}

// Arches lists every architecture ptvmlab can build, by name.
var Arches = map[string]Arch{
	"x86_64": {
		Name: "x86_64", MakeArch: "x86_64", Target: "bzImage", Image: "arch/x86/boot/bzImage",
		Fragments: []string{"common", "x86", "x86_64", "virtio-results", "guesttests"},
		GOARCH:    "amd64", UML: "um",
	},
	"i386": {
		Name: "i386", MakeArch: "i386", Target: "bzImage", Image: "arch/x86/boot/bzImage",
		Fragments: []string{"common", "x86", "i386", "time32", "virtio-results", "guesttests"},
		GOARCH:    "386", UML: "um-i386",
	},
	"um": {
		Name: "um", MakeArch: "um", Target: "linux", Image: "linux",
		Fragments: []string{"common", "um", "guesttests"},
		UMLGOARCH: "amd64",
	},
	// A 32-bit UML, to run on i386 hosts: SUBARCH=i386 makes 6.x's 64BIT
	// default to n (and unasked: it is only a question for SUBARCH=x86),
	// and selects 2.6's arch/um/Makefile-i386, which adds -m32 when the
	// build host is not i386.
	"um-i386": {
		Name: "um-i386", MakeArch: "um", MakeVars: []string{"SUBARCH=i386"}, Target: "linux", Image: "linux",
		Fragments: []string{"common", "um-i386", "guesttests"},
		UMLGOARCH: "386", HostM32: true,
	},
}

// LookupArch returns the Arch called name, or an error listing the choices.
func LookupArch(name string) (Arch, error) {
	a, ok := Arches[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown arch %q: choose x86_64, i386 or um (or um-i386, a 32-bit UML)", name)
	}
	return a, nil
}
