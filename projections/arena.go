package projections

import "unsafe"

// arena keeps the read model's records and their variable parts in large
// chunks instead of three small heap objects per event. A million events
// were three to four million objects that every garbage collection marked,
// so every allocation anywhere in the process (a page, a decode) paid for
// the size of the log; and small objects of every size left size-class
// gaps in the resident set. Records, once applied, are never freed or
// moved (the log only grows), which is what makes carving them from
// chunks safe: a chunk is freed with the model as a whole.
type arena struct {
	recs  []Record
	bytes []byte
	ints  []int32
}

// Chunk sizes: big enough that a million events are a few hundred
// objects, small enough that a small model (a test, a demo) wastes little.
const (
	recordChunk = 1024
	byteChunk   = 256 << 10
	intChunk    = 16 << 10
)

// record returns a new zero record.
func (a *arena) record() *Record {
	if len(a.recs) == cap(a.recs) {
		a.recs = make([]Record, 0, recordChunk)
	}
	a.recs = a.recs[:len(a.recs)+1]
	return &a.recs[len(a.recs)-1]
}

// str returns the concatenation of parts as a string held in the arena.
// The bytes behind a returned string are never written again: later
// strings go after them in the chunk, or in a new one.
func (a *arena) str(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return ""
	}
	if n > byteChunk/8 {
		b := make([]byte, 0, n) // a large one on its own: no chunk half empty for it
		for _, p := range parts {
			b = append(b, p...)
		}
		return unsafe.String(unsafe.SliceData(b), n)
	}
	if cap(a.bytes)-len(a.bytes) < n {
		a.bytes = make([]byte, 0, byteChunk)
	}
	start := len(a.bytes)
	for _, p := range parts {
		a.bytes = append(a.bytes, p...)
	}
	return unsafe.String(&a.bytes[start], n)
}

// bytesStr is str of one part given as bytes, which are only read.
func (a *arena) bytesStr(b []byte) string { return a.str(transient(b)) }

// transient is b as a string without copying, for a part str copies at once:
// it must not be kept.
func transient(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// int32s returns a copy of v held in the arena, with no spare capacity, so
// that an append to it copies rather than writes over its neighbour.
func (a *arena) int32s(v []int32) []int32 {
	n := len(v)
	if n == 0 {
		return nil
	}
	if n > intChunk/8 {
		return append(make([]int32, 0, n), v...)
	}
	if cap(a.ints)-len(a.ints) < n {
		a.ints = make([]int32, 0, intChunk)
	}
	start := len(a.ints)
	a.ints = append(a.ints, v...)
	return a.ints[start : start+n : start+n]
}
