package boot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ptvmlab/ptvmlab/lab/vm"
)

const goodKTAP = "KTAP version 1\n1..2\n# probe: SKIPEXIT ignored\nok 1 probe # level=none\nok 2 baseline\n"

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		out    *vm.Output
		err    error
		status Status
		title  string
		probe  string
	}{
		{"passed", &vm.Output{Results: []byte(goodKTAP), Opened: true}, nil, Passed, "2 tests passed", "none"},
		{"passed with a skip", &vm.Output{Results: []byte(goodKTAP + "ok 3 uml # SKIP UML rides in x86_64 guests only\n"), Opened: true}, nil,
			Failed, "results are not a complete KTAP report (3 results, plan 2", "none"},
		{"skips counted", &vm.Output{Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=none\nok 2 uml # SKIP no\n"), Opened: true}, nil,
			Passed, "1 tests passed, 1 skipped", "none"},
		{"failed test", &vm.Output{Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=none\nnot ok 2 baseline\n"), Opened: true}, nil,
			Failed, "failed: baseline", "none"},
		{"garbage", &vm.Output{Results: []byte("\xff\xfe\x00garbage\x01\n"), Opened: true}, nil,
			Failed, "results are not a complete KTAP report", ""},
		{"truncated", &vm.Output{Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=skipcall\n"), Opened: true}, nil,
			Failed, "results are not a complete KTAP report (1 results, plan 2", "skipcall"},
		{"panic wins over results", &vm.Output{Results: []byte(goodKTAP), Opened: true, Crashed: "Kernel panic - not syncing: x"}, nil,
			Panic, "Kernel panic - not syncing: x", "none"},
		{"timeout", &vm.Output{TimedOut: true, Took: 20 * time.Second}, nil, Timeout, "no end after 20s", ""},
		{"silent", &vm.Output{TimedOut: true, Took: 75 * time.Second, Silent: 60 * time.Second, LastLine: "x86/fpu: Supporting XSAVE feature 0x080"}, nil,
			Timeout, "silent for 60s after: x86/fpu: Supporting XSAVE feature 0x080", ""},
		{"silent from the start", &vm.Output{TimedOut: true, Took: 60 * time.Second, Silent: 60 * time.Second}, nil,
			Timeout, "silent for 60s after: (no console output)", ""},
		{"silent after some results", &vm.Output{TimedOut: true, Silent: 60 * time.Second, LastLine: "x", Opened: true,
			Results: []byte("KTAP version 1\n1..2\nok 1 probe # level=none\n")}, nil, Timeout, "silent for 60s after: x (1 of 2 results came)", "none"},
		{"never opened", &vm.Output{}, nil, Infra, "results channel never opened", ""},
		{"backend error", nil, &vm.InfraError{Op: "start qemu", Err: errors.New("no such file")}, Infra, "infrastructure: start qemu", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Classify(tc.out, tc.err)
			if o.Status != tc.status || !strings.HasPrefix(o.Title, tc.title) || string(o.Probe) != tc.probe {
				t.Errorf("Classify = %s %q probe %q; want %s %q probe %q", o.Status, o.Title, o.Probe, tc.status, tc.title, tc.probe)
			}
		})
	}
}
