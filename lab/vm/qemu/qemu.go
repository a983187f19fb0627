// Package qemu boots a kernel and initramfs in QEMU (qemu-system-x86_64 or
// qemu-system-i386, KVM when /dev/kvm opens, TCG otherwise), with the serial
// console piped to the host, the results on a virtio-serial socket, and QMP
// (through go-qemu) to stop the machine.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"github.com/digitalocean/go-qemu/qmp/raw"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Backend is the QEMU vm.Backend.
type Backend struct {
	// KVM forces (true) or forbids (false) KVM; nil means "when /dev/kvm opens".
	KVM *bool
}

// binaries maps a guest arch to its QEMU system emulator.
var binaries = map[string]string{"x86_64": "qemu-system-x86_64", "i386": "qemu-system-i386"}

// KVMAvailable reports whether /dev/kvm can be opened for use.
func KVMAvailable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// paths are the host-side files of one boot.
type paths struct {
	qmp, results string
}

// Command returns the QEMU binary and arguments for s.
func Command(s vm.Spec, kvm bool, p paths) (string, []string, error) {
	bin, ok := binaries[s.Arch]
	if !ok {
		return "", nil, fmt.Errorf("qemu: no emulator for arch %q: want x86_64 or i386", s.Arch)
	}
	mem := s.MemoryMB
	if mem == 0 {
		mem = 512
	}
	accel, cpu := "tcg", "max"
	if kvm {
		accel, cpu = "kvm", "host"
	}
	// tsc=reliable: under TCG on a loaded host the clocksource watchdog
	// marks the TSC unstable and the guest's clock jumps (by thousands of
	// hours, seen here), which fires every timeout in the guest at once.
	cmdline := append([]string{"console=ttyS0", "panic=-1", "oops=panic", "tsc=reliable", "ptvmlab.channel=" + channel(s.ResultsVia)}, s.Cmdline...)
	args := []string{
		"-nodefaults", "-no-reboot", "-display", "none",
		"-machine", "pc", "-accel", accel, "-cpu", cpu, "-m", fmt.Sprint(mem), "-smp", "1",
		"-kernel", s.Kernel, "-initrd", s.Initrd, "-append", strings.Join(cmdline, " "),
		"-serial", "stdio",
		"-qmp", "unix:" + p.qmp + ",server=on,wait=off",
		"-chardev", "socket,id=results,path=" + p.results + ",server=on,wait=off",
	}
	switch channel(s.ResultsVia) {
	case "port":
		args = append(args, "-device", "virtio-serial-pci,id=vser0",
			"-device", "virtserialport,bus=vser0.0,chardev=results,name="+proto.ResultsPort)
	case "hvc":
		args = append(args, "-device", "virtio-serial-pci,id=vser0",
			"-device", "virtconsole,bus=vser0.0,chardev=results")
	case "serial":
		args = append(args, "-serial", "chardev:results")
	}
	return bin, args, nil
}

func channel(via string) string {
	if via == "" {
		return "port"
	}
	return via
}

// crashRe matches console lines that mean the kernel crashed.
var crashRe = regexp.MustCompile(`Kernel panic - not syncing|BUG: |Oops: |general protection fault|Unable to handle kernel`)

// CrashLine returns the first console line that reports a kernel crash.
func CrashLine(console []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if crashRe.Match(sc.Bytes()) {
			return strings.TrimSpace(sc.Text())
		}
	}
	return ""
}

// crashGrace is how long a machine may go on after a crash line before it is
// stopped: long enough for the rest of the oops to reach the console.
const crashGrace = 3 * time.Second

// kvmBroken is set once KVM has failed to start a machine in this process:
// /dev/kvm can open and still be unusable (nested virtualisation that
// rejects QEMU's MSRs, for one), and every later boot then goes to TCG.
var kvmBroken atomic.Bool

// Boot runs one machine to its end. It returns an *vm.InfraError when QEMU
// could not be started or controlled; everything the guest did, including
// crashing or hanging, is in the Output. When KVM was chosen by default and
// QEMU dies before the guest prints anything, the boot is retried under TCG.
func (b Backend) Boot(ctx context.Context, s vm.Spec) (*vm.Output, error) {
	kvm := KVMAvailable() && !kvmBroken.Load()
	if b.KVM != nil {
		kvm = *b.KVM
	}
	out, err := b.boot(ctx, s, kvm)
	if kvm && b.KVM == nil && vm.IsInfra(err) && ctx.Err() == nil && (out == nil || len(out.Console) == 0) {
		kvmBroken.Store(true)
		slog.Warn("KVM is unusable here; using TCG from now on", "err", err)
		return b.boot(ctx, s, false)
	}
	return out, err
}

func (b Backend) boot(ctx context.Context, s vm.Spec, kvm bool) (*vm.Output, error) {
	sock, err := os.MkdirTemp("", "ptvmlab-vm-") // unix socket paths must stay short
	if err != nil {
		return nil, &vm.InfraError{Op: "socket dir", Err: err}
	}
	defer os.RemoveAll(sock)
	p := paths{qmp: filepath.Join(sock, "qmp"), results: filepath.Join(sock, "results")}
	bin, args, err := Command(s, kvm, p)
	if err != nil {
		return nil, &vm.InfraError{Op: "command", Err: err}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, &vm.InfraError{Op: "output dir", Err: err}
	}
	for _, f := range []string{s.Kernel, s.Initrd} {
		if _, err := os.Stat(f); err != nil {
			return nil, &vm.InfraError{Op: "boot files", Err: err}
		}
	}
	out := &vm.Output{Command: append([]string{bin}, args...)}
	slog.Debug("qemu", "cmd", strings.Join(out.Command, " "))

	timeout := s.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, &vm.InfraError{Op: "pipe", Err: err}
	}
	consoleFile, err := os.Create(filepath.Join(s.Dir, "console.log"))
	if err != nil {
		return nil, &vm.InfraError{Op: "console.log", Err: err}
	}
	defer consoleFile.Close()

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, &vm.InfraError{Op: "start " + bin, Err: fmt.Errorf("%w (install it with: apt-get install qemu-system-x86)", err)}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	crashed := make(chan string, 1)
	var console consoleBuf
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		console.copy(io.MultiWriter(consoleFile), stdout, crashed)
	}()

	res := &resultsReader{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.read(p.results, start, exited)
	}()

	mon := dialQMP(p.qmp, exited)

	var crashTimer <-chan time.Time
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var exitErr error
wait:
	for {
		select {
		case exitErr = <-exited:
			break wait
		case line := <-crashed:
			out.Crashed = line
			crashTimer = time.After(crashGrace)
		case <-crashTimer:
			stop(mon, kill, exited, &exitErr)
			break wait
		case <-deadline.C:
			out.TimedOut = true
			stop(mon, kill, exited, &exitErr)
			break wait
		case <-ctx.Done():
			kill()
			<-exited
			wg.Wait()
			return nil, &vm.InfraError{Op: "boot", Err: ctx.Err()}
		}
	}
	out.Took = time.Since(start)
	if mon != nil {
		_ = mon.Disconnect()
	}
	wg.Wait()
	out.Console = console.bytes()
	if out.Crashed == "" {
		out.Crashed = CrashLine(out.Console)
	}
	out.Results, out.FirstResult = res.data, res.first
	out.Opened = len(res.data) > 0
	if err := os.WriteFile(filepath.Join(s.Dir, "results.raw"), out.Results, 0o644); err != nil {
		return nil, &vm.InfraError{Op: "results.raw", Err: err}
	}
	if exitErr != nil && !out.TimedOut && out.Crashed == "" {
		out.ExitErr = fmt.Errorf("%s: %w: %s", bin, exitErr, firstLine(stderr.String()))
		if !out.Opened && len(out.Console) == 0 {
			return out, &vm.InfraError{Op: "run " + bin, Err: out.ExitErr}
		}
	}
	return out, nil
}

// stop ends a machine: QMP quit first, SIGKILL if it lingers.
func stop(mon *qmp.SocketMonitor, kill func(), exited <-chan error, exitErr *error) {
	if mon != nil {
		// After the guest already ended QEMU, quit fails with a broken pipe:
		// that is fine, the process is gone either way.
		_ = raw.NewMonitor(mon).Quit()
	}
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		kill()
		<-exited
	}
	*exitErr = nil
}

// dialQMP connects to QEMU's QMP socket, retrying while QEMU starts. It
// returns nil when QEMU exited first or QMP never answered: the machine can
// still be killed.
func dialQMP(path string, exited chan error) *qmp.SocketMonitor {
	for i := 0; i < 100; i++ {
		select {
		case err := <-exited:
			exited <- err // leave it for the main loop
			return nil
		default:
		}
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			if err := mon.Connect(); err == nil {
				if st, err := raw.NewMonitor(mon).QueryStatus(); err == nil {
					slog.Debug("qmp connected", "status", st.Status)
				}
				return mon
			}
			mon.Disconnect()
		}
		time.Sleep(50 * time.Millisecond)
	}
	slog.Warn("qmp never answered; the machine will be killed rather than quit", "socket", path)
	return nil
}

// resultsReader collects the results channel from QEMU's socket.
type resultsReader struct {
	data  []byte
	first time.Duration
}

func (r *resultsReader) read(path string, start time.Time, exited chan error) {
	var conn net.Conn
	for conn == nil {
		c, err := net.Dial("unix", path)
		if err == nil {
			conn = c
			break
		}
		select {
		case err := <-exited:
			exited <- err
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer conn.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if r.first == 0 {
				r.first = time.Since(start)
			}
			if len(r.data) < 16<<20 {
				r.data = append(r.data, buf[:n]...)
			}
		}
		if err != nil {
			return
		}
	}
}

// consoleBuf keeps the last vm.MaxConsole bytes of the console.
type consoleBuf struct {
	mu  sync.Mutex
	buf []byte
}

func (c *consoleBuf) copy(file io.Writer, r io.Reader, crashed chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	reported := false
	for sc.Scan() {
		line := append(bytes.TrimRight(sc.Bytes(), "\r"), '\n')
		_, _ = file.Write(line)
		c.mu.Lock()
		c.buf = append(c.buf, line...)
		if len(c.buf) > 2*vm.MaxConsole {
			c.buf = append([]byte(nil), c.buf[len(c.buf)-vm.MaxConsole:]...)
		}
		c.mu.Unlock()
		if !reported && crashRe.Match(line) {
			reported = true
			crashed <- strings.TrimSpace(string(line))
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *consoleBuf) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) > vm.MaxConsole {
		return append([]byte(nil), c.buf[len(c.buf)-vm.MaxConsole:]...)
	}
	return append([]byte(nil), c.buf...)
}

var _ vm.Backend = Backend{}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
