package suite

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
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

// runWatched runs cmd with its output collected, and sends t's progress
// lines while the child prints: what it last printed, every ProgressEvery
// at most. A child that goes silent sends none, so the host's silence
// watchdog still sees a hang.
func runWatched(t *T, label string, cmd *exec.Cmd) ([]byte, error) {
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(t.cfg.progress.interval())
		defer tick.Stop()
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n, last := out.state()
				if n > seen {
					seen = n
					if len(last) > 120 {
						last = last[:120]
					}
					t.Progressf("%s: %ds, last line: %s", label, int(time.Since(start).Seconds()), last)
				}
			}
		}
	}()
	err := cmd.Run()
	close(done)
	wg.Wait()
	return out.Bytes(), err
}
