package kbuild

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/progress"
	"github.com/ptvmlab/ptvmlab/lab/source"
)

// lockedBuffer is a bytes.Buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestHeartbeatWhileMakeIsSilent: make prints a few objects, then nothing
// (a long link): the build's progress still beats, on its ticker, with
// the objects counted so far; the log gets every line.
func TestHeartbeatWhileMakeIsSilent(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	r := progress.New(progress.Opts{Out: &out, Every: 20 * time.Millisecond})
	var log bytes.Buffer
	objects := 0
	m := maker{arch: Arch{Name: "x86_64"}, log: &log, task: r.Build("x86_64", 10), objects: &objects}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); m.copyOutput(pr) }()
	fmt.Fprint(pw, "  CC      kernel/fork.o\n  HOSTCC  scripts/kallsyms\n  AS      arch/x86/entry/entry_64.o\n  LD      vmlinux.o\n")

	const want = "building x86_64: 2/~10 objects, "
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(out.String(), want) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	pw.Close()
	<-done
	m.task.Done(nil)
	if n := strings.Count(out.String(), want); n < 2 {
		t.Errorf("%d heartbeats %q while make was silent, want 2 or more:\n%s", n, want, out.String())
	}
	if objects != 2 || strings.Count(log.String(), "\n") != 4 {
		t.Errorf("%d objects and log %q, want 2 and every line", objects, log.String())
	}
}

func TestIsObjectLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want bool
	}{
		{"  CC      kernel/fork.o", true},
		{"  CC [M]  fs/ext4/inode.o", true},
		{"  AS      arch/x86/entry/entry_64.o", true},
		{"  HOSTCC  scripts/basic/fixdep", false},
		{"  LD      vmlinux.o", false},
		{"  AR      built-in.a", false},
		{"kernel/fork.c:1: warning: CC", false},
	}
	for _, tt := range tests {
		if got := IsObjectLine(tt.line); got != tt.want {
			t.Errorf("IsObjectLine(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

// TestFamily: builds of one era, arch and patched-or-not share their
// estimate; another of any of the three does not.
func TestFamily(t *testing.T) {
	t.Parallel()
	x86, _ := LookupArch("x86_64")
	i386, _ := LookupArch("i386")
	req := func(version string, a Arch, patched bool) Request {
		r := Request{Tree: source.Tree{Version: version}, Arch: a}
		if patched {
			r.Patches = []Patch{{Name: "0001-x.patch", Digest: "sha256:1"}}
		}
		return r
	}
	tests := []struct {
		req  Request
		want string
	}{
		{req("6.12.57", x86, true), "kbuild-6.12-x86_64-patched"},
		{req("6.12.117", x86, true), "kbuild-6.12-x86_64-patched"},
		{req("6.12.57", x86, false), "kbuild-6.12-x86_64-unpatched"},
		{req("6.12.57", i386, true), "kbuild-6.12-i386-patched"},
		{req("2.6.29", i386, true), "kbuild-2.6.29-i386-patched"},
		{req("not a version", x86, true), ""},
	}
	for _, tt := range tests {
		if got := Family(tt.req); got != tt.want {
			t.Errorf("Family(%s, %s, %d patches) = %q, want %q", tt.req.Tree.Version, tt.req.Arch.Name, len(tt.req.Patches), got, tt.want)
		}
	}
}
