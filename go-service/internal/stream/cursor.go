package stream

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
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
func (p Position) Cursor() string {
	parts := make([]int32, 0, len(p))
	for k := range p {
		parts = append(parts, k)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	for i, k := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d=%d", k, p[k])
	}
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(b.String()))
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
