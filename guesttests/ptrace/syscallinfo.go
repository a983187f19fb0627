package ptrace

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// The ops of PTRACE_GET_SYSCALL_INFO (5.3+): what kind of stop the tracee
// is at.
const (
	SyscallInfoNone    = unix.PTRACE_SYSCALL_INFO_NONE
	SyscallInfoEntry   = unix.PTRACE_SYSCALL_INFO_ENTRY
	SyscallInfoExit    = unix.PTRACE_SYSCALL_INFO_EXIT
	SyscallInfoSeccomp = unix.PTRACE_SYSCALL_INFO_SECCOMP
)

// Offsets and sizes in struct ptrace_syscall_info (include/uapi/linux/
// ptrace.h). Every field is fixed-width, so 32- and 64-bit tracers share
// the layout. The kernel returns how many bytes the op has, which is
// where each op's last field ends.
const (
	siOffOp       = 0
	siOffArch     = 4
	siOffPC       = 8
	siOffSP       = 16
	siOffNr       = 24 // entry.nr, seccomp.nr
	siOffArgs     = 32 // entry.args[6], seccomp.args[6]
	siOffRval     = 24 // exit.rval
	siOffIsError  = 32 // exit.is_error
	siOffRetData  = 80 // seccomp.ret_data
	siSizeNone    = siOffNr
	siSizeEntry   = siOffArgs + 6*8
	siSizeExit    = siOffIsError + 1
	siSizeSeccomp = siOffRetData + 4
	// syscallInfoBuf is struct ptrace_syscall_info's size.
	syscallInfoBuf = 88
)

// SyscallInfo is PTRACE_GET_SYSCALL_INFO's answer, decoded.
type SyscallInfo struct {
	Op   uint8  // SyscallInfoNone, Entry, Exit or Seccomp
	Arch uint32 // AUDIT_ARCH_* of the call's ABI
	PC   uint64 // instruction pointer
	SP   uint64 // stack pointer
	// Nr and Args are the call's, for Entry and Seccomp.
	Nr   uint64
	Args [6]uint64
	// Rval and IsError are the call's result, for Exit.
	Rval    int64
	IsError bool
	// RetData is SECCOMP_RET_DATA of the filter's answer, for Seccomp.
	RetData uint32
}

// ParseSyscallInfo decodes the first n bytes PTRACE_GET_SYSCALL_INFO
// wrote, n being what the request returned (the op's own size). It fails
// when n is too short for the op it names or the op is unknown, so a
// decoded value never holds fields the kernel did not write.
func ParseSyscallInfo(b []byte) (SyscallInfo, error) {
	if len(b) < siSizeNone {
		return SyscallInfo{}, fmt.Errorf("ptrace_syscall_info: %d bytes, want at least %d", len(b), siSizeNone)
	}
	le := binary.LittleEndian
	si := SyscallInfo{
		Op:   b[siOffOp],
		Arch: le.Uint32(b[siOffArch:]),
		PC:   le.Uint64(b[siOffPC:]),
		SP:   le.Uint64(b[siOffSP:]),
	}
	var need int
	switch si.Op {
	case SyscallInfoNone:
		need = siSizeNone
	case SyscallInfoEntry:
		need = siSizeEntry
	case SyscallInfoExit:
		need = siSizeExit
	case SyscallInfoSeccomp:
		need = siSizeSeccomp
	default:
		return SyscallInfo{}, fmt.Errorf("ptrace_syscall_info: unknown op %d", si.Op)
	}
	if len(b) < need {
		return SyscallInfo{}, fmt.Errorf("ptrace_syscall_info: op %d in %d bytes, want %d", si.Op, len(b), need)
	}
	switch si.Op {
	case SyscallInfoEntry, SyscallInfoSeccomp:
		si.Nr = le.Uint64(b[siOffNr:])
		for i := range si.Args {
			si.Args[i] = le.Uint64(b[siOffArgs+8*i:])
		}
		if si.Op == SyscallInfoSeccomp {
			si.RetData = le.Uint32(b[siOffRetData:])
		}
	case SyscallInfoExit:
		si.Rval = int64(le.Uint64(b[siOffRval:]))
		si.IsError = b[siOffIsError] != 0
	}
	return si, nil
}

// GetSyscallInfo issues PTRACE_GET_SYSCALL_INFO for pid. Kernels before
// 5.3, and User-Mode Linux, answer EIO.
func GetSyscallInfo(pid int) (SyscallInfo, error) {
	buf := new([syscallInfoBuf]byte) // on the heap: the kernel writes it during the call
	n, err := Raw(getSyscallInfo, pid, uintptr(len(buf)), uintptrOf(&buf[0]))
	runtime.KeepAlive(buf)
	if err != nil {
		return SyscallInfo{}, fmt.Errorf("PTRACE_GET_SYSCALL_INFO: %w", err)
	}
	return ParseSyscallInfo(buf[:min(int(n), len(buf))])
}

// SyscallInfo is GetSyscallInfo for the tracee.
func (t *Tracee) SyscallInfo() (SyscallInfo, error) { return GetSyscallInfo(t.Pid) }

// MarshalSyscallInfo encodes si as struct ptrace_syscall_info for
// PTRACE_SET_SYSCALL_INFO: the fields of si.Op only, reserved and flags
// zero (the kernel refuses anything else).
func MarshalSyscallInfo(si SyscallInfo) []byte {
	b := make([]byte, syscallInfoBuf)
	le := binary.LittleEndian
	b[siOffOp] = si.Op
	le.PutUint32(b[siOffArch:], si.Arch)
	le.PutUint64(b[siOffPC:], si.PC)
	le.PutUint64(b[siOffSP:], si.SP)
	switch si.Op {
	case SyscallInfoEntry, SyscallInfoSeccomp:
		le.PutUint64(b[siOffNr:], si.Nr)
		for i, a := range si.Args {
			le.PutUint64(b[siOffArgs+8*i:], a)
		}
		if si.Op == SyscallInfoSeccomp {
			le.PutUint32(b[siOffRetData:], si.RetData)
		}
	case SyscallInfoExit:
		le.PutUint64(b[siOffRval:], uint64(si.Rval))
		if si.IsError {
			b[siOffIsError] = 1
		}
	}
	return b
}

// SetSyscallInfo issues PTRACE_SET_SYSCALL_INFO (6.16+) for pid: at an
// entry or seccomp stop it sets the call's number and arguments (number
// -1 skips the call), at an exit stop its result. The op must be the
// stop's own. Kernels before 6.16, and User-Mode Linux, answer EIO.
func SetSyscallInfo(pid int, si SyscallInfo) error {
	b := MarshalSyscallInfo(si)
	_, err := Raw(setSyscallInfo, pid, uintptr(len(b)), uintptrOf(&b[0]))
	runtime.KeepAlive(b)
	if err != nil {
		return fmt.Errorf("PTRACE_SET_SYSCALL_INFO: %w", err)
	}
	return nil
}

// SetSyscallInfo is SetSyscallInfo for the tracee.
func (t *Tracee) SetSyscallInfo(si SyscallInfo) error { return SetSyscallInfo(t.Pid, si) }
