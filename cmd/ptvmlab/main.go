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
	"path/filepath"
	"runtime/pprof"
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
	if path := os.Getenv("PTVMLAB_CPUPROFILE"); path != "" {
		done, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "ptvmlab %s: %v\n", args[0], err)
			return exitUsage
		}
		defer done()
	}
	err := cmd(ctx, args[1:], stdout)
	code, msg := exitCode(err, ctx.Err() != nil)
	if msg != "" {
		fmt.Fprintf(stderr, "ptvmlab %s: %s\n", args[0], msg)
	}
	return code
}

// startCPUProfile writes the lab's own CPU profile to path (for `go tool
// pprof`) until done is called: how the lab's time, not the guests', is
// spent. The file is written under a temporary name and renamed by done.
func startCPUProfile(path string) (done func(), err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".cpuprofile-*")
	if err != nil {
		return nil, fmt.Errorf("PTVMLAB_CPUPROFILE=%s: %w; name a file in a writable directory", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("PTVMLAB_CPUPROFILE=%s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			slog.Warn("CPU profile not kept", "path", path, "err", err)
			os.Remove(f.Name())
			return
		}
		if err := os.Rename(f.Name(), path); err != nil {
			slog.Warn("CPU profile not kept", "path", path, "err", err)
			os.Remove(f.Name())
		}
	}, nil
}

func logLevel() slog.Level {
	if os.Getenv("PTVMLAB_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
