package suite

import "github.com/ptvmlab/ptvmlab/guesttests/ptrace"

// setEscapeMkdir turns the stopped clone-thread C's pending call into
// mkdir of its path: orig_rax = mkdir, rdi = r12 (the path, see
// clone_amd64.s). rsi (the mode) is left alone: it is how the thread tells
// itself from P.
func setEscapeMkdir(r *ptrace.Regs) {
	r.Orig_rax, r.Rdi = uint64(ABIAmd64.Mkdir), r.R12
}
