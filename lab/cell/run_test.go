package cell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/guesttests/proto"
	"github.com/ptvmlab/ptvmlab/lab/cache"
	"github.com/ptvmlab/ptvmlab/lab/kbuild"
	"github.com/ptvmlab/ptvmlab/lab/patch"
	"github.com/ptvmlab/ptvmlab/lab/source"
	"github.com/ptvmlab/ptvmlab/lab/vm"
)

// fakeBackend answers every boot with out (or err), counting the boots;
// block makes it wait for the context instead.
type fakeBackend struct {
	out   *vm.Output
	err   error
	block bool
	boots int
	// entered, when set, is called as a boot starts.
	entered func()
}

func (f *fakeBackend) Boot(ctx context.Context, s vm.Spec) (*vm.Output, error) {
	f.boots++
	if f.entered != nil {
		f.entered()
	}
	if f.block {
		<-ctx.Done()
		return nil, &vm.InfraError{Op: "boot", Err: ctx.Err()}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(s.Dir, "console.log"), []byte("console"), 0o644)
	os.WriteFile(filepath.Join(s.Dir, "results.raw"), f.out.Results, 0o644)
	return f.out, f.err
}

// fakeCell is a cell with a prebuilt kernel (bisect's kind) on a small
// tree without selftests, so that only the guest's initramfs is built.
func fakeCell(t *testing.T) (Env, Cell) {
	t.Helper()
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "Makefile"), []byte("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n"), 0o644)
	img := filepath.Join(t.TempDir(), "bzImage")
	cfg := filepath.Join(filepath.Dir(img), ".config")
	os.WriteFile(img, []byte("image"), 0o644)
	os.WriteFile(cfg, []byte("CONFIG_VIRTIO_CONSOLE=y\n"), 0o644)
	env := Env{Cache: cache.Dir(t.TempDir()), ModuleDir: "../.."}
	c := Cell{Tree: source.Tree{Dir: tree, Version: "6.12.0", Digest: "sha256:fake"}, Series: &patch.Series{}, SeriesName: "fake",
		Arch: "x86_64", Expect: "skipcall", Timeout: time.Minute, NoUML: true, Out: filepath.Join(t.TempDir(), "x86_64"),
		Kernel: &kbuild.Result{Key: "0123456789abcdef", Image: img, Config: cfg, Cached: true}}
	return env, c
}

const passingKTAP = "KTAP version 1\n1..2\nok 1 probe # level=skipcall\nok 2 baseline\n"

// TestRunStatusAndReuse: the backend's output decides the record; a
// second run of the same inputs with Reuse boots nothing and returns the
// kept record; an infrastructure error is the infra status.
func TestRunStatusAndReuse(t *testing.T) {
	env, c := fakeCell(t)
	fb := &fakeBackend{out: &vm.Output{Opened: true, Results: []byte(passingKTAP), Took: time.Second}}
	env.Backend = fb
	c.Reuse = true
	ctx := context.Background()
	rec, err := Run(ctx, env, c)
	if err != nil || rec.Status != "passed" || rec.Probe != "skipcall" || fb.boots != 1 {
		t.Fatalf("first run: %+v, %v (%d boots)", rec, err, fb.boots)
	}
	again, err := Run(ctx, env, c)
	if err != nil || again.Status != "passed" || !again.Reused || fb.boots != 1 {
		t.Errorf("second run: status %s reused %v err %v, %d boots; want the kept record and no boot", again.Status, again.Reused, err, fb.boots)
	}

	c.Reuse = false
	fb.out = &vm.Output{Opened: true, Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=none\nnot ok 2 baseline\n")}
	if rec, _ := Run(ctx, env, c); rec.Status != "failed" {
		t.Errorf("a failing result: status %s, want failed", rec.Status)
	}
	fb.out, fb.err = &vm.Output{}, &vm.InfraError{Op: "qemu", Err: errors.New("no such file")}
	if rec, _ := Run(ctx, env, c); rec.Status != "infra" {
		t.Errorf("an infrastructure error: status %s, want infra", rec.Status)
	}
}

// TestRunInterrupted: a cancel during the boot returns the context's
// error, for the command to mark the record interrupted.
func TestRunInterrupted(t *testing.T) {
	env, c := fakeCell(t)
	ctx, cancel := context.WithCancel(context.Background())
	env.Backend = &fakeBackend{block: true, entered: cancel}
	_, err := Run(ctx, env, c)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled boot: %v, want context.Canceled", err)
	}
	// A cancel before the boot (during the initramfs build, say) says so too.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	env.Cache = cache.Dir(t.TempDir())
	if _, err := Run(ctx, env, c); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancel before the boot: %v, want context.Canceled", err)
	}
}

// TestPrepare: a plan resolves the cell once into the boot's spec: the
// guest's arguments come from proto.Args (the backend adds none), the
// channel and the probe boot are in the spec, and the key changes with
// what changes the boot.
func TestPrepare(t *testing.T) {
	env, c := fakeCell(t)
	c.Cmdline = []string{"ptvmlab.fault=hang"}
	c.UMLBoots = "nosysptvm"
	p, err := Prepare(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ptvmlab.channel=port", "ptvmlab.expect=skipcall", "ptvmlab.uml=off", "ptvmlab.fault=hang"}
	if !slices.Equal(p.Spec.Cmdline, want) || !slices.Equal(p.Record.Cmdline, want) {
		t.Errorf("cmdline %q (record %q), want %q", p.Spec.Cmdline, p.Record.Cmdline, want)
	}
	if p.Spec.Channel != proto.ChannelPort || !slices.Equal(p.Spec.Probe, []string{"ptvmlab.probe=accel"}) {
		t.Errorf("spec channel %q probe %q", p.Spec.Channel, p.Spec.Probe)
	}
	if p.Arch.Name != "x86_64" || p.Era.ResultsVia != proto.ChannelPort || p.Kernel.Image != c.Kernel.Image || p.Spec.Initrd == "" {
		t.Errorf("plan %+v", p)
	}
	c2 := c
	c2.Cmdline = nil
	p2, err := Prepare(context.Background(), env, c2)
	if err != nil || p2.Key == p.Key {
		t.Errorf("another command line kept the key %s (%v)", p.Key, err)
	}
}

// TestPrepareGivenImage: a kernel image from elsewhere (ptvmlab boot) is a
// plan with no tree: its version picks the era's channel (hvc before
// 2.6.35), there is no UML (the guest is told), and the image's digest
// names the kernel.
func TestPrepareGivenImage(t *testing.T) {
	env, c := fakeCell(t)
	c.Tree = source.Tree{Spec: source.Spec{Raw: c.Kernel.Image}, Version: "2.6.29"}
	c.Series, c.NoUML, c.Expect = nil, false, ""
	c.Kernel = &kbuild.Result{Image: c.Kernel.Image}
	p, err := Prepare(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Channel != proto.ChannelHVC || !slices.Contains(p.Spec.Cmdline, "ptvmlab.uml=off") {
		t.Errorf("spec %+v", p.Spec)
	}
	if p.Kernel.Key == "" || p.Record.Build.Key != p.Kernel.Key || p.Record.Digests.Image == "" {
		t.Errorf("kernel %+v, record build %+v", p.Kernel, p.Record.Build)
	}
	// A series needs a tree to go on.
	c.Series = &patch.Series{}
	if _, err := Prepare(context.Background(), env, c); err == nil || !strings.Contains(err.Error(), "no source tree") {
		t.Errorf("a series without a tree: %v", err)
	}
}

// TestPrepareDoesNotWaitForBuilds: a cell with nothing to build prepares
// while another cell holds the build turn (a kernel compiling): its boot
// need not wait for that make.
func TestPrepareDoesNotWaitForBuilds(t *testing.T) {
	env, c := fakeCell(t)
	var builds sync.Mutex
	env.Builds = &builds
	builds.Lock() // another cell's make
	defer builds.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := Prepare(context.Background(), env, c)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute): // the initramfs builds, cold
		t.Fatal("Prepare waited for another cell's build")
	}
}

// TestFreshBootIsKept: a boot that reuses nothing but keeps its record
// (matrix --fresh) replaces the older record, and a later run reuses it.
func TestFreshBootIsKept(t *testing.T) {
	env, c := fakeCell(t)
	failing := &vm.Output{Opened: true, Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=skipcall\nnot ok 2 baseline\n")}
	fb := &fakeBackend{out: failing}
	env.Backend = fb
	ctx := context.Background()
	c.Reuse = true
	if rec, _ := Run(ctx, env, c); rec.Status != "failed" {
		t.Fatalf("first run: %s", rec.Status)
	}
	fb.out = &vm.Output{Opened: true, Results: []byte(passingKTAP)}
	fresh := c
	fresh.Reuse, fresh.Keep, fresh.Forget = false, true, true
	if rec, _ := Run(ctx, env, fresh); rec.Status != "passed" || fb.boots != 2 {
		t.Fatalf("fresh run: %s, %d boots", rec.Status, fb.boots)
	}
	again, err := Run(ctx, env, c)
	if err != nil || !again.Reused || again.Status != "passed" || fb.boots != 2 {
		t.Errorf("run after --fresh: status %s reused %v (%v), %d boots; want the fresh boot's record", again.Status, again.Reused, err, fb.boots)
	}
}
