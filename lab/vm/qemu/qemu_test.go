package qemu

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

func TestCommand(t *testing.T) {
	t.Parallel()
	p := paths{qmp: "/s/qmp", results: "/s/results"}
	base := vm.Spec{Kernel: "/k/bzImage", Initrd: "/k/initrd.cpio", Cmdline: []string{"ptvmlab.expect=none"}}
	tests := []struct {
		name string
		arch string
		via  proto.Channel
		kvm  bool
		want string
	}{
		{"x86_64 tcg port", "x86_64", "", false,
			"qemu-system-x86_64 -nodefaults -no-reboot -display none -machine pc -accel tcg -cpu max -m 512 -smp 1 " +
				"-kernel /k/bzImage -initrd /k/initrd.cpio -append console=ttyS0 panic=-1 oops=panic tsc=reliable no_timer_check ptvmlab.expect=none " +
				"-serial stdio -qmp unix:/s/qmp,server=on,wait=off -chardev socket,id=results,path=/s/results,server=on,wait=off " +
				"-device virtio-serial-pci,id=vser0 -device virtserialport,bus=vser0.0,chardev=results,name=org.ptvmlab.results"},
		{"i386 kvm hvc", "i386", "hvc", true,
			"qemu-system-i386 -nodefaults -no-reboot -display none -machine pc -accel kvm -cpu host -m 512 -smp 1 " +
				"-kernel /k/bzImage -initrd /k/initrd.cpio -append console=ttyS0 panic=-1 oops=panic tsc=reliable no_timer_check ptvmlab.expect=none " +
				"-serial stdio -qmp unix:/s/qmp,server=on,wait=off -chardev socket,id=results,path=/s/results,server=on,wait=off " +
				"-device virtio-serial-pci,id=vser0 -device virtconsole,bus=vser0.0,chardev=results"},
		{"serial fallback", "x86_64", "serial", false, "-serial stdio -qmp unix:/s/qmp,server=on,wait=off -chardev socket,id=results,path=/s/results,server=on,wait=off -serial chardev:results"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := base
			s.Arch, s.Channel = tc.arch, tc.via
			bin, args, err := Command(s, tc.kvm, p)
			if err != nil {
				t.Fatal(err)
			}
			got := bin + " " + strings.Join(args, " ")
			// The guest's arguments are the caller's: the backend adds
			// kernel ones only.
			for i, a := range args {
				if i > 0 && args[i-1] == "-append" {
					for _, w := range strings.Fields(a) {
						if strings.HasPrefix(w, "ptvmlab.") && !slices.Contains(s.Cmdline, w) {
							t.Errorf("the backend wrote the guest argument %q itself", w)
						}
					}
				}
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("command\n%s\nwant (part)\n%s", got, tc.want)
			}
		})
	}
	if _, _, err := Command(vm.Spec{Arch: "x86_64", Channel: proto.ChannelConsole}, false, p); err == nil {
		t.Error("a channel QEMU has no device for was taken")
	}
	if _, _, err := Command(vm.Spec{Arch: "arm64"}, false, p); err == nil {
		t.Error("Command accepted arch arm64")
	}
}

func TestCrashLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ console, want string }{
		{"Run /init as init process\nptvmlab-init: done\n", ""},
		{"Run /init\nKernel panic - not syncing: No working init found.  Try passing init= option to kernel.\n",
			"Kernel panic - not syncing: No working init found.  Try passing init= option to kernel."},
		{"x\nBUG: kernel NULL pointer dereference, address: 0000000000000000\nOops: 0002 [#1]\n",
			"BUG: kernel NULL pointer dereference, address: 0000000000000000"},
		{"Oops: general protection fault, probably for non-canonical address\n", "Oops: general protection fault, probably for non-canonical address"},
	}
	for _, tc := range tests {
		if got := CrashLine([]byte(tc.console)); got != tc.want {
			t.Errorf("CrashLine(%q) = %q, want %q", tc.console, got, tc.want)
		}
	}
}

// TestBootWithoutQEMU: a missing emulator is an infrastructure failure with
// an install hint, not a guest verdict.
func TestBootWithoutQEMU(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"bzImage", "initrd"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	t.Setenv("PATH", dir)
	_, err := (&Backend{}).Boot(context.Background(), vm.Spec{Arch: "x86_64", Kernel: filepath.Join(dir, "bzImage"),
		Initrd: filepath.Join(dir, "initrd"), Dir: filepath.Join(dir, "out"), Timeout: 10 * time.Second})
	if !vm.IsInfra(err) || !strings.Contains(err.Error(), "apt-get install qemu-system-x86") {
		t.Fatalf("want an infrastructure error with an install hint, got %v", err)
	}
}

// TestBootBadKernel boots a file that is not a kernel: QEMU refuses it, the
// guest never speaks, and that is infrastructure (QEMU could not run it).
func TestBootBadKernel(t *testing.T) {
	if _, err := os.Stat("/usr/bin/qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed: this test needs the real QEMU (apt-get install qemu-system-x86)")
	}
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"bzImage", "initrd"} {
		os.WriteFile(filepath.Join(dir, f), []byte("not a kernel"), 0o644)
	}
	out, err := (&Backend{}).Boot(context.Background(), vm.Spec{Arch: "x86_64", Kernel: filepath.Join(dir, "bzImage"),
		Initrd: filepath.Join(dir, "initrd"), Dir: filepath.Join(dir, "out"), Timeout: 30 * time.Second})
	if !vm.IsInfra(err) {
		t.Fatalf("want an infrastructure error, got %v (output %+v)", err, out)
	}
	if !strings.Contains(err.Error(), "qemu-system-x86_64") {
		t.Errorf("error does not name QEMU: %v", err)
	}
}

func TestBareCommand(t *testing.T) {
	s := vm.Spec{Arch: "i386", Kernel: "/k", Initrd: "/i", Cmdline: []string{"ptvmlab.tests=probe"}, Channel: proto.ChannelPort}
	bin, args, err := BareCommand(s, "/d")
	if err != nil {
		t.Fatal(err)
	}
	got := bin + " " + strings.Join(args, " ")
	want := "qemu-system-i386 -nodefaults -no-reboot -display none -machine pc -accel tcg -cpu max -m 512 -smp 1 " +
		"-kernel /k -initrd /i -append console=ttyS0 panic=-1 oops=panic tsc=reliable no_timer_check ptvmlab.tests=probe " +
		"-serial stdio -chardev file,id=results,path=/d/results.raw " +
		"-device virtio-serial-pci,id=vser0 -device virtserialport,bus=vser0.0,chardev=results,name=" + proto.ResultsPort
	if got != want {
		t.Errorf("BareCommand:\n got %s\nwant %s", got, want)
	}
}
