package suite

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The second half of uml_escape's host-side oracle (the first is
// EscapeHostDir): UML runs each of its processes in a host process of its
// own that UML ptraces and that never has more than one thread, since UML
// switches its threads in and out of that one host thread. A traced
// process of UML's host with a second thread is one the host cloned for a
// UML process: the escape.
//
// It is a sample, and it can miss: against the unfixed 6.12 series (commit
// 98c49d2's patches) the escaped host thread made its mkdir and was gone
// with its host process before even a 100 µs poll saw it (UML ends the
// host process when its UML process dies, and here it died at once). The
// directory and the clone guard (cloneguard.go, which sees every clone
// through seccomp) are the oracles shown failing there; this sampler is
// what is left where seccomp cannot notify (2.6.29), and catches a host
// thread that lives on.

// threadWatch samples the host's traced processes until stopped and keeps
// the first one seen with more than one thread.
type threadWatch struct {
	stop, done chan struct{}
	found      string // "" until an offender is seen
	samples    int
}

// watchTracedThreads samples procRoot until Stop: every interval it
// counts the threads of the traced processes it knows, and every 25th
// time it lists /proc again for new ones. An escaped host thread may live
// only milliseconds (UML ends the host process when its UML process dies),
// so the frequent sample is the cheap one, a readdir of /proc/PID/task.
func watchTracedThreads(procRoot string, interval time.Duration) *threadWatch {
	w := &threadWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var traced []string
		sample := func(full bool) {
			w.samples++
			if full {
				var s string
				traced, s = tracedProcesses(procRoot)
				if s != "" && w.found == "" {
					w.found = s
				}
				return
			}
			for _, pid := range traced {
				if n := countTasks(procRoot, pid); n > 1 && w.found == "" {
					// Name it from its status, which still says it is traced.
					if s := describeIfTraced(procRoot, pid); s != "" {
						w.found = s
					}
				}
			}
		}
		for i := 0; ; i++ {
			sample(i%25 == 0)
			select {
			case <-w.stop:
				sample(true)
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// Stop ends the sampling (after one last full sample) and returns the
// first offender ("" for none) and how many samples were taken.
func (w *threadWatch) Stop() (found string, samples int) {
	close(w.stop)
	<-w.done
	return w.found, w.samples
}

// countTasks counts /proc/PID/task's entries: the process's threads (0
// when it is gone).
func countTasks(procRoot, pid string) int {
	ents, err := os.ReadDir(filepath.Join(procRoot, pid, "task"))
	if err != nil {
		return 0
	}
	return len(ents)
}

// describeIfTraced describes pid when it is traced and has more than one
// thread, or returns "".
func describeIfTraced(procRoot, pid string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, pid, "status"))
	if err != nil {
		return ""
	}
	if st := parseProcStatus(b); st.tracer != 0 && st.threads > 1 {
		return fmt.Sprintf("process %s (%s), traced by %d, had %d threads", pid, st.name, st.tracer, st.threads)
	}
	return ""
}

// tracedProcesses lists the traced processes under procRoot, and
// describes the first of them with more than one thread ("" for none).
func tracedProcesses(procRoot string) (traced []string, found string) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, ""
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "status"))
		if err != nil {
			continue // gone since the listing
		}
		st := parseProcStatus(b)
		if st.tracer == 0 {
			continue
		}
		traced = append(traced, e.Name())
		if st.threads > 1 && found == "" {
			found = fmt.Sprintf("process %s (%s), traced by %d, had %d threads", e.Name(), st.name, st.tracer, st.threads)
		}
	}
	return traced, found
}

// procStatus is what the oracle reads of /proc/PID/status.
type procStatus struct {
	name            string
	threads, tracer int
}

// parseProcStatus reads the Name, Threads and TracerPid lines of a
// /proc/PID/status; a line that is missing or unreadable leaves its
// field zero.
func parseProcStatus(b []byte) procStatus {
	var st procStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			st.name = v
		case "Threads":
			st.threads, _ = strconv.Atoi(v)
		case "TracerPid":
			st.tracer, _ = strconv.Atoi(v)
		}
	}
	return st
}
