// Package progress shows how long work (a kernel build, a boot) is going,
// so that a run is never silent for minutes. On a terminal each task is a
// live bar (github.com/vbauerster/mpb); off one (a CI log, a file) a task
// prints one line when it starts, one when it ends, and a heartbeat on a
// fixed ticker in between — never more, however fast the work reports:
//
//	building x86_64: started, ~800 objects expected
//	building x86_64: 412/~800 objects, 2m10s
//	booting 6.12/auto/x86_64/default: 7/21 tests, now syscall_skip, 1m05s
//
// A Reporter holds the tasks of one command; a nil *Reporter and a nil
// *Task do nothing, so that library code reports unconditionally.
// LastCount and SaveCount keep, in the cache, how many objects the last
// build of a family compiled: the next build's estimate.
package progress
