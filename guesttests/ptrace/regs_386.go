package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Regs is the tracee's register file.
type Regs struct{ unix.PtraceRegs }

// GetRegs reads pid's registers.
func GetRegs(pid int) (Regs, error) {
	var r Regs
	err := unix.PtraceGetRegs(pid, &r.PtraceRegs)
	return r, err
}

// SetRegs writes pid's registers.
func SetRegs(pid int, r Regs) error { return unix.PtraceSetRegs(pid, &r.PtraceRegs) }

// Nr is the syscall number at a syscall stop.
func (r Regs) Nr() int { return int(r.Orig_eax) }

// Ret is the syscall's return value register.
func (r Regs) Ret() int64 { return int64(r.Eax) }

// SetRet sets the return value register.
func (r *Regs) SetRet(v int64) { r.Eax = int32(v) }

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
