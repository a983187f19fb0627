// Command ptvmlab builds patched kernels, boots them under QEMU with the
// PTRACE_VM guest tests, and reports what they found.
//
//	ptvmlab run   [--kernel K] [--arch A,B] [--out DIR] [--timeout D]
//	ptvmlab build [--kernel K] [--arch A,B]
//	ptvmlab boot  --image FILE --arch A [--out DIR] [--timeout D]
//
// Exit codes, for every command: 0 all boots passed, 1 a boot failed
// (tests failed, panic, timeout), 2 bad usage or input, 3 infrastructure
// failure, 130 interrupted (SIGINT or SIGTERM); bisect run answers git
// with 0, 1 or 125.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

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
	usage := "usage: ptvmlab run|build|boot|patches|bench|matrix|review|bisect|crossbuild [flags]   (ptvmlab CMD -h for its flags)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage)
		return exitPassed
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ptvmlab: unknown command %q: choose run, build, boot, patches, bench, matrix, review, bisect or crossbuild\n", args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, args[1:], stdout)
	code, msg := exitCode(err, ctx.Err() != nil)
	if msg != "" {
		fmt.Fprintf(stderr, "ptvmlab %s: %s\n", args[0], msg)
	}
	return code
}

func logLevel() slog.Level {
	if os.Getenv("PTVMLAB_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
