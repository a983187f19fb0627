package qemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/proc"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// A /dev/kvm that opens is no proof that KVM works: a paravirtual KVM
// (kvm-pvm), nested virtualisation on a cloud VM or a container handed the
// device can open it and then triple-fault or hang an ordinary guest. So
// KVM is used only after a real boot under it reached its end: the cell's
// own kernel, told by ptvmlab.probe=accel to power off as soon as its init
// runs. virtme-ng and vmtest trust the device; this is the step they lack.

// ProbeDeadline bounds the accelerator probe: a tinyconfig kernel under a
// working KVM reaches its init in about a second, and under TCG in a few.
const ProbeDeadline = 20 * time.Second

// probeSilence ends the probe early when the console stops moving.
const probeSilence = 10 * time.Second

// Watchdog defaults: how long a machine may be silent on both the console
// and the results channel before it is stopped. TCG is slow but a healthy
// guest prints at least every few seconds (the guest tests send progress
// lines during long steps); KVM is faster, and a silent KVM guest is
// retried under TCG, so it is given up on sooner.
const (
	DefaultSilenceTCG = 60 * time.Second
	DefaultSilenceKVM = 30 * time.Second
)

// KVMWrapperEnv names a test-only seam: when the variable is set, every
// attempt under KVM runs "$PTVMLAB_QEMU_KVM_WRAPPER qemu-system-… ARGS…"
// instead of QEMU itself, and /dev/kvm is taken as present. The lab's e2e
// tests point it at a script that stands in for a half-working KVM (it
// boots under TCG with ptvmlab.fault=hang), so the fallback is tested on
// any machine.
const KVMWrapperEnv = "PTVMLAB_QEMU_KVM_WRAPPER"

// Verdict is what the probe found on one host, kept in the cache so that a
// machine is probed once.
type Verdict struct {
	// Key names the host: its kernel release, the QEMU version, /dev/kvm's
	// device numbers and the emulator (one verdict per guest arch).
	Key string `json:"key"`
	// KVM is true when a guest booted under KVM to its end.
	KVM bool `json:"kvm"`
	// Reason says why, in a few words: "kvm probe: no console output in 20s".
	Reason   string    `json:"reason"`
	Host     string    `json:"host"` // release, QEMU version, device: what Key hashes
	ProbedAt time.Time `json:"probed_at"`
	Kernel   string    `json:"kernel,omitempty"` // the kernel the probe booted
}

// Choice is the accelerator for one boot and why it was chosen.
type Choice struct {
	Accel string // "kvm" or "tcg"
	Why   string // "kvm probe: booted to its end in 1.1s", "asked for", …
	key   string // the verdict's key, when a probe decided
}

// Line is the one line that says what was chosen and why.
func (c Choice) Line() string { return fmt.Sprintf("accel: %s (%s)", c.Accel, c.Why) }

// hostFacts is what decides whether KVM works on this host for one
// emulator.
type hostFacts struct {
	Device  string // "10:232", "" when /dev/kvm cannot be used
	NoKVM   string // why /dev/kvm cannot be used, "" when it can
	Release string // uname -r
	QEMU    string // first line of qemu-system-… --version
	Wrapper string // the KVM wrapper and its digest, when the seam is set
}

func (h hostFacts) key(bin string) string {
	s := strings.Join([]string{"accel/1", bin, h.Release, h.QEMU, h.Device, h.Wrapper}, "\n")
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:24]
}

func (h hostFacts) String() string {
	s := fmt.Sprintf("host kernel %s, %s, /dev/kvm %s", h.Release, h.QEMU, h.Device)
	if h.Wrapper != "" {
		s += ", KVM wrapper " + h.Wrapper
	}
	return s
}

// qemuVersions memoises "qemu-system-… --version" per binary.
var qemuVersions sync.Map

func readHostFacts(ctx context.Context, bin string) hostFacts {
	var h hostFacts
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Release = unix.ByteSliceToString(u.Release[:])
	}
	if w := os.Getenv(KVMWrapperEnv); w != "" {
		b, err := os.ReadFile(w)
		if err != nil {
			h.NoKVM = fmt.Sprintf("%s=%s: %v", KVMWrapperEnv, w, err)
			return h
		}
		sum := sha256.Sum256(b)
		h.Wrapper = w + "@" + hex.EncodeToString(sum[:6])
		h.Device = "simulated"
		h.QEMU = qemuVersion(ctx, bin)
		return h
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/kvm", &st); err != nil {
		h.NoKVM = "no /dev/kvm"
		return h
	}
	h.Device = fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		h.NoKVM = "/dev/kvm does not open: " + err.Error()
		h.Device = ""
		return h
	}
	f.Close()
	// Only a usable /dev/kvm needs the version, which names its verdict:
	// a host without one is not made to run QEMU (about 0.1 s) for it.
	h.QEMU = qemuVersion(ctx, bin)
	return h
}

// qemuVersion is the first line of "bin --version", memoised per binary.
func qemuVersion(ctx context.Context, bin string) string {
	if v, ok := qemuVersions.Load(bin); ok {
		return v.(string)
	}
	out, err := proc.Command(ctx, bin, "--version").Output()
	if err != nil {
		return "unknown QEMU (" + err.Error() + ")"
	}
	v := proc.FirstLine(out)
	qemuVersions.Store(bin, v)
	return v
}

// verdicts memoises the verdicts of this process, by key; probes runs
// one probe per key at a time, however many cells boot at once.
var (
	verdicts sync.Map
	probes   singleflight.Group
)

// choose picks the accelerator for s under mode, probing KVM when the
// host has not been probed yet.
func (b *Backend) choose(ctx context.Context, s vm.Spec) (Choice, error) {
	mode := b.mode()
	if mode == vm.AccelTCG {
		c := Choice{Accel: "tcg", Why: "asked for"}
		b.say(s.Arch, c)
		return c, nil
	}
	bin, ok := binaries[s.Arch]
	if !ok {
		return Choice{}, fmt.Errorf("qemu: no emulator for arch %q: want x86_64 or i386", s.Arch)
	}
	if _, err := exec.LookPath(bin); err != nil {
		// Nothing to probe with; the boot itself says how to install it.
		return Choice{Accel: "tcg", Why: bin + " not found"}, nil
	}
	if len(s.Probe) == 0 {
		if mode == vm.AccelKVM {
			return Choice{}, &vm.AccelError{Why: "this guest has no probe boot to try KVM with"}
		}
		c := Choice{Accel: "tcg", Why: "this guest has no probe boot to try KVM with"}
		b.say(s.Arch, c)
		return c, nil
	}
	h := readHostFacts(ctx, bin)
	if h.NoKVM != "" {
		if mode == vm.AccelKVM {
			return Choice{}, &vm.AccelError{Why: h.NoKVM}
		}
		c := Choice{Accel: "tcg", Why: h.NoKVM}
		b.say(s.Arch, c)
		return c, nil
	}
	key := h.key(bin)
	v, err := b.verdict(ctx, key, h, s)
	if err != nil {
		return Choice{}, err
	}
	c, err := decide(mode, v)
	if err == nil {
		b.say(s.Arch, c)
	}
	return c, err
}

// say logs the choice's line the first time this backend makes it for an
// arch: one line a run says what was chosen and why.
func (b *Backend) say(arch string, c Choice) {
	if _, done := b.said.LoadOrStore(arch+"\x00"+c.Line(), true); !done {
		slog.Info(c.Line(), "arch", arch)
	}
}

// decide turns a KVM verdict into the choice for mode.
func decide(mode vm.AccelMode, v Verdict) (Choice, error) {
	switch {
	case v.KVM:
		return Choice{Accel: "kvm", Why: v.Reason, key: v.Key}, nil
	case mode == vm.AccelKVM:
		return Choice{}, &vm.AccelError{Why: v.Reason}
	default:
		return Choice{Accel: "tcg", Why: v.Reason, key: v.Key}, nil
	}
}

// verdict returns the KVM verdict for key: this process's, the cache's
// (checked before it is believed), or a new probe's.
func (b *Backend) verdict(ctx context.Context, key string, h hostFacts, s vm.Spec) (Verdict, error) {
	if v, ok := verdicts.Load(key); ok {
		return v.(Verdict), nil
	}
	ch := probes.DoChan(key, func() (any, error) {
		if v, ok := verdicts.Load(key); ok {
			return v.(Verdict), nil
		}
		if v, ok := b.loadVerdict(key); ok {
			verdicts.Store(key, v)
			slog.Debug("accel: verdict kept from "+v.ProbedAt.Format(time.DateTime), "arch", s.Arch, "host", v.Host)
			return v, nil
		}
		ok, why, err := b.probe(ctx, s, true)
		if err != nil {
			return Verdict{}, err
		}
		v := Verdict{Key: key, KVM: ok, Reason: "kvm probe: " + why, Host: h.String(),
			ProbedAt: time.Now().UTC().Truncate(time.Second), Kernel: s.Kernel}
		if !ok {
			// Blame KVM only if the same boot reaches its end under TCG:
			// a kernel or initramfs that cannot boot at all says nothing
			// about the host, and such a verdict is not kept.
			tcgOK, tcgWhy, err := b.probe(ctx, s, false)
			if err != nil {
				return Verdict{}, err
			}
			if !tcgOK {
				v.Reason += "; the same boot failed under TCG too (" + tcgWhy + "), so KVM is not blamed and nothing is kept"
				return v, nil
			}
		}
		verdicts.Store(key, v)
		b.storeVerdict(v)
		return v, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Verdict{}, r.Err
		}
		return r.Val.(Verdict), nil
	case <-ctx.Done():
		return Verdict{}, ctx.Err()
	}
}

func (b *Backend) verdictPath(key string) string {
	if b.Cache == "" {
		return ""
	}
	return b.Cache.Path("accel", key+".json")
}

// loadVerdict reads a kept verdict. One that does not parse, or whose key
// or reason is not what a probe writes, is removed and not believed.
func (b *Backend) loadVerdict(key string) (Verdict, bool) {
	p := b.verdictPath(key)
	if p == "" {
		return Verdict{}, false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return Verdict{}, false
	}
	var v Verdict
	if err := json.Unmarshal(data, &v); err != nil || v.Key != key || v.Reason == "" || v.ProbedAt.IsZero() {
		slog.Warn("accel: the kept KVM verdict is damaged; probing again", "file", p)
		_ = os.Remove(p)
		return Verdict{}, false
	}
	return v, true
}

// storeVerdict keeps v in the cache; a failure costs only a probe next time.
func (b *Backend) storeVerdict(v Verdict) {
	p := b.verdictPath(v.Key)
	if p == "" {
		return
	}
	data, _ := json.MarshalIndent(v, "", "  ")
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		err = cache.WriteFileAtomic(p, append(data, '\n'), 0o644)
	}
	if err != nil {
		slog.Warn("accel: could not keep the KVM verdict; the next run probes again", "err", err)
	}
}

// distrustKVM records that a boot under KVM went wrong where TCG did not:
// the rest of this process, and later runs on this host, use TCG.
func (b *Backend) distrustKVM(key, why string) {
	if key == "" {
		return
	}
	v := Verdict{Key: key, KVM: false, Reason: "a boot under KVM went wrong where TCG did not: " + why, ProbedAt: time.Now().UTC().Truncate(time.Second)}
	if old, ok := verdicts.Load(key); ok {
		v.Host, v.Kernel = old.(Verdict).Host, old.(Verdict).Kernel
	}
	verdicts.Store(key, v)
	b.storeVerdict(v)
	slog.Warn(Choice{Accel: "tcg", Why: v.Reason}.Line() + "; later boots use TCG")
}

// probe boots s's kernel under KVM (or, as a control, TCG) with an init
// that powers off at once, and says whether it reached that end within
// its deadline, and why not.
func (b *Backend) probe(ctx context.Context, s vm.Spec, kvm bool) (bool, string, error) {
	dir, doneDir, err := cache.ScratchDir("", "ptvmlab-accel-probe-")
	if err != nil {
		return false, "", &vm.InfraError{Op: "accel probe", Err: err}
	}
	defer doneDir()
	ps := s
	ps.Cmdline = append(append([]string(nil), s.Cmdline...), s.Probe...)
	ps.Timeout, ps.Silence, ps.Dir = ProbeDeadline, probeSilence, dir
	ps.Live = nil // the probe is not the boot the caller watches
	if !kvm {
		ps.Timeout *= 3 // TCG is slower; this is a control, not a race
	}
	slog.Info("accel: a short boot with a known end", "arch", s.Arch, "kvm", kvm, "deadline", ps.Timeout)
	out, err := b.boot(ctx, ps, kvm)
	if ctx.Err() != nil {
		return false, "", &vm.InfraError{Op: "accel probe", Err: ctx.Err()}
	}
	ok, why := judgeProbe(out, err)
	return ok, why, nil
}

// judgeProbe decides whether a probe boot reached its end, and says why in
// a few words.
func judgeProbe(out *vm.Output, err error) (bool, string) {
	switch {
	case err != nil:
		var ie *vm.InfraError
		if errors.As(err, &ie) {
			err = ie.Err
		}
		return false, "QEMU failed: " + proc.FirstLine([]byte(err.Error()))
	case out.Crashed != "":
		return false, "the kernel crashed: " + out.Crashed
	case bytes.Contains(out.Console, []byte(proto.MarkerProbe)) && !out.TimedOut:
		return true, fmt.Sprintf("booted to its end in %.1fs", out.Took.Seconds())
	case out.TimedOut && len(bytes.TrimSpace(out.Console)) == 0:
		d := out.Took
		if out.Silent > 0 {
			d = out.Silent
		}
		return false, fmt.Sprintf("no console output in %ds", secs(d))
	case out.Silent > 0:
		return false, fmt.Sprintf("silent for %ds after: %s", secs(out.Silent), orNone(out.LastLine))
	case out.TimedOut:
		return false, fmt.Sprintf("no end in %ds after: %s", secs(out.Took), orNone(out.LastLine))
	}
	why := "the machine ended before its init ran (a triple fault resets it)"
	if out.ExitErr != nil {
		why = "QEMU ended before the guest's init ran: " + proc.FirstLine([]byte(out.ExitErr.Error()))
	}
	if out.LastLine != "" {
		why += "; last console line: " + out.LastLine
	}
	return false, why
}

// wentWrong says why a boot under KVM is to be retried under TCG: it went
// silent, or QEMU or the kernel died before the guest opened its results
// channel. A guest that answered and then failed is a result, not KVM's
// fault, and stands.
func wentWrong(out *vm.Output, err error) (string, bool) {
	switch {
	case err != nil:
		return proc.FirstLine([]byte(err.Error())), true
	case out.Silent > 0:
		return fmt.Sprintf("silent for %ds after: %s", secs(out.Silent), orNone(out.LastLine)), true
	case out.Opened:
		return "", false
	case out.Crashed != "":
		return "the kernel crashed before the guest answered: " + out.Crashed, true
	case !out.TimedOut:
		return "the machine ended before the guest answered; last console line: " + orNone(out.LastLine), true
	}
	return "", false
}

func orNone(s string) string {
	if s == "" {
		return "(no console output)"
	}
	return s
}

func secs(d time.Duration) int { return int(d.Round(time.Second) / time.Second) }
