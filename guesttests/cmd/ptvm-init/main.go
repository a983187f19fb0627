// Command ptvm-init is the guest's /init: it mounts what the tests need,
// makes device nodes itself (kernels without devtmpfs, like 2.6.29, have
// none), opens the results channel, runs the test binary with its stdout on
// that channel, and reboots, which ends QEMU (-no-reboot).
//
// The serial console gets progress lines; the results channel gets only the
// tests' KTAP.
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "ptvmlab-init: "+format+"\n", args...)
}

func main() {
	fmt.Println(proto.MarkerStart)
	mountAll()
	args, argsErr := cmdline()
	poweroff := args.Halt == proto.HaltPowerOff
	if args.Probe {
		// The host's accelerator probe: reaching this line is the proof.
		fmt.Println(proto.MarkerProbe)
		halt(poweroff)
	}
	ch, how, err := openResults(args.Channel)
	if err != nil {
		logf("no results channel: %v", err)
		halt(poweroff)
	}
	logf("results channel: %s", how)
	if argsErr != nil {
		// The host (or a user's --append) asked for something this init
		// cannot do: one failing test says what, rather than a run that
		// quietly ignores it.
		logf("%v", argsErr)
		fmt.Fprintf(ch, "KTAP version 1\n1..1\nnot ok 1 kernel_cmdline # %s\n", argsErr)
		ch.Sync()
		fmt.Println(proto.MarkerDone)
		halt(poweroff)
	}
	switch args.Fault {
	case proto.FaultHang:
		logf("fault=hang: sleeping forever")
		for {
			time.Sleep(time.Hour)
		}
	case proto.FaultGarbage:
		logf("fault=garbage: writing random bytes")
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(rand.IntN(256))
		}
		ch.Write(b)
		ch.Close()
		halt(poweroff)
	case proto.FaultExit:
		logf("fault=exit: init exits")
		os.Exit(0)
	}
	testArgs := []string{}
	if args.Expect != "" {
		testArgs = append(testArgs, "-expect", string(args.Expect))
	}
	if args.Bench {
		testArgs = append(testArgs, "-bench")
	}
	if name, ok := strings.CutPrefix(args.Fault, proto.FaultFail); ok {
		logf("fault=%s: test %s will fail on purpose", args.Fault, name)
		testArgs = append(testArgs, "-fail", name)
	}
	if len(args.Tests) > 0 {
		testArgs = append(testArgs, "-tests", strings.Join(args.Tests, ","))
	}
	cmd := exec.Command(proto.TestsBinary, testArgs...)
	cmd.Stdout = ch
	if ch == os.Stdout {
		cmd.Stderr = io.Discard // the console carries the results: keep it KTAP
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stdout
	}
	cmd.Env = []string{"PATH=/bin", "HOME=/", "TMPDIR=/tmp"}
	err = cmd.Run()
	logf("tests ended: %v", err)
	ch.Sync()
	if ch != os.Stdout {
		ch.Close()
	}
	fmt.Println(proto.MarkerDone)
	halt(poweroff)
}

// mountAll mounts proc, sysfs, a /dev and the tmpfs mounts the tests use.
// Failures are reported and tolerated: a kernel without sysfs still gets
// its console, and the tests say what they miss.
func mountAll() {
	for _, m := range []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil {
			logf("mount %s: %v", m.dst, err)
		}
	}
	os.MkdirAll("/dev", 0o755)
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		logf("no devtmpfs (%v): making device nodes from /sys", err)
		makeNodes()
	}
	os.MkdirAll("/dev/shm", 0o1777)
	if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", 0, ""); err != nil {
		logf("mount /dev/shm: %v", err)
	}
}

// makeNodes creates /dev/NAME for every character device sysfs lists under
// the classes the guest uses, from its "dev" file (major:minor).
func makeNodes() {
	for _, class := range []string{"mem", "tty", "virtio-ports", "misc"} {
		ents, _ := filepath.Glob("/sys/class/" + class + "/*/dev")
		for _, devFile := range ents {
			b, err := os.ReadFile(devFile)
			if err != nil {
				continue
			}
			maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
			if !ok {
				continue
			}
			ma, _ := strconv.Atoi(maj)
			mi, _ := strconv.Atoi(min)
			name := filepath.Base(filepath.Dir(devFile))
			_ = unix.Mknod("/dev/"+name, unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(ma), uint32(mi))))
		}
	}
}

// cmdline reads what the host asked of this boot from /proc/cmdline. A
// value it cannot read is returned as the error, beside the rest.
func cmdline() (proto.Args, error) {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return proto.Args{}, fmt.Errorf("read /proc/cmdline: %w", err)
	}
	return proto.ParseArgs(strings.Fields(string(b)))
}

// openResults opens the results channel: the named virtio-serial port where
// the kernel has multiport virtio consoles (2.6.35+), else the virtio
// console hvc0, else the second serial port. want forces one.
func openResults(want proto.Channel) (*os.File, string, error) {
	if want == proto.ChannelConsole {
		return os.Stdout, "console (stdout)", nil
	}
	if want == "" || want == proto.ChannelPort {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil || strings.TrimSpace(string(b)) != proto.ResultsPort {
				continue
			}
			dev := "/dev/" + filepath.Base(filepath.Dir(n))
			f, err := os.OpenFile(dev, os.O_WRONLY, 0)
			if err == nil {
				return f, "port " + proto.ResultsPort + " at " + dev, nil
			}
			logf("open %s: %v", dev, err)
		}
		if want == proto.ChannelPort {
			return nil, "", fmt.Errorf("no virtio port named %s", proto.ResultsPort)
		}
	}
	for _, c := range []struct {
		name proto.Channel
		dev  string
	}{{proto.ChannelHVC, "/dev/hvc0"}, {proto.ChannelSerial, "/dev/ttyS1"}} {
		if want != "" && want != c.name {
			continue
		}
		f, err := os.OpenFile(c.dev, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err == nil {
			if c.name == proto.ChannelSerial {
				rawTTY(f)
			}
			return f, string(c.name) + " " + c.dev, nil
		}
	}
	return nil, "", fmt.Errorf("no named port, no hvc0, no ttyS1")
}

// rawTTY turns off output post-processing (\n → \r\n) on a serial line.
func rawTTY(f *os.File) {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag &^= unix.OPOST
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// halt ends the machine: reboot with QEMU's -no-reboot makes QEMU exit;
// UML restarts on reboot, so it is powered off instead.
func halt(poweroff bool) {
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if poweroff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	if err := unix.Reboot(cmd); err != nil {
		logf("reboot: %v", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}
