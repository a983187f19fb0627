package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Regs is the tracee's register file.
type Regs struct{ unix.PtraceRegs }

// GetRegs reads pid's registers with PTRACE_GETREGS, in the tracer's
// layout. x/sys's PtraceGetRegs uses PTRACE_GETREGSET, which answers in the
// tracee's layout: for an ia32 tracee under a 64-bit tracer that is the
// 32-bit struct, read into the 64-bit one.
func GetRegs(pid int) (Regs, error) {
	var r Regs
	_, err := Raw(unix.PTRACE_GETREGS, pid, 0, uintptr(unsafe.Pointer(&r.PtraceRegs)))
	return r, err
}

// SetRegs writes pid's registers with PTRACE_SETREGS (see GetRegs).
func SetRegs(pid int, r Regs) error {
	_, err := Raw(unix.PTRACE_SETREGS, pid, 0, uintptr(unsafe.Pointer(&r.PtraceRegs)))
	return err
}

// Nr is the syscall number at a syscall stop.
func (r Regs) Nr() int { return int(r.Orig_eax) }

// Ret is the syscall's return value register.
func (r Regs) Ret() int64 { return int64(r.Eax) }

// SetRet sets the return value register.
func (r *Regs) SetRet(v int64) { r.Eax = int32(v) }

// Offsets into the user area (struct user_regs_struct) for PTRACE_POKEUSER.
const (
	offNr  = 11 * 4 // orig_eax
	offRet = 6 * 4  // eax
)

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// PC is the instruction pointer.
func (r Regs) PC() uintptr { return uintptr(uint32(r.Eip)) }

// SetPC sets the instruction pointer.
func (r *Regs) SetPC(pc uintptr) { r.Eip = int32(uint32(pc)) }

// SetNr sets the syscall number (orig_eax): at an entry stop the call that
// runs; -1 tells the kernel's restart logic there is no call to restart.
func (r *Regs) SetNr(nr int) { r.Orig_eax = int32(nr) }

// SetArgs puts a system call's arguments in ebx, ecx, edx, esi, edi and
// ebp, where i386 takes them (ia32 is always so for a 32-bit tracer).
// Unnamed arguments are left alone.
func (r *Regs) SetArgs(ia32 bool, args ...uint64) {
	regs := []*int32{&r.Ebx, &r.Ecx, &r.Edx, &r.Esi, &r.Edi, &r.Ebp}
	for i, a := range args[:min(len(args), len(regs))] {
		*regs[i] = int32(uint32(a))
	}
}
