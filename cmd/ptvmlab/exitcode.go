package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ptvmlab/ptvmlab/lab/bisect"
	"github.com/ptvmlab/ptvmlab/lab/boot"
	"github.com/ptvmlab/ptvmlab/lab/cell"
	"github.com/ptvmlab/ptvmlab/lab/matrix"
	"github.com/ptvmlab/ptvmlab/lab/report"
)

// Exit codes, the same for every command (README, "Exit codes").
const (
	exitPassed      = 0   // every boot passed (or the command did its job)
	exitFailed      = 1   // a boot failed: tests failed, panic, timeout
	exitUsage       = 2   // bad usage or input: a flag, a source, a series, a config
	exitInfra       = 3   // infrastructure: a build that broke, QEMU, the disk
	exitInterrupted = 130 // SIGINT or SIGTERM, as shells report a SIGINT
)

// usageError is bad input: a flag, a spec, a file the user named.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

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

func (e exitError) Unwrap() error { return e.err }

// exitCode maps what a command returned to its exit code and the one line
// to print ("" for none). interrupted says a signal ended the command's
// context: whatever the error, that is 130.
func exitCode(err error, interrupted bool) (int, string) {
	var ee exitError
	switch {
	case interrupted:
		if errors.As(err, &ee) && ee.code == exitInterrupted && ee.err == nil {
			return exitInterrupted, "" // the reports said so
		}
		return exitInterrupted, "interrupted (SIGINT or SIGTERM)"
	case err == nil:
		return exitPassed, ""
	case errors.Is(err, flag.ErrHelp):
		return exitPassed, ""
	case errors.As(err, &ee):
		if ee.err != nil {
			return ee.code, ee.err.Error()
		}
		return ee.code, ""
	case isInputError(err):
		return exitUsage, err.Error()
	case errors.Is(err, context.Canceled):
		return exitInterrupted, "interrupted (SIGINT or SIGTERM)"
	default:
		return exitInfra, err.Error()
	}
}

// isInputError reports whether err is the user's input not fitting: a bad
// flag, a config fragment that drops symbols, a series that does not
// apply, a git ref that is not a commit.
func isInputError(err error) bool {
	var ue usageError
	var be *bisect.InputError
	return errors.As(err, &ue) || errors.As(err, &be) || cell.IsInputError(err)
}

// runExit is the exit code of a run's records: interrupted 130, any
// invalid input 2, any infrastructure failure 3, any boot not passed 1.
// Skipped matrix cells (a source that names an unset variable), flaky
// cells (failed, then passed on a rerun) and quarantined ones (only tests
// the matrix file quarantines failed) are listed but fail nothing.
func runExit(run report.Run) int {
	counts := report.Counts(run)
	switch {
	case counts[string(boot.Interrupted)] > 0:
		return exitInterrupted
	case counts[string(boot.Invalid)] > 0:
		return exitUsage
	case counts[string(boot.Infra)] > 0:
		return exitInfra
	case counts[string(boot.Passed)]+counts[matrix.Skipped]+counts[report.Flaky]+counts[report.Quarantined] != len(run.Boots):
		return exitFailed
	}
	return exitPassed
}
