package progress

import (
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// barWidth is the width of a task's bar, brackets included: the counts,
// the time and the running test get the rest of the line.
const barWidth = 32

// addBar draws t as a bar, starting the container when it is the only
// task.
func (r *Reporter) addBar(t *Task) {
	r.mu.Lock()
	if r.bars == nil {
		r.bars = mpb.New(mpb.WithOutput(r.out), mpb.ForceTTY(), mpb.WithAutoRefresh())
	}
	r.active++
	t.bar = r.bars.New(0, mpb.BarStyle(), mpb.BarWidth(barWidth),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return t.verb + " " + t.name }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return t.tail() })))
	r.mu.Unlock()
	// A total of zero at the start keeps mpb from ending the bar when the
	// count reaches an estimate: only Done ends it.
	t.draw(0, t.total)
}

// draw moves t's bar. A count past the estimate grows the bar's total: the
// bar stays full until Done.
func (t *Task) draw(count, total int) {
	if t.bar == nil {
		return
	}
	t.bar.SetTotal(int64(max(total, count)), false)
	t.bar.SetCurrent(int64(count))
}

// endBar leaves t's bar at its end, full or aborted, and, when t was the
// last task drawn, waits for the last redraw and closes the container:
// a command needs no Close of its own, and what it prints next (its
// results, its exit message) comes below the bars.
func (r *Reporter) endBar(t *Task, err error) {
	if err == nil {
		t.bar.SetTotal(-1, true)
	} else {
		t.bar.Abort(false)
	}
	t.bar.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active--
	if r.active == 0 {
		r.bars.Wait()
		r.bars = nil
	}
}

// tail is what a bar shows after itself: the counts, the running test and
// the time; once ended, how it ended.
func (t *Task) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return t.state() + ", " + t.counts() + ", " + Elapsed(t.end.Sub(t.start))
	}
	s := t.counts() + ", " + Elapsed(t.r.clock.Now().Sub(t.start))
	if t.now != "" {
		s += ", now " + t.now
	}
	return s
}
