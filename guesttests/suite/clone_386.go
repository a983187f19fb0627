package suite

// rawCloneThread is in clone_386.s.
//
//go:noescape
func rawCloneThread(flags, stack uintptr, path *byte, cells *[3]uint64) uintptr
