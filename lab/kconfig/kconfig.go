// Package kconfig reads the small config fragments in kconfigs/, merges them
// onto a base .config and checks that every symbol a fragment asked for
// survived olddefconfig, explaining each one that did not.
package kconfig

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Setting is one CONFIG_ assignment from a fragment or a .config.
// Value is "n" for "# CONFIG_X is not set".
type Setting struct {
	Symbol string // without the CONFIG_ prefix
	Value  string
	Where  string // fragment:line, for messages
}

// Line renders s as a .config line.
func (s Setting) Line() string {
	if s.Value == "n" {
		return "# CONFIG_" + s.Symbol + " is not set"
	}
	return "CONFIG_" + s.Symbol + "=" + s.Value
}

// Fragment is a named list of settings, e.g. kconfigs/common.config.
type Fragment struct {
	Name     string
	Settings []Setting
}

var (
	setRe   = regexp.MustCompile(`^CONFIG_([A-Za-z0-9_]+)=(.*)$`)
	unsetRe = regexp.MustCompile(`^# CONFIG_([A-Za-z0-9_]+) is not set$`)
)

// Parse reads .config-syntax text: assignments, "is not set" lines, comments
// and blank lines. Any other line is an error naming it.
func Parse(name string, r io.Reader) (Fragment, error) {
	f := Fragment{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		where := fmt.Sprintf("%s:%d", name, n)
		if m := setRe.FindStringSubmatch(line); m != nil {
			f.Settings = append(f.Settings, Setting{Symbol: m[1], Value: m[2], Where: where})
			continue
		}
		if m := unsetRe.FindStringSubmatch(line); m != nil {
			f.Settings = append(f.Settings, Setting{Symbol: m[1], Value: "n", Where: where})
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return f, fmt.Errorf("%s: not a config line: %q (want CONFIG_X=value or # CONFIG_X is not set)", where, line)
	}
	return f, sc.Err()
}

// Load reads the fragments dir/NAME.config for each name, in order.
func Load(dir string, names ...string) ([]Fragment, error) {
	var out []Fragment
	for _, n := range names {
		f, err := LoadFile(n, filepath.Join(dir, n+".config"))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// LoadFile reads the fragment at path and calls it name in messages.
func LoadFile(name, path string) (Fragment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fragment{}, fmt.Errorf("config fragment %s: %w", name, err)
	}
	return Parse(name, bytes.NewReader(b))
}

// Text renders fragments as the lines to append to a base .config. A later
// fragment's setting overrides an earlier one, as merge_config.sh does.
func Text(frags []Fragment) string {
	var b strings.Builder
	for _, f := range frags {
		fmt.Fprintf(&b, "# ptvmlab fragment %s\n", f.Name)
		for _, s := range f.Settings {
			b.WriteString(s.Line() + "\n")
		}
	}
	return b.String()
}

// Requested returns the effective request of a list of fragments: the last
// setting of each symbol wins.
func Requested(frags []Fragment) []Setting {
	last := map[string]Setting{}
	var order []string
	for _, f := range frags {
		for _, s := range f.Settings {
			if _, seen := last[s.Symbol]; !seen {
				order = append(order, s.Symbol)
			}
			last[s.Symbol] = s
		}
	}
	out := make([]Setting, 0, len(order))
	for _, sym := range order {
		out = append(out, last[sym])
	}
	return out
}

// Config is a final .config as symbol → value ("n" for unset symbols).
type Config map[string]string

// ParseConfig reads a .config.
func ParseConfig(r io.Reader) (Config, error) {
	f, err := Parse(".config", r)
	if err != nil {
		return nil, err
	}
	c := Config{}
	for _, s := range f.Settings {
		c[s.Symbol] = s.Value
	}
	return c, nil
}

// Value returns sym's value, "n" when the .config does not mention it.
func (c Config) Value(sym string) string {
	if v, ok := c[sym]; ok {
		return v
	}
	return "n"
}

// Dropped is a requested setting that the final .config does not have.
type Dropped struct {
	Want Setting
	Got  string
	Why  string // filled by Explain
}

func (d Dropped) String() string {
	s := fmt.Sprintf("CONFIG_%s=%s (from %s) ended as %s", d.Want.Symbol, d.Want.Value, d.Want.Where, d.Got)
	if d.Why != "" {
		s += ": " + d.Why
	}
	return s
}

// Verify lists every requested setting whose final value differs.
func Verify(final Config, want []Setting) []Dropped {
	var out []Dropped
	for _, s := range want {
		if got := final.Value(s.Symbol); got != s.Value {
			out = append(out, Dropped{Want: s, Got: got})
		}
	}
	return out
}

// DroppedError reports the settings olddefconfig dropped.
type DroppedError struct {
	Arch    string
	Dropped []Dropped
}

func (e *DroppedError) Error() string {
	var parts []string
	for _, d := range e.Dropped {
		parts = append(parts, d.String())
	}
	return fmt.Sprintf("%s .config: %d requested symbol(s) dropped; fix the fragment or add the missing dependency: %s",
		e.Arch, len(e.Dropped), strings.Join(parts, "; "))
}

var identRe = regexp.MustCompile(`\b[A-Z][A-Z0-9_]+\b`)

// Explain fills each Dropped's Why from the Kconfig files of tree: the
// symbol's "depends on" expressions and which of their symbols are off, or
// that the tree has no such symbol at all.
func Explain(tree string, final Config, ds []Dropped) {
	defs := map[string]bool{}
	deps := map[string][]string{}
	want := map[string]bool{}
	for _, d := range ds {
		want[d.Want.Symbol] = true
	}
	_ = filepath.WalkDir(tree, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if de.IsDir() {
			if n := de.Name(); n == ".git" || n == "Documentation" || n == "tools" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(de.Name(), "Kconfig") {
			return nil
		}
		scanKconfig(p, want, defs, deps)
		return nil
	})
	for i := range ds {
		sym := ds[i].Want.Symbol
		switch {
		case !defs[sym]:
			ds[i].Why = "no such symbol in this kernel tree"
		case len(deps[sym]) == 0:
			ds[i].Why = "not user-selectable here (no prompt, or chosen by another symbol)"
		default:
			var off []string
			seen := map[string]bool{}
			for _, e := range deps[sym] {
				for _, id := range identRe.FindAllString(e, -1) {
					if !seen[id] && (id != "y" && id != "m") && final.Value(id) == "n" {
						seen[id] = true
						off = append(off, id+"=n")
					}
				}
			}
			sort.Strings(off)
			why := "depends on " + strings.Join(deps[sym], " && ")
			if len(off) > 0 {
				why += " (unmet: " + strings.Join(off, ", ") + ")"
			}
			ds[i].Why = why
		}
	}
}

func scanKconfig(path string, want, defs map[string]bool, deps map[string][]string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	cur := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if sym, ok := strings.CutPrefix(line, "config "); ok {
			cur = symIf(strings.TrimSpace(sym), want, defs)
			continue
		}
		if sym, ok := strings.CutPrefix(line, "menuconfig "); ok {
			cur = symIf(strings.TrimSpace(sym), want, defs)
			continue
		}
		if cur == "" {
			continue
		}
		if e, ok := strings.CutPrefix(line, "depends on "); ok {
			deps[cur] = append(deps[cur], strings.TrimSpace(e))
		} else if strings.HasPrefix(line, "endmenu") || strings.HasPrefix(line, "endif") ||
			strings.HasPrefix(line, "choice") || strings.HasPrefix(line, "menu ") || strings.HasPrefix(line, "source ") {
			cur = ""
		}
	}
}

func symIf(sym string, want, defs map[string]bool) string {
	if want[sym] {
		defs[sym] = true
		return sym
	}
	return ""
}
