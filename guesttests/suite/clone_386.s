#include "textflag.h"

// func rawCloneThread(flags, stack uintptr, path *byte, cells *[3]uint64) uintptr
//
// The 386 twin of clone_amd64.s: clone(flags, stack) with INT $0x80, which
// changes no register but AX. The new thread runs no Go code: on its own
// stack (SP == stack, still in CX, which is how it knows itself) it
// records a non-zero eax it was handed in cells[0] (a thread the kernel
// made gets 0), mkdir(path, 0755) with the result in cells[1], sets
// cells[2], sleeps for a second and exits (SYS_exit: this thread only). The cells are 64-bit:
// each result is stored sign-extended (CDQ), so that -ENOENT reads as -2.
// BP holds the path across the clone, as R12 does on amd64: the tracer of
// the escape test turns C's first resume into mkdir(BP).
TEXT ·rawCloneThread(SB),NOSPLIT,$0-20
	MOVL	flags+0(FP), BX
	MOVL	stack+4(FP), CX
	MOVL	path+8(FP), BP
	MOVL	cells+12(FP), DI
	MOVL	$0, DX	// parent_tid, tls, child_tid: unused without their flags
	MOVL	$0, SI
	MOVL	$120, AX	// SYS_clone
	INT	$0x80
	CMPL	SP, CX
	JEQ	child
	MOVL	AX, ret+16(FP)
	RET
child:
	TESTL	AX, AX
	JEQ	mkdir
	MOVL	AX, 0(DI)
	CDQ
	MOVL	DX, 4(DI)
mkdir:
	MOVL	BP, BX
	MOVL	$0755, CX
	MOVL	$39, AX	// SYS_mkdir
	INT	$0x80
	MOVL	AX, 8(DI)
	CDQ
	MOVL	DX, 12(DI)
	MOVL	$1, 16(DI)
	MOVL	$0, 20(DI)
	// Linger for a second, so that a host thread made this way is there
	// for the host's thread-count oracle to see: nanosleep with a 32-bit
	// timespec, or, on a kernel without the 32-bit time_t calls (ENOSYS),
	// clock_nanosleep_time64 with a 64-bit one.
	SUBL	$16, SP
	MOVL	$1, 0(SP)
	MOVL	$0, 4(SP)
	MOVL	$0, 8(SP)
	MOVL	$0, 12(SP)
	MOVL	SP, BX
	MOVL	$0, CX
	MOVL	$162, AX	// SYS_nanosleep
	INT	$0x80
	CMPL	AX, $-38	// -ENOSYS
	JNE	exit
	MOVL	$1, BX	// CLOCK_MONOTONIC
	MOVL	$0, CX
	MOVL	SP, DX	// {tv_sec = 1 (64-bit), tv_nsec = 0 (64-bit)}
	MOVL	$0, SI
	MOVL	$407, AX	// SYS_clock_nanosleep_time64
	INT	$0x80
exit:
	MOVL	$0, BX
	MOVL	$1, AX	// SYS_exit
	INT	$0x80
	INT	$3
