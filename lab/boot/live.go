package boot

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/ptvmlab/ptvmlab/lab/ktap"
)

// Tracker is what a live view of a boot is told; *progress.Task is one.
type Tracker interface {
	SetTotal(n int) // the guest's plan
	Set(n int)      // the top-level results that came
	Now(text string)
}

// maxLive bounds the stream Follow keeps to parse; past it, only the
// progress lines still move the view (the verdict reads the whole stream
// from vm.Output, not from here).
const maxLive = 4 << 20

// Follow returns a writer for vm.Spec.Live that reads the guest's KTAP
// as it comes and tells t the plan, how many top-level results came, and
// what runs now: the text of the last progress line, or the last result
// ("syscall_skip: pass"). A new top-level header (a retried boot sends its
// stream again) starts the count over. It never fails a write.
func Follow(t Tracker) io.Writer { return &follower{t: t} }

type follower struct {
	t       Tracker
	mu      sync.Mutex
	partial []byte // a line not ended yet
	stream  []byte // the KTAP so far, for ktap.Parse
}

func (f *follower) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexAny(f.partial, "\n\x00")
		if i < 0 {
			break
		}
		f.line(string(f.partial[:i]))
		f.partial = f.partial[i+1:]
	}
	if len(f.partial) > 64<<10 {
		f.partial = f.partial[:0] // no line is this long: garbage
	}
	return len(p), nil
}

// line takes one line of the stream.
func (f *follower) line(raw string) {
	raw = strings.TrimRight(raw, "\r")
	line := strings.TrimSpace(raw)
	top := line != "" && len(raw) == len(strings.TrimLeft(raw, " \t"))
	if strings.HasPrefix(line, ktap.ProgressPrefix) {
		f.t.Now(strings.TrimSpace(strings.TrimPrefix(line, ktap.ProgressPrefix)))
		return
	}
	if top && (strings.HasPrefix(line, "KTAP version ") || strings.HasPrefix(line, "TAP version ")) {
		f.stream = f.stream[:0]
		f.t.SetTotal(0)
		f.t.Set(0)
		f.t.Now("")
	}
	if len(f.stream)+len(raw) >= maxLive {
		return
	}
	f.stream = append(append(f.stream, raw...), '\n')
	// Only a top-level plan or result changes what the view shows: parse
	// then, not on every diagnostic.
	if !top || !(strings.HasPrefix(line, "1..") || strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "not ok ")) {
		return
	}
	rep := ktap.Parse(bytes.NewReader(f.stream))
	f.t.SetTotal(max(rep.Plan, 0))
	f.t.Set(len(rep.Results))
	if n := len(rep.Results); n > 0 && !strings.HasPrefix(line, "1..") {
		last := rep.Results[n-1]
		f.t.Now(last.Name + ": " + string(last.Status))
	}
}
