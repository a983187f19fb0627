// Command ptvm-tests is the PTRACE_VM guest test suite. It prints KTAP on
// stdout and exits 1 when a test failed. Run with "-tracee" it is instead the
// traced child of a test.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/guesttests/suite"
)

func init() {
	// Only the main thread is traced: keep main on it in tracee mode.
	if len(os.Args) > 1 && os.Args[1] == suite.TraceeFlag {
		runtime.LockOSThread()
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == suite.TraceeFlag {
		suite.RunTracee(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == suite.CloneGuardFlag {
		suite.RunCloneGuard(os.Args[2:])
		return
	}
	expect := flag.String("expect", "", "the PTRACE_VM level this kernel must offer: none, skipexit or skipcall")
	only := flag.String("tests", "", "comma-separated test names to run (default all)")
	bench := flag.Bool("bench", false, "run the benchmarks (bench, bench_loop)")
	ia32 := flag.String("ia32", suite.IA32Binary, "the suite's 386 build, for the ia32 test")
	planted := flag.String("fail", "", "fail this test on purpose after it ran (the lab's own tests: ptvmlab.fault=fail:NAME)")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ptvm-tests:", err)
		os.Exit(2)
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	tests, err := suite.Select(suite.All, names)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ptvm-tests:", err)
		os.Exit(2)
	}
	var level proto.Level
	if *expect != "" {
		if level, err = proto.ParseLevel(*expect); err != nil {
			fmt.Fprintln(os.Stderr, "ptvm-tests: -expect:", err)
			os.Exit(2)
		}
	}
	if suite.Run(os.Stdout, suite.Config{Self: self, Expect: level, IA32: *ia32, Bench: *bench, Planted: *planted}, tests) > 0 {
		os.Exit(1)
	}
}
