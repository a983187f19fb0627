package proto

import (
	"reflect"
	"strings"
	"testing"
)

func TestArgsRoundTrip(t *testing.T) {
	for _, a := range []Args{
		{},
		{Channel: ChannelHVC, Expect: LevelSkipCall},
		{Channel: ChannelConsole, Halt: HaltPowerOff, Expect: LevelNone, Tests: []string{"probe", "skipcall"}},
		{UML: UMLUnreliable, UMLBoots: []string{"nosysptvm"}, Bench: true},
		{Probe: true},
		{Fault: FaultHang, Channel: ChannelSerial},
		{UMLLogLevel: "7"},
	} {
		words := a.Cmdline()
		got, err := ParseArgs(append([]string{"console=ttyS0", "panic=-1"}, words...))
		if err != nil {
			t.Errorf("ParseArgs(%q): %v", words, err)
			continue
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("round trip of %q: got %+v, want %+v", words, got, a)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    Args
		err     string // a substring of the error; "" for none
	}{
		{"console=ttyS0 quiet", Args{}, ""},
		{"ptvmlab.channel=port ptvmlab.channel=hvc", Args{Channel: ChannelHVC}, ""}, // the last wins: a user's --append
		{"ptvmlab.tests=a,,b,", Args{Tests: []string{"a", "b"}}, ""},
		{"ptvmlab.bench=0 ptvmlab.probe=other", Args{}, ""},
		{"ptvmlab.expect=maybe ptvmlab.tests=x", Args{Tests: []string{"x"}}, `"maybe" is not known`},
		{"ptvmlab.channel=usb", Args{}, `results channel "usb"`},
		{"ptvmlab.unknown=1 ptvmlabchannel=hvc", Args{}, ""},
	} {
		got, err := ParseArgs(strings.Fields(tc.cmdline))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseArgs(%q): %v", tc.cmdline, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseArgs(%q) error = %v, want one with %q", tc.cmdline, err, tc.err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseArgs(%q) = %+v, want %+v", tc.cmdline, got, tc.want)
		}
	}
}

func TestParseLevelAndChannel(t *testing.T) {
	for _, s := range []string{"none", "skipexit", "skipcall"} {
		if l, err := ParseLevel(s); err != nil || string(l) != s {
			t.Errorf("ParseLevel(%q) = %q, %v", s, l, err)
		}
	}
	for _, s := range []string{"", "SKIPCALL", "all"} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("ParseLevel(%q) took it", s)
		}
	}
	for _, s := range []string{"port", "hvc", "serial", "console"} {
		if c, err := ParseChannel(s); err != nil || string(c) != s {
			t.Errorf("ParseChannel(%q) = %q, %v", s, c, err)
		}
	}
	if _, err := ParseChannel("ttyS1"); err == nil {
		t.Error("ParseChannel(ttyS1) took it")
	}
}

// FuzzParseArgs: whatever the command line, ParseArgs does not panic, and
// what it read writes back to words it reads the same way.
func FuzzParseArgs(f *testing.F) {
	f.Add("console=ttyS0 ptvmlab.channel=port ptvmlab.expect=skipcall ptvmlab.tests=a,b")
	f.Add("ptvmlab.umlboots=,, ptvmlab.probe=accel ptvmlab.fault=hang")
	f.Add("ptvmlab.expect= ptvmlab.channel=x=y")
	f.Fuzz(func(t *testing.T, cmdline string) {
		a, _ := ParseArgs(strings.Fields(cmdline))
		for _, w := range a.Cmdline() {
			if strings.ContainsAny(w, " \t\n") {
				return // a value with blanks cannot be one word: nothing to check
			}
		}
		b, err := ParseArgs(a.Cmdline())
		if err != nil {
			t.Fatalf("ParseArgs(%q) took it, but its own Cmdline %q fails: %v", cmdline, a.Cmdline(), err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: read %+v, wrote %q, read back %+v", cmdline, a, a.Cmdline(), b)
		}
	})
}
