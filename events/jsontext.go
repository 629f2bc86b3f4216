package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// What text Chronicle accepts, in every string of every JSON document it
// takes in (events from HTTP, NATS and files, and GraphQL request bodies):
//
//   - valid UTF-8 only. encoding/json would silently turn a bad byte, or an
//     escaped lone surrogate such as \ud800, into U+FFFD, so what was stored
//     would not be what was sent;
//   - no control characters but tab, line feed and carriage return: no NUL,
//     no other C0 code (U+0001–U+001F), no DEL (U+007F), no C1 code
//     (U+0080–U+009F). They have no place in a record a person reads, and
//     NUL truncates strings in many of the systems a chronology is exported to;
//   - no bidirectional embedding, override or isolate characters (U+202A–U+202E,
//     U+2066–U+2069): they make text display in an order other than the one
//     stored ("Trojan Source"), so a summary could read differently from what
//     it says.
//
// Line breaks are allowed only where a field is free text; the one-line
// fields (summary, names, references) refuse them in Validate.
//
// And every member name appears at most once in its object: encoding/json
// keeps the last of a repeated name, so a document saying "sensitivity"
// twice could pass a check with one value and be stored with the other.

// CheckJSONText scans a JSON document once and reports, with the field path
// of each, repeated member names, invalid UTF-8 and the characters above. It
// does not check the document's syntax: a malformed document is left to the
// JSON decoder, and CheckJSONText reports only what it found before the
// fault. The error is nil or a *FieldError tree (see Problems).
func CheckJSONText(data []byte) error {
	var p ProblemSet
	scanText(&p, data)
	return p.Err()
}

// frame is one open object or array while scanning.
type frame struct {
	object bool
	index  int    // the current element of an array
	key    []byte // the current member name of an object, as written
	first  int    // where this object's names start in the scan's names
	// set holds the names of an object with many members, so that a
	// hostile document of thousands of names costs linear time.
	set map[string]struct{}
}

// manyNames is when an object's names move from a list to a set.
const manyNames = 32

// scanText is CheckJSONText into p. The open objects' member names share
// one slice, so a typical event costs no allocation per object.
func scanText(p *ProblemSet, data []byte) {
	var (
		stackBuf [16]frame
		namesBuf [64][]byte
	)
	stack, names := stackBuf[:0], namesBuf[:0]
	expectKey := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, frame{object: true, first: len(names)})
			expectKey = true
		case '[':
			stack = append(stack, frame{})
			expectKey = false
		case '}', ']':
			if len(stack) == 0 {
				return
			}
			if top := stack[len(stack)-1]; top.object {
				names = names[:top.first]
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			if len(stack) == 0 {
				return
			}
			top := &stack[len(stack)-1]
			if top.object {
				expectKey = true
			} else {
				top.index++
			}
		case '"':
			end, ok := stringEnd(data, i)
			if !ok {
				return
			}
			raw := data[i+1 : end]
			if expectKey && len(stack) > 0 && stack[len(stack)-1].object {
				top := &stack[len(stack)-1]
				top.key = raw
				if top.seen(names[top.first:], raw) {
					p.Add(pathOf(stack), "appears more than once in its object; give each field once")
				}
				if top.set == nil {
					names = append(names, raw)
				}
				checkString(p, stack, raw)
				expectKey = false
			} else {
				checkString(p, stack, raw)
			}
			i = end
		}
	}
}

// stringEnd returns the index of the quote closing the string that opens at
// data[start].
func stringEnd(data []byte, start int) (int, bool) {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i, true
		}
	}
	return 0, false
}

// seen reports whether the object already had name, and records it.
func (f *frame) seen(names [][]byte, name []byte) bool {
	if f.set == nil && len(names) < manyNames {
		return repeated(names, name)
	}
	if f.set == nil {
		f.set = make(map[string]struct{}, 2*manyNames)
		for _, n := range names {
			f.set[unquote(n)] = struct{}{}
		}
	}
	k := unquote(name)
	_, dup := f.set[k]
	f.set[k] = struct{}{}
	return dup
}

// repeated reports whether name is among keys, comparing what the names
// mean: "a" and "\u0061" are the same member.
func repeated(keys [][]byte, name []byte) bool {
	escaped := bytes.IndexByte(name, '\\') >= 0
	for _, k := range keys {
		if !escaped && bytes.IndexByte(k, '\\') < 0 {
			if bytes.Equal(k, name) {
				return true
			}
			continue
		}
		if unquote(k) == unquote(name) {
			return true
		}
	}
	return false
}

// unquote decodes a JSON string's contents (without the quotes).
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if json.Unmarshal(quoted, &s) != nil {
		return string(raw)
	}
	return s
}

// checkString reports the first thing a string may not contain. A member
// name's problems are reported at the member's own path.
func checkString(p *ProblemSet, stack []frame, raw []byte) {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			switch raw[i+1] {
			case 'b':
				p.Add(pathOf(stack), "%s", forbidden('\b'))
				return
			case 'f':
				p.Add(pathOf(stack), "%s", forbidden('\f'))
				return
			case 'u':
			default:
				i += 2
				continue
			}
			r, n := escapedRune(raw[i:])
			if r < 0 {
				p.Add(pathOf(stack), "contains an escaped lone surrogate (\\u%s): not a character", string(raw[i+2:min(i+6, len(raw))]))
				return
			}
			if why := forbidden(r); why != "" {
				p.Add(pathOf(stack), "%s", why)
				return
			}
			i += n
		case c < utf8.RuneSelf:
			if c == 0x7f {
				p.Add(pathOf(stack), "%s", forbidden(0x7f))
				return
			}
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				p.Add(pathOf(stack), "is not valid UTF-8 (byte 0x%02x at character %d)", c, utf8.RuneCount(raw[:i])+1)
				return
			}
			if why := forbidden(r); why != "" {
				p.Add(pathOf(stack), "%s", why)
				return
			}
			i += n
		}
	}
}

// escapedRune decodes a \uXXXX escape, and the low half that must follow a
// high surrogate. It returns the rune and the bytes used, or -1 for a lone
// surrogate or a malformed escape.
func escapedRune(s []byte) (rune, int) {
	hex4 := func(b []byte) rune {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return -1
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(v)
	}
	r := hex4(s)
	switch {
	case r < 0:
		return -1, 0
	case r >= 0xD800 && r < 0xDC00:
		lo := hex4(s[6:])
		if lo < 0xDC00 || lo >= 0xE000 {
			return -1, 0
		}
		return (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000, 12
	case r >= 0xDC00 && r < 0xE000:
		return -1, 0
	}
	return r, 6
}

// forbidden says why r may not appear in text, or "" when it may.
func forbidden(r rune) string {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return ""
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return "contains the control character " + describe(r) + "; only tab, line feed and carriage return are allowed"
	case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return "contains the bidirectional control character " + describe(r) + ", which can make text display differently from what is stored"
	}
	return ""
}

func describe(r rune) string { return fmt.Sprintf("U+%04X", r) }

// pathOf renders the field path of the innermost open value:
// subjects[0].identifiers.nhs_number.
func pathOf(stack []frame) string {
	var b []byte
	for _, f := range stack {
		if f.object {
			if f.key == nil {
				continue
			}
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, unquote(f.key)...)
			continue
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(f.index), 10)
		b = append(b, ']')
	}
	return string(b)
}
