package patch

import (
	"io"
	"mime"
	"net/mail"
)

type mimeDecoder struct{ mime.WordDecoder }

// decode undoes RFC 2047 encoding (git encodes non-ASCII names that way).
func (d *mimeDecoder) decode(s string) string {
	out, err := d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

func readAll(m *mail.Message) (string, error) {
	b, err := io.ReadAll(m.Body)
	return string(b), err
}
