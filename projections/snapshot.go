package projections

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// A snapshot is the model's state, not the events that built it: the
// records as kept (see Record), the identifiers with their names and dates
// of birth, the pairs and decisions that join them, and the counters. A
// restart loads it without decoding or validating any event and without
// resolving identity again; only the indexes (event id to record, node to
// records, the present's components) are rebuilt, each in one pass.
//
// Format: the magic "CHRONSNP", a format version, then the sections, each
// field little-endian or a varint, strings and lists length-prefixed, and
// last a CRC-32C of everything before it. A snapshot in another version,
// truncated, or whose checksum does not match is refused whole
// (ErrSnapshot), so a restart replays the log instead.

// snapshotMagic starts every snapshot file.
const snapshotMagic = "CHRONSNP"

// SnapshotVersion changes whenever the format or the meaning of what Apply
// keeps changes; an older snapshot is then refused and the log replayed.
const SnapshotVersion = 4 // 4: Annex A reads a missing episode's SSDA903 code first (AnnexAAbsence)

// ErrSnapshot: a snapshot cannot be used (another version, truncated,
// corrupt). Restore leaves the model as it was.
var ErrSnapshot = errors.New("projections: snapshot unusable")

// Position is where a snapshot stands in the stream: the last sequence the
// model had reached, and the last event it applied with its sequence, so
// that a loader can check the stream still holds that event there.
type Position struct {
	Seq       uint64
	LastID    string
	LastIDSeq uint64
}

// Snapshot is a model's state captured at one moment, to be written while
// the model goes on applying events.
type Snapshot interface {
	// Position is where the captured state stands.
	Position() Position
	// Persist writes the state.
	Persist(w io.Writer) error
	// Release drops the capture.
	Release()
}

// capture is what Snapshot copies under the read lock. Records, the strings
// table, nodes' hints and the order of records only ever grow, and what is
// below their length when captured never changes, so only the lengths and
// the few mutable parts (amendments, pairs, counters) are copied: the
// capture costs the identifiers and pairs, not the log.
type capture struct {
	pos     Position
	strs    []string
	order   []*Record
	amends  map[*Record]amendments
	nodes   []node
	links   []link
	decided []int
	counts  [5]int // events, corrections, retractions, dups, (unused)
	last    time.Time
	amended []string
	oddIDs  map[*Record]string
	// statutory are the statutory counters: a few thousand a year, and
	// rebuilding them would decode every payload.
	statutory map[statKey]int32
}

var _ Snapshot = (*capture)(nil)

// Snapshot captures the model's state cheaply under the read lock; Persist
// then writes it without holding any lock, so the projector does not stop.
func (m *Model) Snapshot() (Snapshot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &capture{
		pos:     Position{Seq: m.lastSeq},
		strs:    m.tab.strs[:len(m.tab.strs):len(m.tab.strs)],
		order:   m.order[:len(m.order):len(m.order)],
		amends:  make(map[*Record]amendments, len(m.amendedRecs)),
		nodes:   make([]node, len(m.ident.nodes)),
		links:   make([]link, len(m.ident.links)),
		decided: append([]int(nil), m.ident.decided...),
		counts:  [5]int{m.events, m.corrections, m.retractions, m.dups},
		last:    m.last,
	}
	if n := len(m.order); n > 0 {
		c.pos.LastID, c.pos.LastIDSeq = m.order[n-1].ID(), m.order[n-1].seq
	}
	for _, r := range m.amendedRecs {
		a := *r.amends
		a.corrections = a.corrections[:len(a.corrections):len(a.corrections)]
		a.retractions = a.retractions[:len(a.retractions):len(a.retractions)]
		c.amends[r] = a
	}
	for i, n := range m.ident.nodes {
		c.nodes[i] = *n
		c.nodes[i].links = nil // rebuilt from the pairs
	}
	for i, l := range m.ident.links {
		c.links[i] = l
		c.links[i].edges = make([]edge, len(l.edges))
		for j, e := range l.edges {
			c.links[i].edges[j] = e
			if e.retracted != nil {
				at := *e.retracted
				c.links[i].edges[j].retracted = &at
			}
		}
		c.links[i].decisions = append([]decision(nil), l.decisions...)
	}
	c.oddIDs = make(map[*Record]string, len(m.tab.oddIDs))
	for r, id := range m.tab.oddIDs {
		c.oddIDs[r] = id
	}
	for k := range m.amended.keyed {
		c.amended = append(c.amended, k.String())
	}
	for id := range m.amended.odd {
		c.amended = append(c.amended, id)
	}
	c.statutory = make(map[statKey]int32, len(m.statutory))
	for k, n := range m.statutory {
		c.statutory[k] = n
	}
	return c, nil
}

// Position implements Snapshot.
func (c *capture) Position() Position { return c.pos }

// Release implements Snapshot.
func (c *capture) Release() { *c = capture{} }

// Persist implements Snapshot.
func (c *capture) Persist(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	sw := &snapWriter{w: bw, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	sw.raw([]byte(snapshotMagic))
	sw.uvarint(SnapshotVersion)
	sw.uvarint(c.pos.Seq)
	sw.str(c.pos.LastID)
	sw.uvarint(c.pos.LastIDSeq)
	for _, n := range c.counts {
		sw.uvarint(uint64(n))
	}
	sw.varint(nanos(c.last))

	sw.uvarint(uint64(len(c.strs)))
	for _, s := range c.strs {
		sw.str(s)
	}
	recIndex := make(map[*Record]int, len(c.order))
	sw.uvarint(uint64(len(c.order)))
	for i, r := range c.order {
		recIndex[r] = i
		sw.uvarint(r.seq)
		sw.varint(r.received)
		sw.varint(r.occurred)
		sw.varint(r.recorded)
		sw.raw(r.key[:])
		sw.str(c.oddIDs[r])
		for _, x := range []uint32{r.typ, r.agency, r.summary, r.source, r.sensitivity, r.reliability, r.refLen} {
			sw.uvarint(uint64(x))
		}
		sw.str(r.text)
		sw.uvarint(uint64(len(r.groups)))
		for _, g := range r.groups {
			sw.varint(int64(g))
		}
		a, ok := c.amends[r]
		if !ok {
			sw.uvarint(0)
			continue
		}
		sw.uvarint(1)
		for _, list := range [][]Amendment{a.corrections, a.retractions} {
			sw.uvarint(uint64(len(list)))
			for _, x := range list {
				data, err := events.Encode(x.Event)
				if err != nil {
					return fmt.Errorf("snapshot: amendment of %s: %w", x.Event.ID, err)
				}
				sw.uvarint(x.Seq)
				sw.varint(nanos(x.Received))
				sw.bytes(data)
			}
		}
	}
	sw.uvarint(uint64(len(c.nodes)))
	for _, n := range c.nodes {
		sw.str(string(n.id.Scheme))
		sw.str(n.id.Value)
		sw.uvarint(n.firstSeq)
		sw.varint(nanos(n.firstReceived))
		sw.str(n.firstEvent)
	}
	sw.uvarint(uint64(len(c.links)))
	for _, l := range c.links {
		sw.uvarint(uint64(l.a))
		sw.uvarint(uint64(l.b))
		sw.uvarint(uint64(len(l.edges)))
		for _, e := range l.edges {
			sw.uvarint(uint64(recIndex[e.rec]))
			sw.varint(nanos(e.received))
			if e.retracted == nil {
				sw.varint(0)
			} else {
				sw.varint(nanos(*e.retracted))
			}
		}
		sw.uvarint(uint64(len(l.decisions)))
		for _, d := range l.decisions {
			if d.link {
				sw.uvarint(1)
			} else {
				sw.uvarint(0)
			}
			sw.str(d.eventID)
			sw.uvarint(d.seq)
			sw.varint(nanos(d.received))
			sw.str(d.reason)
		}
	}
	sw.uvarint(uint64(len(c.decided)))
	for _, d := range c.decided {
		sw.uvarint(uint64(d))
	}
	sw.uvarint(uint64(len(c.amended)))
	for _, id := range c.amended {
		sw.str(id)
	}
	sw.uvarint(uint64(len(c.statutory)))
	for k, n := range c.statutory {
		sw.varint(int64(k.day))
		sw.str(measureNames[k.measure])
		sw.varint(int64(n))
	}
	if sw.err != nil {
		return fmt.Errorf("snapshot: %w", sw.err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], sw.crc.Sum32())
	if _, err := bw.Write(sum[:]); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// snapWriter writes the snapshot's fields and checksums them; the first
// error sticks.
type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	buf [binary.MaxVarintLen64]byte
	err error
}

func (s *snapWriter) raw(b []byte) {
	if s.err != nil {
		return
	}
	s.crc.Write(b)
	_, s.err = s.w.Write(b)
}

func (s *snapWriter) uvarint(v uint64) { s.raw(s.buf[:binary.PutUvarint(s.buf[:], v)]) }
func (s *snapWriter) varint(v int64)   { s.raw(s.buf[:binary.PutVarint(s.buf[:], v)]) }

func (s *snapWriter) str(v string) {
	s.uvarint(uint64(len(v)))
	if s.err == nil {
		s.crc.Write([]byte(v))
		_, s.err = s.w.WriteString(v)
	}
}

func (s *snapWriter) bytes(v []byte) {
	s.uvarint(uint64(len(v)))
	s.raw(v)
}

// snapReader reads what snapWriter wrote, from memory.
type snapReader struct {
	b   []byte
	off int
	err error
}

func (s *snapReader) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s at byte %d", ErrSnapshot, what, s.off)
	}
}

func (s *snapReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, n := binary.Uvarint(s.b[s.off:])
	if n <= 0 {
		s.fail("bad number")
		return 0
	}
	s.off += n
	return v
}

func (s *snapReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, n := binary.Varint(s.b[s.off:])
	if n <= 0 {
		s.fail("bad number")
		return 0
	}
	s.off += n
	return v
}

// count reads a length and checks that it could be right: no list holds
// more items than bytes are left.
func (s *snapReader) count() int {
	n := s.uvarint()
	if n > uint64(len(s.b)-s.off) {
		s.fail("impossible length")
		return 0
	}
	return int(n)
}

func (s *snapReader) raw(n int) []byte {
	if s.err != nil || n > len(s.b)-s.off {
		s.fail("truncated")
		return nil
	}
	out := s.b[s.off : s.off+n]
	s.off += n
	return out
}

func (s *snapReader) str() string { return string(s.raw(s.count())) }

// SnapshotPosition reads where a snapshot stands from its first bytes (a
// few hundred are enough), without restoring it, so that a loader can
// check the stream first. The whole snapshot is checked by Restore.
func SnapshotPosition(data []byte) (Position, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return Position{}, fmt.Errorf("%w: not a snapshot", ErrSnapshot)
	}
	s := &snapReader{b: data, off: len(snapshotMagic)}
	if v := s.uvarint(); v != SnapshotVersion {
		return Position{}, fmt.Errorf("%w: version %d, this Chronicle reads %d", ErrSnapshot, v, SnapshotVersion)
	}
	p := Position{Seq: s.uvarint(), LastID: s.str(), LastIDSeq: s.uvarint()}
	return p, s.err
}

// Restore replaces the model's state with a snapshot written by Persist.
// The whole snapshot is read and checked (version, checksum, lengths)
// before anything is replaced: on any error, ErrSnapshot among them, the
// model is unchanged.
func (m *Model) Restore(r io.Reader) error {
	data, err := readAll(r)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return fmt.Errorf("%w: not a snapshot", ErrSnapshot)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return fmt.Errorf("%w: checksum does not match (a damaged or truncated file)", ErrSnapshot)
	}
	s := &snapReader{b: body, off: len(snapshotMagic)}
	if v := s.uvarint(); v != SnapshotVersion {
		return fmt.Errorf("%w: version %d, this Chronicle reads %d", ErrSnapshot, v, SnapshotVersion)
	}
	fresh, err := decodeSnapshot(s)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ident, m.tab, m.records, m.amended = fresh.ident, fresh.tab, fresh.records, fresh.amended
	m.order, m.byNode, m.amendedRecs, m.changedAt, m.activity = fresh.order, fresh.byNode, fresh.amendedRecs, fresh.changedAt, fresh.activity
	m.arena = fresh.arena
	m.statutory = fresh.statutory
	m.lastSeq, m.dups, m.last = fresh.lastSeq, fresh.dups, fresh.last
	m.events, m.corrections, m.retractions = fresh.events, fresh.corrections, fresh.retractions
	return nil
}

// readAll reads r whole, in one allocation when r can say its size (a
// file): a snapshot is hundreds of megabytes at a million events, and
// growing a buffer by doubling would copy and clear it several times.
func readAll(r io.Reader) ([]byte, error) {
	if f, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if st, err := f.Stat(); err == nil && st.Size() > 0 {
			buf := make([]byte, st.Size())
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, err
			}
			return buf, nil
		}
	}
	return io.ReadAll(r)
}

// decodeSnapshot builds a model from a snapshot's sections.
func decodeSnapshot(s *snapReader) (*Model, error) {
	m := NewModel()
	m.lastSeq = s.uvarint()
	s.str() // the last event's id and sequence: for the loader's check
	s.uvarint()
	m.events, m.corrections, m.retractions, m.dups = int(s.uvarint()), int(s.uvarint()), int(s.uvarint()), int(s.uvarint())
	s.uvarint()
	m.last = fromNanos(s.varint())

	nstr := s.count()
	m.tab.strs, m.tab.index = make([]string, 0, nstr), make(map[string]uint32, nstr)
	for range nstr {
		m.tab.intern(s.str())
	}
	stringAt := func(i uint64) uint32 {
		if i >= uint64(len(m.tab.strs)) {
			s.fail("string index out of range")
			return 0
		}
		return uint32(i)
	}
	nrec := s.count()
	m.order = make([]*Record, 0, nrec)
	m.records.keyed = make(map[eventKey]*Record, nrec)
	var amends []struct {
		rec  *Record
		data [2][]Delivered
	}
	var groups []int32 // each record's, read before they go to the arena
	for range nrec {
		r := m.arena.record()
		*r = Record{tab: m.tab, seq: s.uvarint(), received: s.varint(), occurred: s.varint(), recorded: s.varint()}
		copy(r.key[:], s.raw(16))
		odd := s.str()
		r.typ, r.agency, r.summary = stringAt(s.uvarint()), stringAt(s.uvarint()), stringAt(s.uvarint())
		r.source, r.sensitivity, r.reliability = stringAt(s.uvarint()), stringAt(s.uvarint()), stringAt(s.uvarint())
		r.refLen, r.text = uint32(s.uvarint()), m.arena.bytesStr(s.raw(s.count()))
		if int(r.refLen) > len(r.text) {
			s.fail("source reference longer than the text")
		}
		if ng := s.count(); ng > 0 {
			groups = groups[:0]
			for range ng {
				groups = append(groups, int32(s.varint()))
			}
			r.groups = m.arena.int32s(groups)
		}
		if s.uvarint() == 1 {
			var lists [2][]Delivered
			for k := range lists {
				for range s.count() {
					seq, at, raw := s.uvarint(), fromNanos(s.varint()), s.raw(s.count())
					if s.err != nil {
						break
					}
					e, err := events.Decode(raw)
					if err != nil {
						return nil, fmt.Errorf("%w: amendment of %s: %v", ErrSnapshot, r.ID(), err)
					}
					lists[k] = append(lists[k], Delivered{Event: e, Seq: seq, Received: at})
				}
			}
			amends = append(amends, struct {
				rec  *Record
				data [2][]Delivered
			}{r, lists})
		}
		if s.err != nil {
			return nil, s.err
		}
		if odd != "" {
			m.records.odd[odd] = r
			m.tab.oddIDs[r] = odd
		} else {
			m.records.keyed[r.key] = r
		}
		m.order = append(m.order, r)
	}
	for _, a := range amends {
		for _, d := range a.data[0] {
			body, _ := d.Event.Body.(*events.RecordCorrected)
			if body == nil {
				return nil, fmt.Errorf("%w: a correction of %s is a %s", ErrSnapshot, a.rec.ID(), d.Event.Type)
			}
			x := Amendment{Delivered: d, Reason: body.Reason, Correction: body}
			if len(body.Payload) > 0 {
				x.Body, _ = events.DecodePayload(a.rec.Type(), body.Payload)
			}
			a.rec.amend().corrections = append(a.rec.amends.corrections, x)
		}
		for _, d := range a.data[1] {
			body, _ := d.Event.Body.(*events.RecordRetracted)
			if body == nil {
				return nil, fmt.Errorf("%w: a retraction of %s is a %s", ErrSnapshot, a.rec.ID(), d.Event.Type)
			}
			a.rec.amend().retractions = append(a.rec.amends.retractions, Amendment{Delivered: d, Reason: body.Reason})
		}
		m.amendedRecs = append(m.amendedRecs, a.rec)
	}
	recAt := func(i uint64) *Record {
		if i >= uint64(len(m.order)) {
			s.fail("record index out of range")
			return nil
		}
		return m.order[i]
	}

	id := m.ident
	nnodes := s.count()
	id.nodes = make([]*node, 0, nnodes)
	for range nnodes {
		k := events.Identifier{Scheme: events.Scheme(s.str()), Value: s.str()}
		nd := &node{id: k, firstSeq: s.uvarint(), firstReceived: fromNanos(s.varint()), firstEvent: s.str()}
		nd.personal = personalID(nd.firstEvent, k)
		if s.err != nil {
			return nil, s.err
		}
		n := len(id.nodes)
		id.nodes = append(id.nodes, nd)
		id.index[k] = n
		id.personal[nd.personal] = n
		id.now.add()
	}
	nodeAt := func(i uint64) int {
		if i >= uint64(len(id.nodes)) {
			s.fail("node index out of range")
			return 0
		}
		return int(i)
	}
	nlinks := s.count()
	id.links = make([]link, 0, nlinks)
	retracted := map[int64]*time.Time{} // edges of one retraction share its time
	for range nlinks {
		l := link{pair: pair{a: nodeAt(s.uvarint()), b: nodeAt(s.uvarint())}}
		for range s.count() {
			e := edge{rec: recAt(s.uvarint()), received: fromNanos(s.varint())}
			if at := s.varint(); at != 0 {
				if retracted[at] == nil {
					t := fromNanos(at)
					retracted[at] = &t
				}
				e.retracted = retracted[at]
			} else {
				l.live++
			}
			l.edges = append(l.edges, e)
		}
		for range s.count() {
			l.decisions = append(l.decisions, decision{link: s.uvarint() == 1, eventID: s.str(), seq: s.uvarint(), received: fromNanos(s.varint()), reason: s.str()})
		}
		if s.err != nil {
			return nil, s.err
		}
		i := len(id.links)
		id.links = append(id.links, l)
		id.pairs[l.pair] = i
		id.nodes[l.a].links = append(id.nodes[l.a].links, i)
		if l.b != l.a {
			id.nodes[l.b].links = append(id.nodes[l.b].links, i)
		}
	}
	for range s.count() {
		id.decided = append(id.decided, int(s.uvarint()))
	}
	for range s.count() {
		m.amended.add(s.str())
	}
	for range s.count() {
		day, name, n := int32(s.varint()), s.str(), int32(s.varint())
		ms, ok := measureByName(name)
		if !ok {
			s.fail("unknown statutory measure " + name)
		}
		m.statutory[statKey{day: day, measure: ms}] = n
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.off != len(s.b) {
		return nil, fmt.Errorf("%w: %d bytes left over", ErrSnapshot, len(s.b)-s.off)
	}
	// The present's components, from the pairs that join now.
	for i := range id.links {
		if l := &id.links[i]; !id.noJoin && l.joined(nil) {
			id.now.union(l.a, l.b)
		}
	}
	// The chronology index and what changed when, from the records.
	for _, r := range m.order {
		for _, n := range r.nodes() {
			if n >= len(id.nodes) {
				return nil, fmt.Errorf("%w: record %s names node %d of %d", ErrSnapshot, r.ID(), n, len(id.nodes))
			}
			m.index(n, r)
		}
		r.eachSubject(func(_ []int32, _ bool, hint uint32) {
			if int(hint) >= len(m.tab.strs) {
				s.fail("hint out of range")
			}
		})
		m.touch(r.lastChange(), r)
		m.recount(r)
	}
	if s.err != nil {
		return nil, s.err
	}
	return m, nil
}
