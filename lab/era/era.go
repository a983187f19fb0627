// Package era knows what building and booting a kernel of a given age
// takes on today's machine: the toolchain flags, the build fixes kept apart
// from the series (patches/compat/ERA), the kconfig fragments written for
// the era (kconfigs/ERA), how the guest sends its results back, and the
// fix the tree's own checkpatch.pl needs to run on today's perl. Users never
// pass any of it: the kernel's version chooses.
package era

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

// Profile is what one kernel era needs.
type Profile struct {
	// Name is the era's directory name under kconfigs/ and
	// patches/compat/ ("2.6.29"); "" for a modern kernel, which needs none.
	Name string
	// CFlags are added to every compiler invocation of the kernel build
	// (make CC="gcc FLAGS"): code generation that today's gcc defaults to
	// and the era's Makefiles do not turn off.
	CFlags []string
	// ResultsVia is how the guest sends results: a named virtio-serial
	// port (2.6.35 and later) or the single virtio console, seen as hvc0.
	ResultsVia proto.Channel
	// GuestFragments are kconfig fragments a bootable guest kernel of this
	// era adds, from 6.16: "uml-host" (AF_UNIX: the guest is the host of
	// the UML it carries, of the same version, which starts every process
	// over a socketpair) and "syscall-user-dispatch" (a prompt by 7.3,
	// which tinyconfig turns off; 6.12 built it with GENERIC_ENTRY, and
	// the tree's get_set_sud selftest needs it). Older eras do not get
	// them: they do without, and the change would rebuild every cached
	// kernel.
	GuestFragments []string
}

// oldGCCFlags turn off what today's gcc does by default and 2.6-era
// Makefiles never heard of: position-independent code and executables,
// the stack protector, -fno-common (gcc 10), C99 inline semantics (gcc 5),
// and the auto-vectoriser, whose SSE code runs in the bzImage decompressor
// before SSE is enabled.
var oldGCCFlags = []string{
	"-fno-pie", "-no-pie", "-fno-stack-protector", "-fcommon", "-fgnu89-inline",
	"-fno-tree-vectorize", "-mno-sse", "-mno-mmx", "-mno-sse2",
}

// Version is a kernel version as numbers: 2.6.29 is {2, 6, 29}.
type Version []int

// ParseVersion reads "2.6.29", "6.12.57" or "6.1.0-rc1": the leading
// dot-separated numbers.
func ParseVersion(s string) (Version, error) {
	s = strings.SplitN(s, "-", 2)[0]
	var v Version
	for _, f := range strings.Split(s, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			break
		}
		v = append(v, n)
	}
	if len(v) < 2 {
		return nil, fmt.Errorf("kernel version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	return v, nil
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	for i := 0; i < len(v) || i < len(w); i++ {
		a, b := at(v, i), at(w, i)
		if a != b {
			return a < b
		}
	}
	return false
}

func at(v Version, i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// Name is the era directory for v: "2.6.29" for 2.6.x kernels (each 2.6
// release is its own era), "6.12" for 6.12.y.
func (v Version) Name() string {
	if v[0] == 2 && len(v) >= 3 {
		return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
	return fmt.Sprintf("%d.%d", v[0], v[1])
}

// UMLHasSysemuModes reports whether UML of this version can run with its
// own PTRACE_SYSEMU off (the nosysemu flag, /proc/sysemu): 6.3 removed
// both. An unparsable version (a matrix kernel named by the user) gives
// true, so its cells run and say for themselves.
func UMLHasSysemuModes(version string) bool {
	v, err := ParseVersion(version)
	return err != nil || v.Less(Version{6, 3})
}

// UMLHasSeccompMode reports whether UML of this version has the seccomp
// userspace mode (seccomp=on|auto|off, 6.16), beside the ptrace one. An
// unparsable version gives true, as UMLHasSysemuModes does: the cell runs
// and the guest skips the boot when its UML has no such flag.
func UMLHasSeccompMode(version string) bool {
	v, err := ParseVersion(version)
	return err != nil || !v.Less(Version{6, 16})
}

// UMLi386Unreliable reports whether the 32-bit UML of this version is
// left out of i386 cells: 6.1's kills a freshly exec'd Go process in about
// half the boots, patched or not (its set_thread_area reads an all-zero
// user_desc and PTRACE_SET_THREAD_AREA fails with EINVAL), and no small
// fix exists before 6.12's mm rework. 6.12 passed 10 boots of 10 and
// 2.6.29 (with its build fixes) passes; versions between 3.0 and 6.12
// were not measured and are treated like 6.1.
func UMLi386Unreliable(version string) bool {
	v, err := ParseVersion(version)
	return err == nil && !v.Less(Version{3, 0}) && v.Less(Version{6, 12})
}

// For returns the profile of a kernel version.
func For(version string) (Profile, error) {
	v, err := ParseVersion(version)
	if err != nil {
		return Profile{}, err
	}
	p := Profile{ResultsVia: proto.ChannelPort}
	if v.Less(Version{2, 6, 35}) {
		p.ResultsVia = proto.ChannelHVC // multiport virtio consoles arrived in 2.6.35
	}
	if v.Less(Version{3, 0}) {
		p.Name = v.Name()
		p.CFlags = oldGCCFlags
	}
	if !v.Less(Version{6, 16}) {
		p.GuestFragments = []string{"uml-host", "syscall-user-dispatch"}
	}
	return p, nil
}

// CompatDir is the directory of build fixes for the era under root (the
// repo's patches/), or "" when the era has none.
func (p Profile) CompatDir(root string) string {
	if p.Name == "" {
		return ""
	}
	d := filepath.Join(root, "compat", p.Name)
	if _, err := os.Stat(filepath.Join(d, "series")); err != nil {
		return ""
	}
	return d
}

// CheckpatchFixDir is the series that makes the era's own checkpatch.pl
// run on today's perl, or "" when it needs none.
func (p Profile) CheckpatchFixDir(root string) string {
	d := p.CompatDir(root)
	if d == "" {
		return ""
	}
	d = filepath.Join(d, "checkpatch")
	if _, err := os.Stat(filepath.Join(d, "series")); err != nil {
		return ""
	}
	return d
}

// Fragment returns the path of kconfig fragment name for the era under
// dir (the repo's kconfigs/): kconfigs/ERA/NAME.config when the era has its
// own, else kconfigs/NAME.config.
func (p Profile) Fragment(dir, name string) string {
	if p.Name != "" {
		f := filepath.Join(dir, p.Name, name+".config")
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return filepath.Join(dir, name+".config")
}
