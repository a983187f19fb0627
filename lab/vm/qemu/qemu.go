// Package qemu boots a kernel and initramfs in QEMU (qemu-system-x86_64 or
// qemu-system-i386), with the serial console piped to the host, the results
// on a virtio-serial socket, QMP (through go-qemu) to stop the machine, and
// a silence watchdog. The accelerator is chosen on purpose (accel.go): KVM
// only where a probe boot under it reached its end, TCG otherwise, and a
// KVM boot that goes wrong is retried under TCG.
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
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// Backend is the QEMU vm.Backend. Its zero value chooses the accelerator
// with a probe and keeps the verdict for this process only.
type Backend struct {
	// Accel is how the accelerator is chosen; "" is vm.AccelAuto.
	Accel vm.AccelMode
	// Cache keeps the KVM probe's verdict across runs ("" keeps it for
	// this process only).
	Cache cache.Dir
	said  sync.Map // the accelerator lines already logged, by arch and line
}

// binaries maps a guest arch to its QEMU system emulator.
var binaries = map[string]string{"x86_64": "qemu-system-x86_64", "i386": "qemu-system-i386"}

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
	// no_timer_check: the IO-APIC timer check counts ticks across an
	// mdelay calibrated at boot; on a loaded TCG host the ticks come late
	// and 2.6.29 panics with "IO-APIC + timer doesn't work!" (seen here:
	// 1 boot in 8, two boots beside a kernel build). QEMU's timer is
	// wired right; the check is for broken SMP boards of the 2000s.
	cmdline := append([]string{"console=ttyS0", "panic=-1", "oops=panic", "tsc=reliable", "no_timer_check"}, s.Cmdline...)
	args := []string{
		"-nodefaults", "-no-reboot", "-display", "none",
		"-machine", "pc", "-accel", accel, "-cpu", cpu, "-m", fmt.Sprint(mem), "-smp", "1",
		"-kernel", s.Kernel, "-initrd", s.Initrd, "-append", strings.Join(cmdline, " "),
		"-serial", "stdio",
		"-qmp", "unix:" + p.qmp + ",server=on,wait=off",
		"-chardev", "socket,id=results,path=" + p.results + ",server=on,wait=off",
	}
	switch s.Channel {
	case proto.ChannelPort, "":
		args = append(args, "-device", "virtio-serial-pci,id=vser0",
			"-device", "virtserialport,bus=vser0.0,chardev=results,name="+proto.ResultsPort)
	case proto.ChannelHVC:
		args = append(args, "-device", "virtio-serial-pci,id=vser0",
			"-device", "virtconsole,bus=vser0.0,chardev=results")
	case proto.ChannelSerial:
		args = append(args, "-serial", "chardev:results")
	default:
		return "", nil, fmt.Errorf("qemu: results channel %q has no device here: want port, hvc or serial", s.Channel)
	}
	return bin, args, nil
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

// Boot runs one machine to its end. It returns an *vm.InfraError when QEMU
// could not be started or controlled, or when --accel kvm cannot be
// honoured; everything the guest did, including crashing or hanging, is in
// the Output. In auto mode a boot under KVM that goes silent or dies before
// the guest answers is run again under TCG, and the Output keeps the first
// attempt.
func (b *Backend) Boot(ctx context.Context, s vm.Spec) (*vm.Output, error) {
	choice, err := b.choose(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &vm.InfraError{Op: "boot", Err: ctx.Err()}
		}
		return nil, &vm.InfraError{Op: "accel", Err: err}
	}
	out, err := b.boot(ctx, s, choice.Accel == "kvm")
	if out != nil {
		out.Accel, out.AccelWhy = choice.Accel, choice.Why
	}
	if choice.Accel != "kvm" || b.mode() != vm.AccelAuto || ctx.Err() != nil {
		return out, err
	}
	why, retry := wentWrong(out, err)
	if !retry {
		return out, err
	}
	first := vm.Attempt{Accel: "kvm", Why: why}
	if out != nil {
		first.Took, first.TookS = out.Took, out.Took.Seconds()
		kept := filepath.Join(s.Dir, "console.kvm.log")
		if os.Rename(filepath.Join(s.Dir, "console.log"), kept) == nil {
			first.ConsoleLog = kept
		}
	}
	slog.Warn("boot under KVM went wrong; retrying under TCG", "arch", s.Arch, "why", why)
	out, err = b.boot(ctx, s, false)
	if out != nil {
		out.Accel, out.AccelWhy = "tcg", "fallback: the KVM attempt "+why
		out.Attempts = append(out.Attempts, first)
		if _, again := wentWrong(out, err); !again {
			b.distrustKVM(choice.key, why)
		}
	}
	return out, err
}

func (b *Backend) mode() vm.AccelMode {
	if b.Accel == "" {
		return vm.AccelAuto
	}
	return b.Accel
}

func (b *Backend) boot(ctx context.Context, s vm.Spec, kvm bool) (*vm.Output, error) {
	sock, doneSock, err := cache.ScratchDir("", "ptvmlab-vm-") // unix socket paths must stay short
	if err != nil {
		return nil, &vm.InfraError{Op: "socket dir", Err: err}
	}
	defer doneSock()
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
	silence := s.Silence
	if silence == 0 {
		silence = DefaultSilenceTCG
		if kvm {
			silence = DefaultSilenceKVM
		}
	}
	cmd := exec.Command(bin, args...)
	if w := os.Getenv(KVMWrapperEnv); kvm && w != "" {
		cmd = exec.Command(w, append([]string{bin}, args...)...)
	}
	// Its own group, and SIGKILL if ptvmlab dies without stopping it: no
	// QEMU outlives a killed ptvmlab.
	proc.Own(cmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// An os.Pipe of our own, not cmd.StdoutPipe: Wait closes that one as
	// soon as QEMU exits, and the console's last lines (a probe's end
	// marker, a panic's tail) could be lost before they were read. Ours
	// reads to EOF, which comes when QEMU and its process group are gone.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, &vm.InfraError{Op: "pipe", Err: err}
	}
	defer stdout.Close()
	cmd.Stdout = stdoutW
	consoleFile, err := os.Create(filepath.Join(s.Dir, "console.log"))
	if err != nil {
		stdoutW.Close()
		return nil, &vm.InfraError{Op: "console.log", Err: err}
	}
	defer consoleFile.Close()

	start := time.Now()
	err = cmd.Start()
	stdoutW.Close() // QEMU holds the write end now
	if err != nil {
		return nil, &vm.InfraError{Op: "start " + bin, Err: fmt.Errorf("%w (install it with: apt-get install qemu-system-x86)", err)}
	}
	// exited is closed when QEMU has ended, and waitErr then holds its
	// status: a close reaches every goroutine that waits for it (the
	// results reader, the QMP dialer, the main loop), where a value sent
	// once reaches only one.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	// last is when the machine last made a byte on either channel, for
	// the silence watchdog.
	var last atomic.Int64
	last.Store(start.UnixNano())
	touch := func() { last.Store(time.Now().UnixNano()) }

	crashed := make(chan string, 1)
	var console consoleBuf
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		console.copy(io.MultiWriter(consoleFile), activityReader{stdout, touch}, crashed)
	}()

	res := &resultsReader{touch: touch, live: s.Live}
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.read(p.results, start, exited)
	}()

	// QMP is dialled beside the main loop, so that the watchdog and the
	// deadline run from the start even while QEMU is slow to answer.
	monc := make(chan *qmp.SocketMonitor, 1)
	go func() { monc <- dialQMP(p.qmp, exited) }()
	qmpMon := sync.OnceValue(func() *qmp.SocketMonitor { return <-monc })

	var crashTimer <-chan time.Time
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var watchdog <-chan time.Time
	if silence > 0 {
		tick := time.NewTicker(min(silence/4, time.Second))
		defer tick.Stop()
		watchdog = tick.C
	}
	var exitErr error
wait:
	for {
		select {
		case <-exited:
			exitErr = waitErr
			break wait
		case <-watchdog:
			if quiet := time.Since(time.Unix(0, last.Load())); quiet >= silence {
				// The threshold, not the quiet time measured at this tick
				// (up to a tick more): the verdict's words stay the same
				// from run to run.
				out.TimedOut, out.Silent = true, silence
				stop(qmpMon(), kill, exited, &exitErr)
				break wait
			}
		case line := <-crashed:
			out.Crashed = line
			crashTimer = time.After(crashGrace)
		case <-crashTimer:
			stop(qmpMon(), kill, exited, &exitErr)
			break wait
		case <-deadline.C:
			out.TimedOut = true
			stop(qmpMon(), kill, exited, &exitErr)
			break wait
		case <-ctx.Done():
			kill()
			<-exited
			if m := qmpMon(); m != nil {
				_ = m.Disconnect()
			}
			wg.Wait()
			return nil, &vm.InfraError{Op: "boot", Err: ctx.Err()}
		}
	}
	out.Took = time.Since(start)
	if m := qmpMon(); m != nil {
		_ = m.Disconnect()
	}
	wg.Wait()
	out.Console = console.bytes()
	out.LastLine = LastLine(out.Console)
	if out.Crashed == "" {
		out.Crashed = CrashLine(out.Console)
	}
	out.Results, out.FirstResult = res.data, res.first
	out.Opened = len(res.data) > 0
	if err := os.WriteFile(filepath.Join(s.Dir, "results.raw"), out.Results, 0o644); err != nil {
		return nil, &vm.InfraError{Op: "results.raw", Err: err}
	}
	if exitErr != nil && !out.TimedOut && out.Crashed == "" {
		out.ExitErr = fmt.Errorf("%s: %w: %s", bin, exitErr, proc.FirstLine(stderr.Bytes()))
		if !out.Opened && len(out.Console) == 0 {
			return out, &vm.InfraError{Op: "run " + bin, Err: out.ExitErr}
		}
	}
	return out, nil
}

// stop ends a machine: QMP quit first, SIGKILL if it lingers.
func stop(mon *qmp.SocketMonitor, kill func(), exited <-chan struct{}, exitErr *error) {
	if mon == nil {
		// No QMP to ask: nothing would make QEMU end by itself.
		kill()
		<-exited
		*exitErr = nil
		return
	}
	// After the guest already ended QEMU, quit fails with a broken pipe:
	// that is fine, the process is gone either way.
	_ = raw.NewMonitor(mon).Quit()
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
func dialQMP(path string, exited <-chan struct{}) *qmp.SocketMonitor {
	for i := 0; i < 100; i++ {
		select {
		case <-exited:
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
	touch func()    // called on every byte that comes
	live  io.Writer // vm.Spec.Live: a copy of every byte, as it comes; nil for none
}

func (r *resultsReader) read(path string, start time.Time, exited <-chan struct{}) {
	var conn net.Conn
	for conn == nil {
		c, err := net.Dial("unix", path)
		if err == nil {
			conn = c
			break
		}
		select {
		case <-exited:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer conn.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			r.touch()
			if r.first == 0 {
				r.first = time.Since(start)
			}
			if len(r.data) < 16<<20 {
				r.data = append(r.data, buf[:n]...)
			}
			if r.live != nil {
				_, _ = r.live.Write(buf[:n])
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

var _ vm.Backend = (*Backend)(nil)

// activityReader calls touch whenever bytes come through: a console that
// prints half a line is not silent.
type activityReader struct {
	r     io.Reader
	touch func()
}

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.touch()
	}
	return n, err
}

// LastLine returns the last console line with something on it, trimmed.
func LastLine(console []byte) string {
	lines := bytes.Split(bytes.TrimRight(console, "\r\n\t "), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(string(lines[i])); l != "" {
			return l
		}
	}
	return ""
}

// BareCommand is Command for s under TCG without the lab around it: no
// QMP socket, the guest's results written to dir/results.raw by QEMU
// itself, nobody reading them as they come. It is what the lab's own
// cost is measured against (ptvmlab bench lab): the same emulator, kernel,
// initramfs, command line and devices.
func BareCommand(s vm.Spec, dir string) (string, []string, error) {
	bin, args, err := Command(s, false, paths{qmp: "-", results: "-"})
	if err != nil {
		return "", nil, err
	}
	var bare []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-qmp":
			i++
		case args[i] == "-chardev" && i+1 < len(args) && strings.HasPrefix(args[i+1], "socket,id=results,"):
			bare = append(bare, "-chardev", "file,id=results,path="+filepath.Join(dir, "results.raw"))
			i++
		default:
			bare = append(bare, args[i])
		}
	}
	return bin, bare, nil
}
