package projections

import (
	"unsafe"

	"github.com/chronicle-hub/chronicle/events"
)

// Sizes the estimate charges for what Go allocates but the model cannot
// see: a map entry's share of its buckets beyond its key and value (Go's
// maps keep 8 slots a bucket with a tophash byte each and a load factor
// of about 6.5/8, so about 1.3× the slot plus a few bytes), a slice
// header, and a string header.
const (
	mapEntryOverhead = 12
	sliceHeader      = int64(unsafe.Sizeof([]int{}))
	stringHeader     = int64(unsafe.Sizeof(""))
	pointerSize      = int64(unsafe.Sizeof(uintptr(0)))
)

// Bytes estimates the memory the read model holds, for
// chronicle_read_model_bytes: every record at its fixed size with its
// source reference, payload and subject groups; the indexes by event id
// and by identifier; the interned strings; the identity graph (nodes,
// pairs, decisions, components); the activity and statutory counts; amendments with the
// events they keep. It counts lengths and capacities, not allocator
// rounding or the collector's headroom, and leaves out the bounded cache
// of decoded payloads (at most payloadCacheSize), so the process's heap is
// larger: the estimate is for sizing a gateway and watching the model
// grow, within a few tens of percent of what it allocates (the test
// compares it with the heap a model of the demo data takes).
//
// It walks the model under the read lock, once per change of position:
// a scrape of an idle model reads the last answer, and at a million events
// a walk takes milliseconds (records are fixed-size; nothing is decoded).
func (m *Model) Bytes() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.sizeMu.Lock()
	defer m.sizeMu.Unlock()
	if m.sized && m.sizedAt == m.lastSeq && m.sizedEvents == m.events {
		return m.size
	}
	m.size = m.bytes()
	m.sized, m.sizedAt, m.sizedEvents = true, m.lastSeq, m.events
	return m.size
}

// bytes is Bytes' walk; the caller holds the read lock.
func (m *Model) bytes() int64 {
	var n int64
	recSize := int64(unsafe.Sizeof(Record{}))
	for _, r := range m.order {
		n += recSize + int64(len(r.text)) + 4*int64(cap(r.groups))
		if a := r.amends; a != nil {
			n += int64(unsafe.Sizeof(amendments{}))
			for _, list := range [][]Amendment{a.corrections, a.retractions} {
				for _, am := range list {
					n += amendmentBytes(am)
				}
			}
		}
	}
	n += int64(cap(m.order)) * pointerSize
	n += int64(len(m.records.keyed)) * (int64(unsafe.Sizeof(eventKey{})) + pointerSize + mapEntryOverhead)
	for id := range m.records.odd {
		n += stringHeader + int64(len(id)) + pointerSize + mapEntryOverhead
	}
	n += int64(len(m.amended.keyed)) * (int64(unsafe.Sizeof(eventKey{})) + mapEntryOverhead)
	for id := range m.amended.odd {
		n += stringHeader + int64(len(id)) + mapEntryOverhead
	}
	n += int64(cap(m.amendedRecs)) * pointerSize
	for _, recs := range m.byNode {
		n += sliceHeader + int64(cap(recs))*pointerSize
	}
	n += int64(cap(m.changedAt)) * 8
	n += int64(len(m.activity)) * (int64(unsafe.Sizeof(activityKey{})) + 4 + mapEntryOverhead)
	n += int64(len(m.statutory)) * (int64(unsafe.Sizeof(statKey{})) + 4 + mapEntryOverhead)
	n += m.tab.bytes() + m.ident.bytes()
	return n
}

// amendmentBytes is one correction or retraction: the amendment and the
// event it keeps whole (amendments are few; their events are not
// compacted).
func amendmentBytes(a Amendment) int64 {
	n := int64(unsafe.Sizeof(a))
	if e := a.Event; e != nil {
		n += int64(unsafe.Sizeof(*e)) + int64(len(e.ID)+len(e.Type)+len(e.Agency)+len(e.SourceSystem)+len(e.SourceRef)+len(e.Summary)+len(e.Sensitivity)+len(e.Reliability)+len(e.Payload))
	}
	return n + int64(len(a.Reason))
}

// bytes is the interned strings with their index, and the ids that are
// not UUIDs.
func (t *tables) bytes() int64 {
	var n int64
	for _, s := range t.strs {
		// Each string is held once, by strs and index together.
		n += 2*stringHeader + int64(len(s)) + 4 + mapEntryOverhead
	}
	for _, id := range t.oddIDs {
		n += pointerSize + stringHeader + int64(len(id)) + mapEntryOverhead
	}
	return n
}

// bytes is the identity graph: its nodes with their identifiers, the
// index by identifier and by child id, the pairs and decisions, and the
// components of the present.
func (id *Identity) bytes() int64 {
	var n int64
	nodeSize := int64(unsafe.Sizeof(node{}))
	for _, nd := range id.nodes {
		// The identifier's value is shared with the index's key.
		n += pointerSize + nodeSize + int64(len(nd.id.Value)+len(nd.firstEvent)+len(nd.personal)) + int64(cap(nd.links))*8
	}
	n += int64(len(id.index)) * (int64(unsafe.Sizeof(events.Identifier{})) + 8 + mapEntryOverhead)
	for child := range id.personal {
		n += stringHeader + int64(len(child)) + 8 + mapEntryOverhead
	}
	linkSize := int64(unsafe.Sizeof(link{}))
	for _, l := range id.links {
		n += linkSize + int64(cap(l.edges))*int64(unsafe.Sizeof(edge{})) + int64(cap(l.decisions))*int64(unsafe.Sizeof(decision{}))
	}
	n += int64(len(id.pairs)) * (int64(unsafe.Sizeof(pair{})) + 8 + mapEntryOverhead)
	n += int64(cap(id.decided)) * 8
	c := &id.now
	n += int64(cap(c.of)+cap(c.free)) * 8
	for _, g := range c.groups {
		n += int64(unsafe.Sizeof(g)) + int64(cap(g.members))*8
	}
	return n
}
