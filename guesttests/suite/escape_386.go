package suite

import "github.com/ptvmlab/ptvmlab/guesttests/ptrace"

// setEscapeMkdir turns the stopped clone-thread C's pending call into
// mkdir of its path: orig_eax = mkdir, ebx = ebp (the path, see
// clone_386.s). ecx (the mode) is left alone: it is how the thread tells
// itself from P.
func setEscapeMkdir(r *ptrace.Regs) {
	r.Orig_eax, r.Ebx = int32(ABI386.Mkdir), r.Ebp
}
