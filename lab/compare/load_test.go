package compare

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	results := `{"boots": [{"cell": "6.12/auto/x86_64/default", "status": "passed", "tests": [{"name": "probe", "status": "pass"}]}]}`
	bench := `{"rows": [{"what": "SKIPCALL", "ns_per_call": 812, "ns_min": 790, "ns_max": 850}]}`
	for _, tc := range []struct {
		name      string
		files     map[string]string
		boots     int
		bench     bool
		wantError string
	}{
		{"a matrix run", map[string]string{"results.json": results}, 1, false, ""},
		{"a run with a bench", map[string]string{"results.json": results, "bench.json": bench}, 1, true, ""},
		{"a bench alone", map[string]string{"bench.json": bench}, 0, true, ""},
		{"nothing", nil, 0, false, "results.json: no such file"},
		{"not JSON", map[string]string{"results.json": "<html>"}, 0, false, "results.json: not a results.json of ptvmlab matrix"},
		{"no boots", map[string]string{"results.json": `{"boots": []}`}, 0, false, "results.json: holds no boots"},
		{"a broken bench", map[string]string{"results.json": results, "bench.json": "{"}, 0, false, "bench.json: not a bench.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := write(t, tc.files)
			s, err := Load(dir)
			if tc.wantError != "" {
				var le *LoadError
				if err == nil || !strings.Contains(err.Error(), tc.wantError) || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), dir) {
					t.Fatalf("error %v, want a *LoadError naming %s: %q", err, dir, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Label != dir || len(s.Run.Boots) != tc.boots || (s.Bench != nil) != tc.bench {
				t.Errorf("got label %q, %d boots, bench %v", s.Label, len(s.Run.Boots), s.Bench != nil)
			}
			if tc.bench && !s.Bench.Rows[0].HasSpread() {
				t.Errorf("the bench row lost its spread: %+v", s.Bench.Rows[0])
			}
		})
	}
}
