package stream

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Position is, per partition of the normalized topic, the next offset a
// stream has to deliver. Every payment a stream sends comes with the
// Position just after it, encoded as a cursor: resuming from it, on any
// server instance (all read the same topic), continues exactly there.
type Position map[int32]int64

func (p Position) clone() Position {
	c := make(Position, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

const cursorPrefix = "c1."

// Cursor encodes p as an opaque string: "c1." + base64url("0=12,1=40,2=7").
// Every payment sent carries one, so it is built without fmt or sort's
// allocations.
func (p Position) Cursor() string {
	var partsBuf [16]int32
	parts := partsBuf[:0]
	for k := range p {
		parts = append(parts, k)
	}
	slices.Sort(parts)
	var textBuf [128]byte
	text := textBuf[:0]
	for i, k := range parts {
		if i > 0 {
			text = append(text, ',')
		}
		text = strconv.AppendInt(text, int64(k), 10)
		text = append(text, '=')
		text = strconv.AppendInt(text, p[k], 10)
	}
	out := make([]byte, len(cursorPrefix)+base64.RawURLEncoding.EncodedLen(len(text)))
	copy(out, cursorPrefix)
	base64.RawURLEncoding.Encode(out[len(cursorPrefix):], text)
	return string(out)
}

// ErrBadCursor is returned for a cursor this server did not make.
var ErrBadCursor = errors.New("malformed cursor")

// ParseCursor decodes a cursor made by Position.Cursor.
func ParseCursor(s string) (Position, error) {
	raw, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok || len(s) > 4096 {
		return nil, ErrBadCursor
	}
	text, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(text) == 0 {
		return nil, ErrBadCursor
	}
	p := Position{}
	for _, kv := range strings.Split(string(text), ",") {
		k, v, ok := strings.Cut(kv, "=")
		part, err1 := strconv.ParseInt(k, 10, 32)
		off, err2 := strconv.ParseInt(v, 10, 64)
		if !ok || err1 != nil || err2 != nil || part < 0 || off < 0 {
			return nil, ErrBadCursor
		}
		if _, dup := p[int32(part)]; dup {
			return nil, ErrBadCursor
		}
		p[int32(part)] = off
	}
	return p, nil
}
