// Command ptvmlab builds patched kernels, boots them under QEMU with the
// PTRACE_VM guest tests, and reports what they found.
//
//	ptvmlab run   [--kernel K] [--arch A,B] [--out DIR] [--timeout D]
//	ptvmlab build [--kernel K] [--arch A,B]
//	ptvmlab boot  --image FILE --arch A [--out DIR] [--timeout D]
//
// Exit codes: 0 all boots passed, 1 a boot failed (tests failed, panic,
// timeout), 2 bad usage or input, 3 infrastructure failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitPassed = 0
	exitFailed = 1
	exitUsage  = 2
	exitInfra  = 3
)

// usageError is bad input: a flag, a spec, a file the user named.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries an exit code chosen by a command, and the message to
// print for it (none when the command already reported).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit %d", e.code)
}

var commands = map[string]func(ctx context.Context, args []string, stdout io.Writer) error{
	"run":        cmdRun,
	"build":      cmdBuild,
	"boot":       cmdBoot,
	"patches":    cmdPatches,
	"bench":      cmdBench,
	"matrix":     cmdMatrix,
	"bisect":     cmdBisect,
	"review":     cmdReview,
	"crossbuild": cmdCrossbuild,
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})))
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: ptvmlab run|build|boot|patches|bench|matrix|review|bisect|crossbuild [flags]   (ptvmlab CMD -h for its flags)")
		return exitUsage
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ptvmlab: unknown command %q: choose run, build, boot, patches, bench, matrix, review, bisect or crossbuild\n", args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, args[1:], stdout)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitPassed
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "ptvmlab %s: %v\n", args[0], ee.err)
		}
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ptvmlab %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ptvmlab %s: %v\n", args[0], err)
		return exitInfra
	}
}

func logLevel() slog.Level {
	if os.Getenv("PTVMLAB_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
