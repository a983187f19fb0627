package ptrace

import (
	"encoding/binary"
	"testing"
)

// info builds the bytes the kernel writes for op: n bytes of a struct
// ptrace_syscall_info whose fields hold recognisable values.
func info(op uint8, n int) []byte {
	b := make([]byte, syscallInfoBuf)
	le := binary.LittleEndian
	b[siOffOp] = op
	le.PutUint32(b[siOffArch:], 0xc000003e) // AUDIT_ARCH_X86_64
	le.PutUint64(b[siOffPC:], 0x401000)
	le.PutUint64(b[siOffSP:], 0x7ffd0000)
	switch op {
	case SyscallInfoEntry, SyscallInfoSeccomp:
		le.PutUint64(b[siOffNr:], 39)
		for i := range 6 {
			le.PutUint64(b[siOffArgs+8*i:], uint64(100+i))
		}
		if op == SyscallInfoSeccomp {
			le.PutUint32(b[siOffRetData:], 7)
		}
	case SyscallInfoExit:
		le.PutUint64(b[siOffRval:], uint64(0xffffffffffffffda)) // -ENOSYS
		b[siOffIsError] = 1
	}
	return b[:n]
}

func TestParseSyscallInfo(t *testing.T) {
	t.Parallel()
	args := [6]uint64{100, 101, 102, 103, 104, 105}
	base := SyscallInfo{Arch: 0xc000003e, PC: 0x401000, SP: 0x7ffd0000}
	with := func(f func(*SyscallInfo)) SyscallInfo { si := base; f(&si); return si }
	for _, tc := range []struct {
		name    string
		b       []byte
		want    SyscallInfo
		wantErr bool
	}{
		{"none", info(SyscallInfoNone, 24), base, false},
		{"none in the whole buffer", info(SyscallInfoNone, 88), base, false},
		{"entry", info(SyscallInfoEntry, 80), with(func(s *SyscallInfo) { s.Op, s.Nr, s.Args = SyscallInfoEntry, 39, args }), false},
		{"exit", info(SyscallInfoExit, 33), with(func(s *SyscallInfo) { s.Op, s.Rval, s.IsError = SyscallInfoExit, -38, true }), false},
		{"seccomp", info(SyscallInfoSeccomp, 84), with(func(s *SyscallInfo) {
			s.Op, s.Nr, s.Args, s.RetData = SyscallInfoSeccomp, 39, args, 7
		}), false},
		{"shorter than the header", info(SyscallInfoNone, 23), SyscallInfo{}, true},
		{"empty", nil, SyscallInfo{}, true},
		{"entry cut short", info(SyscallInfoEntry, 79), SyscallInfo{}, true},
		{"exit without is_error", info(SyscallInfoExit, 32), SyscallInfo{}, true},
		{"seccomp without ret_data", info(SyscallInfoSeccomp, 80), SyscallInfo{}, true},
		{"unknown op", info(9, 88), SyscallInfo{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSyscallInfo(tc.b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseSyscallInfo: any bytes decode or fail, never panic; a decoded
// value names a known op, came from at least that op's size, and keeps to
// the fields of its op.
func FuzzParseSyscallInfo(f *testing.F) {
	for _, op := range []uint8{SyscallInfoNone, SyscallInfoEntry, SyscallInfoExit, SyscallInfoSeccomp, 200} {
		f.Add(info(op, syscallInfoBuf))
		f.Add(info(op, 33))
	}
	sizes := map[uint8]int{SyscallInfoNone: siSizeNone, SyscallInfoEntry: siSizeEntry, SyscallInfoExit: siSizeExit, SyscallInfoSeccomp: siSizeSeccomp}
	f.Fuzz(func(t *testing.T, b []byte) {
		si, err := ParseSyscallInfo(b)
		if err != nil {
			if si != (SyscallInfo{}) {
				t.Fatalf("error %v with a value %+v", err, si)
			}
			return
		}
		need, ok := sizes[si.Op]
		if !ok || len(b) < need {
			t.Fatalf("decoded op %d from %d bytes", si.Op, len(b))
		}
		if si.Op != SyscallInfoExit && (si.Rval != 0 || si.IsError) {
			t.Fatalf("op %d with exit fields: %+v", si.Op, si)
		}
		if (si.Op == SyscallInfoNone || si.Op == SyscallInfoExit) && (si.Nr != 0 || si.Args != [6]uint64{}) {
			t.Fatalf("op %d with entry fields: %+v", si.Op, si)
		}
	})
}

// TestMarshalSyscallInfo: what PTRACE_SET_SYSCALL_INFO is given is the
// kernel's own layout (the bytes info builds by hand), reserved and flags
// zero, and it parses back to the same value.
func TestMarshalSyscallInfo(t *testing.T) {
	t.Parallel()
	args := [6]uint64{100, 101, 102, 103, 104, 105}
	base := SyscallInfo{Arch: 0xc000003e, PC: 0x401000, SP: 0x7ffd0000}
	for _, tc := range []struct {
		name string
		si   SyscallInfo
		op   uint8
	}{
		{"entry", SyscallInfo{Op: SyscallInfoEntry, Arch: base.Arch, PC: base.PC, SP: base.SP, Nr: 39, Args: args}, SyscallInfoEntry},
		{"exit", SyscallInfo{Op: SyscallInfoExit, Arch: base.Arch, PC: base.PC, SP: base.SP, Rval: -38, IsError: true}, SyscallInfoExit},
		{"seccomp", SyscallInfo{Op: SyscallInfoSeccomp, Arch: base.Arch, PC: base.PC, SP: base.SP, Nr: 39, Args: args, RetData: 7}, SyscallInfoSeccomp},
		{"none", SyscallInfo{Op: SyscallInfoNone, Arch: base.Arch, PC: base.PC, SP: base.SP}, SyscallInfoNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := MarshalSyscallInfo(tc.si)
			if want := info(tc.op, syscallInfoBuf); string(b) != string(want) {
				t.Errorf("bytes\n%x\nwant\n%x", b, want)
			}
			if b[1] != 0 || b[2] != 0 || b[3] != 0 {
				t.Errorf("reserved/flags %x, want zero", b[1:4])
			}
			got, err := ParseSyscallInfo(b)
			if err != nil || got != tc.si {
				t.Errorf("parsed back %+v, %v; want %+v", got, err, tc.si)
			}
		})
	}
}
