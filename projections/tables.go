package projections

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"

	"github.com/chronicle-hub/chronicle/events"
)

// Marks in Record.groups, which are otherwise identity node indexes and
// hints (see Record.eachSubject).
const (
	childMark  int32 = -1 // ends a child subject's nodes
	pairMark   int32 = -2 // starts a link's or unlink's pair
	unbornMark int32 = -3 // ends an unborn child's nodes
)

// eventKey is an event id (a UUID) as 16 bytes: a third of the string's
// memory, and a map key without a pointer for the collector to follow.
type eventKey [16]byte

// keyOf parses a canonical UUID (lower-case hex, with dashes). Anything else
// (and the nil UUID) is not a key: such ids are kept as strings
// (tables.oddIDs).
func keyOf(id string) (eventKey, bool) {
	var k eventKey
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return k, false
	}
	src := id[0:8] + id[9:13] + id[14:18] + id[19:23] + id[24:36]
	for i := 0; i < len(src); i++ {
		if c := src[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return k, false
		}
	}
	if _, err := hex.Decode(k[:], []byte(src)); err != nil {
		return k, false
	}
	// The zero key marks a record whose id is kept as a string.
	return k, k != eventKey{}
}

// String formats the key as a canonical UUID.
func (k eventKey) String() string { return events.FormatUUID(k) }

// tables are what a model's records share: the repeated strings, stored
// once and named by index, and a bounded cache of decoded payloads.
type tables struct {
	// strs and index are written by the model's writer, under the model's
	// write lock; readers use them under its read lock.
	strs  []string
	index map[string]uint32

	// oddIDs are the ids that are not canonical UUIDs, by record (their
	// key is zero); written under the model's write lock.
	oddIDs map[*Record]string

	mu       sync.Mutex
	payloads map[*Record]events.Payload
}

func (t *tables) oddID(r *Record) (string, bool) {
	id, ok := t.oddIDs[r]
	return id, ok
}

// hint interns a name and date of birth together.
func (t *tables) hint(name, dob string) uint32 {
	if name == "" && dob == "" {
		return 0
	}
	// Looked up in a buffer first: most subjects repeat a known hint, and
	// a lookup by string(bytes) does not allocate.
	var buf [96]byte
	k := append(append(append(buf[:0], name...), 0), dob...)
	if i, ok := t.index[string(k)]; ok {
		return i
	}
	return t.intern(string(k))
}

// hintOf returns the name and date of birth a hint names.
func (t *tables) hintOf(h uint32) (name, dob string) {
	if h == 0 {
		return "", ""
	}
	name, dob, _ = strings.Cut(t.strs[h], "\x00")
	return name, dob
}

// payloadCacheSize bounds the decoded payloads kept: enough for the
// chronologies being read and the children being evaluated, a few
// megabytes at most.
const payloadCacheSize = 1 << 15

func newTables() *tables {
	t := &tables{index: map[string]uint32{}, payloads: map[*Record]events.Payload{}, oddIDs: map[*Record]string{}}
	t.intern("") // index 0 is the empty string
	return t
}

// intern returns s's index, adding it.
func (t *tables) intern(s string) uint32 {
	if i, ok := t.index[s]; ok {
		return i
	}
	i := uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.index[s] = i
	return i
}

func (t *tables) str(i uint32) string { return t.strs[i] }

// payload decodes r's payload, or returns it from the cache. An event of a
// type the catalogue does not know has none. A full cache drops entries at
// random (Go's map order), which keeps it bounded without bookkeeping.
func (t *tables) payload(r *Record) events.Payload {
	t.mu.Lock()
	p, ok := t.payloads[r]
	t.mu.Unlock()
	if ok {
		return p
	}
	typ := events.Type(t.str(r.typ))
	if _, known := events.Lookup(typ); !known {
		return nil
	}
	p, err := events.DecodePayload(typ, []byte(r.payload()))
	if err != nil {
		return nil // validated when it arrived; a later schema cannot read it
	}
	t.mu.Lock()
	if len(t.payloads) >= payloadCacheSize {
		n := 0
		for k := range t.payloads {
			delete(t.payloads, k)
			if n++; n >= payloadCacheSize/8 {
				break
			}
		}
	}
	t.payloads[r] = p
	t.mu.Unlock()
	return p
}

// payloadJSON is the payload a record keeps: the event's own bytes when
// they are in the type's current schema, else the upcast payload encoded
// again, so that decoding later needs no upcasting.
// The bytes are only read (newRecord copies them into the arena).
func payloadJSON(e *events.Event) []byte {
	spec, ok := events.Lookup(e.Type)
	if !ok {
		return e.Payload
	}
	if v := max(e.SchemaVersion, 1); v >= spec.Version && len(e.Payload) > 0 {
		return e.Payload
	}
	if e.Body == nil {
		return e.Payload
	}
	raw, err := json.Marshal(e.Body)
	if err != nil {
		return e.Payload
	}
	return raw
}
