package gateway

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/chronicle-hub/chronicle/events"
)

// Cursors are opaque to clients: base64url of "kind:part:part". They carry
// only what orders the list (a time and a stream sequence, or an id), never
// content, so a cursor leaks nothing about entries the caller cannot see.

func encodeCursor(kind string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strings.Join(parts, ":")))
}

// decodeCursor returns the parts of a cursor of kind, or a KindInvalid error
// naming the argument.
func decodeCursor(arg, kind, cursor string, nparts int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	parts := strings.Split(string(raw), ":")
	if err != nil || len(parts) != nparts+1 || parts[0] != kind {
		return nil, events.E(arg, events.KindInvalid, fmt.Errorf("%q is not a cursor from this list: pass endCursor from pageInfo", cursor))
	}
	return parts[1:], nil
}

// entryCursor orders chronology entries: occurred_at, then stream sequence.
func entryCursor(occurredNanos int64, seq uint64) string {
	return encodeCursor("e", strconv.FormatInt(occurredNanos, 10), strconv.FormatUint(seq, 10))
}

func decodeEntryCursor(cursor string) (int64, uint64, error) {
	parts, err := decodeCursor("after", "e", cursor, 2)
	if err != nil {
		return 0, 0, err
	}
	nanos, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, events.E("after", events.KindInvalid, fmt.Errorf("%q is not a cursor from this list", cursor))
	}
	return nanos, seq, nil
}
