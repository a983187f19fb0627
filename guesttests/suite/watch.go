package suite

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// lockedBuffer is a bytes.Buffer that a child writes while the watcher
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// state returns the buffer's length and its last non-empty line.
func (b *lockedBuffer) state() (int, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\r\n "), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return b.buf.Len(), l
		}
	}
	return b.buf.Len(), ""
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// ChildSilence is how long a watched child may print nothing before it is
// killed: less than the host's silence watchdog (60s under TCG), so that a
// hung child fails its test, with its output, instead of taking the whole
// guest down with it.
const ChildSilence = 40 * time.Second

// childSilence is ChildSilence; the unit tests shorten it.
var childSilence = ChildSilence

// runWatched runs cmd with its output collected, and sends t's progress
// lines while the child prints: what it last printed, every ProgressEvery
// at most. A child that goes silent sends none; one silent for
// ChildSilence is killed (cmd.Cancel, or SIGKILL) and its error says so.
func runWatched(t *T, label string, cmd *exec.Cmd) ([]byte, error) {
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	done := make(chan struct{})
	var silenced atomic.Bool
	var wg sync.WaitGroup
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(t.cfg.progress.interval())
		defer tick.Stop()
		seen, moved := 0, time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n, last := out.state()
				if n == seen && time.Since(moved) >= childSilence && !silenced.Load() {
					silenced.Store(true)
					if cmd.Cancel != nil {
						_ = cmd.Cancel()
					} else {
						_ = cmd.Process.Kill()
					}
				}
				if n > seen {
					seen, moved = n, time.Now()
					if len(last) > 120 {
						last = last[:120]
					}
					t.Progressf("%s: %ds, last line: %s", label, int(time.Since(start).Seconds()), last)
				}
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	wg.Wait()
	if silenced.Load() {
		err = fmt.Errorf("%s printed nothing for %s and was killed: %v", label, childSilence, err)
	}
	return out.Bytes(), err
}
