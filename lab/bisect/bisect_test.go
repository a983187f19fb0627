package bisect

import "testing"

func TestFirstBad(t *testing.T) {
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		out, want string
		ok        bool
	}{
		{"Bisecting: 1 revision left\n" + sha + " is the first bad commit\ncommit " + sha + "\n", sha, true},
		{"There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n" + sha + "\n", "", false},
		{"", "", false},
	} {
		got, ok := FirstBad(tc.out)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FirstBad(%q) = %q, %v", tc.out, got, ok)
		}
	}
}
