package suite

// EscapeHostDir exists on UML's host (the QEMU guest makes it, empty,
// before every UML boot) and never inside UML. A UML process can create
// something in it only by making UML's host process run a system call for
// it: the uml test on the host fails when it is not empty afterwards.
const EscapeHostDir = "/tmp/ptvmlab-escape"

// ScenarioCloneThread: after the sync point, a raw clone of a thread
// (CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM)
// that runs no Go code: it records a non-zero rax it was handed, tries
// mkdir(argv[3]) and exits. The process then sleeps (raw nanosleep calls)
// until the thread is done and prints "tid= seen= mkdir= done=".
const ScenarioCloneThread = "clonethread"
