package ingest

import (
	"hash/maphash"

	"github.com/chronicle-hub/chronicle/events"
)

// earlierWindow is how many of an import's most recent events earlier
// remembers: about 24 MB at most. A correction of an event further back in
// the same file is judged by the hub, which has long since stored it.
const earlierWindow = 1 << 20

// earlier remembers what a correction or retraction is judged on (id, type
// and agency) for the events an import has already prepared, so that a file
// may hold an event and, later, its correction. Memory is bounded: two
// generations of earlierWindow events, keyed by a hash of the id, with the
// agency and type interned.
type earlier struct {
	seed     maphash.Seed
	cur, old map[uint64]uint32
	codes    []events.Event // interned (agency, type) pairs
	index    map[[2]string]uint32
}

func newEarlier() *earlier {
	return &earlier{seed: maphash.MakeSeed(), cur: map[uint64]uint32{}, index: map[[2]string]uint32{}}
}

func (s *earlier) key(id string) uint64 { return maphash.String(s.seed, id) }

// add remembers e.
func (s *earlier) add(e *events.Event) {
	pair := [2]string{e.Agency, string(e.Type)}
	code, ok := s.index[pair]
	if !ok {
		code = uint32(len(s.codes))
		s.index[pair] = code
		s.codes = append(s.codes, events.Event{Agency: e.Agency, Type: e.Type})
	}
	if len(s.cur) >= earlierWindow {
		s.old, s.cur = s.cur, make(map[uint64]uint32, earlierWindow)
	}
	s.cur[s.key(e.ID)] = code
}

// find returns what the judgement of an amendment reads of event id, when
// this import prepared it.
func (s *earlier) find(id string) (*events.Event, bool) {
	k := s.key(id)
	code, ok := s.cur[k]
	if !ok {
		code, ok = s.old[k]
	}
	if !ok {
		return nil, false
	}
	c := s.codes[code]
	return &events.Event{ID: id, Agency: c.Agency, Type: c.Type}, true
}
