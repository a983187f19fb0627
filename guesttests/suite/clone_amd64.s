#include "textflag.h"

// func rawCloneThread(flags, stack uintptr, path *byte, cells *[3]uint64) uintptr
//
// clone(flags, stack) with a raw syscall instruction. The new thread runs no
// Go code: on its own stack (SP == stack, which is how it knows itself) it
// records a non-zero rax it was handed in cells[0] (a thread the kernel
// made gets 0), mkdir(path, 0755) with the result in cells[1], sets
// cells[2], sleeps for a second and exits (SYS_exit: this thread only). The caller gets clone's
// result.
TEXT ·rawCloneThread(SB),NOSPLIT,$0-40
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	MOVQ	path+16(FP), R12
	MOVQ	cells+24(FP), R13
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$56, AX	// SYS_clone
	SYSCALL
	CMPQ	SP, SI
	JEQ	child
	MOVQ	AX, ret+32(FP)
	RET
child:
	TESTQ	AX, AX
	JEQ	mkdir
	MOVQ	AX, 0(R13)
mkdir:
	MOVQ	R12, DI
	MOVQ	$0755, SI
	MOVQ	$83, AX	// SYS_mkdir
	SYSCALL
	MOVQ	AX, 8(R13)
	MOVQ	$1, 16(R13)
	// Linger for a second, so that a host thread made this way is there
	// for the host's thread-count oracle to see.
	SUBQ	$16, SP
	MOVQ	$1, 0(SP)
	MOVQ	$0, 8(SP)
	MOVQ	SP, DI
	MOVQ	$0, SI
	MOVQ	$35, AX	// SYS_nanosleep
	SYSCALL
	MOVQ	$0, DI
	MOVQ	$60, AX	// SYS_exit
	SYSCALL
	INT	$3
