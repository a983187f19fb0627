package kbuild

import "fmt"

// Arch is one kernel architecture ptvmlab builds, with what it takes to
// build it: the make ARCH value, the image target and where make leaves it,
// and the config fragments (kconfigs/NAME.config) merged for it, in order.
type Arch struct {
	Name      string   // the name users type: x86_64, i386, um
	MakeArch  string   // ARCH= for make
	Target    string   // the make goal that builds the image
	Image     string   // the image's path below the object directory
	Fragments []string // fragment names, merged in this order
	GOARCH    string   // the guest binaries' GOARCH, "" for um
}

// Arches lists every architecture ptvmlab can build, by name.
var Arches = map[string]Arch{
	"x86_64": {
		Name: "x86_64", MakeArch: "x86_64", Target: "bzImage", Image: "arch/x86/boot/bzImage",
		Fragments: []string{"common", "x86", "x86_64", "virtio-results", "guesttests"},
		GOARCH:    "amd64",
	},
	"i386": {
		Name: "i386", MakeArch: "i386", Target: "bzImage", Image: "arch/x86/boot/bzImage",
		Fragments: []string{"common", "x86", "i386", "virtio-results", "guesttests"},
		GOARCH:    "386",
	},
	"um": {
		Name: "um", MakeArch: "um", Target: "linux", Image: "linux",
		Fragments: []string{"common", "um", "guesttests"},
	},
}

// LookupArch returns the Arch called name, or an error listing the choices.
func LookupArch(name string) (Arch, error) {
	a, ok := Arches[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown arch %q: choose x86_64, i386 or um", name)
	}
	return a, nil
}
