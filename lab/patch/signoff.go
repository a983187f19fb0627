package patch

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"unicode"

	"github.com/ptvmlab/ptvmlab/lab/proc"
)

// Identity is who posts a series: the From of its mails and the
// Signed-off-by (the Developer's Certificate of Origin) of its patches.
type Identity struct {
	Name  string
	Email string
}

// String is "Name <email>", as a From: or Signed-off-by: line holds it.
func (id Identity) String() string { return id.Name + " <" + id.Email + ">" }

// IsZero reports whether id names nobody.
func (id Identity) IsZero() bool { return id == Identity{} }

// ParseIdentity reads "Name <email>", as git format-patch -s and b4 write
// it. It refuses a missing name, a missing or malformed address, and
// anything after the closing ">".
func ParseIdentity(s string) (Identity, error) {
	t := strings.TrimSpace(s)
	name, rest, ok := strings.Cut(t, "<")
	if !ok || !strings.HasSuffix(rest, ">") {
		return Identity{}, fmt.Errorf("%q is not \"Name <name@domain>\"", s)
	}
	id, err := NewIdentity(name, strings.TrimSuffix(rest, ">"))
	if err != nil {
		return Identity{}, fmt.Errorf("%q: %w", s, err)
	}
	return id, nil
}

// NewIdentity checks a name and an address (git config's user.name and
// user.email) and makes them an Identity. Only malformed values are
// refused: a name that is empty or holds '<', '>' or a control character,
// an address without exactly one '@', with an empty side, or with spaces,
// brackets or quotes. Whether the address is real is the poster's
// business.
func NewIdentity(name, email string) (Identity, error) {
	name = strings.TrimSpace(name)
	if len(name) >= 2 && strings.HasPrefix(name, `"`) && strings.HasSuffix(name, `"`) {
		name = strings.TrimSpace(name[1 : len(name)-1])
	}
	email = strings.TrimSpace(email)
	switch {
	case name == "":
		return Identity{}, errors.New("the name is empty")
	case strings.ContainsAny(name, `<>"`) || strings.ContainsFunc(name, unicode.IsControl):
		return Identity{}, fmt.Errorf("the name %q holds '<', '>', '\"' or a control character", name)
	case strings.Count(email, "@") != 1:
		return Identity{}, fmt.Errorf("the address %q does not have exactly one @", email)
	case strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@"):
		return Identity{}, fmt.Errorf("the address %q has nothing on one side of its @", email)
	case strings.ContainsAny(email, `<>"(),;:\[]`) || strings.ContainsFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return Identity{}, fmt.Errorf("the address %q holds a space, a bracket, a quote or a control character", email)
	}
	return Identity{Name: name, Email: email}, nil
}

// GitIdentity is the identity git format-patch -s would sign off with in
// dir ("" for the working directory): git config's user.name and
// user.email, read with git config so that the repository's, the user's
// and the system's files count as git counts them. Neither set is the zero
// Identity and no error; only one set, or a malformed value, is an error.
func GitIdentity(ctx context.Context, dir string) (Identity, error) {
	get := func(key string) (string, error) {
		cmd := proc.Command(ctx, "git", "config", "--get", key)
		cmd.Dir = dir
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "", nil // git config's word for "not set"
		}
		if err != nil {
			return "", fmt.Errorf("git config --get %s: %w", key, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	name, err := get("user.name")
	if err != nil {
		return Identity{}, err
	}
	email, err := get("user.email")
	if err != nil {
		return Identity{}, err
	}
	switch {
	case name == "" && email == "":
		return Identity{}, nil
	case name == "":
		return Identity{}, errors.New("git config has user.email but no user.name")
	case email == "":
		return Identity{}, errors.New("git config has user.name but no user.email")
	}
	id, err := NewIdentity(name, email)
	if err != nil {
		return Identity{}, fmt.Errorf("git config user.name/user.email: %w", err)
	}
	return id, nil
}

// trailerRe is one "Token: value" trailer line (Signed-off-by:,
// Originally-by:, Link:, Cc: …). The space after the colon keeps a URL
// alone on a line ("https://…") from passing for one.
var trailerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*: `)

// AddSignoff returns the commit message body with "Signed-off-by: who" as
// its last trailer, as git commit -s and git format-patch -s add it: when
// the last paragraph is a block of trailers the line joins it, below the
// ones already there (their order kept); otherwise it starts a paragraph of
// its own. A body whose last trailer is that very line comes back
// unchanged, so signing twice signs once; a sign-off by someone else, or
// by the same poster above a later trailer, gets the line appended.
func AddSignoff(body string, who Identity) string {
	line := "Signed-off-by: " + who.String()
	text := strings.TrimRight(body, "\n")
	if text == "" {
		return line + "\n"
	}
	lines := strings.Split(text, "\n")
	start := len(lines)
	for start > 0 && strings.TrimSpace(lines[start-1]) != "" {
		start--
	}
	last := lines[start:]
	if !isTrailerBlock(last) {
		return text + "\n\n" + line + "\n"
	}
	if last[len(last)-1] == line {
		return body
	}
	return text + "\n" + line + "\n"
}

// isTrailerBlock reports whether a paragraph is trailers: every line a
// "Token: value" trailer, a continuation of the one above (indented), or a
// maintainer's "[ … ]" note between trailers, and at least one trailer.
// git interpret-trailers is more lenient (a quarter of the lines may be
// prose); a kernel commit's trailer block never needs that.
func isTrailerBlock(para []string) bool {
	trailers := 0
	for i, l := range para {
		switch {
		case trailerRe.MatchString(l):
			trailers++
		case i > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(strings.TrimSpace(l), "]"):
		default:
			return false
		}
	}
	return trailers > 0
}
