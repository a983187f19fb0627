// Package proc starts every child process ptvmlab runs (make, QEMU, git,
// patch, gcc, go, checkpatch) the one way that leaves nothing behind, as
// syzkaller's pkg/osutil does for its tools: each child leads a process
// group of its own, so that its children (gcc under make, the step under
// git bisect run) can be signalled with it; it gets SIGKILL when
// ptvmlab's thread that started it dies (Pdeathsig), so that not even a
// SIGKILL of ptvmlab orphans it; and cancelling the context sends the
// group SIGTERM, then SIGKILL after a grace period.
//
// os/exec has no process-group kill and no Pdeathsig of its own: this is
// the small layer over it that every caller would otherwise repeat.
package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Grace is how long a cancelled child's group has between SIGTERM and
// SIGKILL. A ptvmlab step under git bisect uses it to stop its QEMU and
// make and say so.
var Grace = 10 * time.Second

// Command is exec.CommandContext(ctx, name, args...) with the child in a
// process group of its own, Pdeathsig SIGKILL, and cancellation that
// signals the whole group. The caller may change everything else (Env,
// Dir, Stdin, Stdout, Stderr).
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	Own(cmd)
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		// The group outlives its leader only by its own doing; a
		// recycled pgid within Grace needs 4M pids to be used up.
		time.AfterFunc(Grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		return err
	}
	cmd.WaitDelay = Grace + 5*time.Second
	return cmd
}

// Own gives cmd, not yet started, its own process group and Pdeathsig
// SIGKILL: for a child whose end the caller manages itself (QEMU, whose
// backend stops it through QMP first).
func Own(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// KillGroup sends sig to the process group cmd leads.
func KillGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// FirstLine is the first line of a command's output, trimmed: the line an
// error message quotes.
func FirstLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Output runs name with args in dir ("" for the working directory), with
// env added to ptvmlab's environment, and returns its standard output,
// trimmed. A failure's error names the command and quotes the first line
// of what it printed on standard error.
func Output(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := Command(ctx, name, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if s := FirstLine([]byte(stderr.String())); s != "" {
			return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, s)
		}
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// outputs keeps OutputOnce's results for the life of the process.
var outputs struct {
	sync.Mutex
	m map[string][]byte
}

// OutputOnce is the standard output of name run with args, kept for the
// life of the process while name's executable stays the same file (its
// device, inode, size and modification and change times): a tool's
// description of itself (gcc --version, gcc -print-file-name=libc.a),
// which a matrix of 40 cells would otherwise ask 150 times. An upgrade
// replaces the file and is run again; a failure is not kept.
func OutputOnce(ctx context.Context, name string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	id := path
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id = fmt.Sprint(path, sys.Dev, sys.Ino, sys.Size, sys.Mtim.Nano(), sys.Ctim.Nano())
	}
	key := id + "\x00" + strings.Join(args, "\x00")
	outputs.Lock()
	out, ok := outputs.m[key]
	outputs.Unlock()
	if ok {
		return slices.Clone(out), nil
	}
	out, err = Command(ctx, path, args...).Output()
	if err != nil {
		return out, err
	}
	outputs.Lock()
	if outputs.m == nil {
		outputs.m = map[string][]byte{}
	}
	outputs.m[key] = slices.Clone(out)
	outputs.Unlock()
	return out, nil
}
