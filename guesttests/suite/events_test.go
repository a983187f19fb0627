package suite

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEventABI: the native row of the event tests' syscall numbers is the
// one x/sys knows (the 386 row is checked so under GOARCH=386).
func TestEventABI(t *testing.T) {
	t.Parallel()
	got, ok := eventABI[NativeABI.Name]
	if !ok {
		t.Fatalf("no event syscall numbers for %s", NativeABI.Name)
	}
	want := eventNrs{Fork: unix.SYS_FORK, Vfork: unix.SYS_VFORK, Clone: unix.SYS_CLONE, Execve: unix.SYS_EXECVE,
		Exit: unix.SYS_EXIT, Gettid: unix.SYS_GETTID}
	if got != want {
		t.Errorf("%s: %+v, x/sys says %+v", NativeABI.Name, got, want)
	}
	for _, abi := range []ABI{ABIAmd64, ABI386} {
		if _, ok := eventABI[abi.Name]; !ok {
			t.Errorf("no event syscall numbers for ABI %s", abi.Name)
		}
	}
}

func TestStackStart(t *testing.T) {
	t.Parallel()
	const maps = `00400000-0052d000 r-xp 00000000 00:1f 123                                /bin/ptvm-tests
c000000000-c004000000 rw-p 00000000 00:00 0 
7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 
7ffc8a9e2000-7ffc8aa03000 rw-p 00000000 00:00 0                          [stack]
7ffc8abf1000-7ffc8abf5000 r--p 00000000 00:00 0                          [vvar]
`
	for _, tc := range []struct {
		name, maps string
		want       uint64
		wantErr    bool
	}{
		{"6.x", maps, 0x7ffc8a9e2000, false},
		{"i386", "08048000-08050000 r-xp 00000000 03:01 5 /bin/x\nbfd5e000-bfd73000 rw-p bffeb000 00:00 0          [stack]\n", 0xbfd5e000, false},
		{"no stack", strings.ReplaceAll(maps, "[stack]", "[heap]"), 0, true},
		{"bad address", "zz-7ffc8aa03000 rw-p 00000000 00:00 0 [stack]\n", 0, true},
		{"empty", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := stackStart(tc.maps)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("stackStart = %#x, %v; want %#x, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestExecBlock lays the block out and reads it back as the kernel would:
// argv and envp are NULL-terminated pointer arrays to NUL-terminated
// strings, argv[0] (the path) at the base, every array aligned.
func TestExecBlock(t *testing.T) {
	t.Parallel()
	argv := []string{"/bin/ptvm-tests", TraceeFlag, ScenarioBasic}
	envp := []string{"GOGC=off", "A=b"}
	for _, ptrSize := range []int{4, 8} {
		const base = 0x10000
		blk, argvAt, envpAt := execBlock(base, ptrSize, argv, envp)
		at := func(addr uint64) []byte { return blk[addr-base:] }
		str := func(addr uint64) string {
			s := at(addr)
			return string(s[:strings.IndexByte(string(s), 0)])
		}
		ptr := func(addr uint64) uint64 {
			if ptrSize == 4 {
				return uint64(binary.LittleEndian.Uint32(at(addr)))
			}
			return binary.LittleEndian.Uint64(at(addr))
		}
		read := func(arr uint64) []string {
			var out []string
			for ; ptr(arr) != 0; arr += uint64(ptrSize) {
				out = append(out, str(ptr(arr)))
			}
			return out
		}
		if argvAt%uint64(ptrSize) != 0 || envpAt%uint64(ptrSize) != 0 {
			t.Errorf("ptr %d: arrays at %#x and %#x are not aligned", ptrSize, argvAt, envpAt)
		}
		if got := str(base); got != argv[0] {
			t.Errorf("ptr %d: path %q, want %q", ptrSize, got, argv[0])
		}
		if got := read(argvAt); strings.Join(got, " ") != strings.Join(argv, " ") {
			t.Errorf("ptr %d: argv %q, want %q", ptrSize, got, argv)
		}
		if got := read(envpAt); strings.Join(got, " ") != strings.Join(envp, " ") {
			t.Errorf("ptr %d: envp %q, want %q", ptrSize, got, envp)
		}
		if end := envpAt + uint64(ptrSize*(len(envp)+1)); end != base+uint64(len(blk)) {
			t.Errorf("ptr %d: block ends at %#x, envp's NULL at %#x", ptrSize, base+uint64(len(blk)), end)
		}
	}
}
