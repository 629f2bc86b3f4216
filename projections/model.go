package projections

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Errors Apply returns for an event that is valid on its own but cannot be
// applied; the runner quarantines it with the reason.
var (
	// ErrUnknownTarget: a correction or retraction names an event the hub
	// has not received.
	ErrUnknownTarget = errors.New("projections: the event it refers to is unknown")
	// ErrForeignTarget: a correction or retraction comes from an agency other
	// than the original's (or the hub).
	ErrForeignTarget = errors.New("projections: only the original agency or the hub may amend an event")
	// ErrIdentityTarget: a correction or retraction names a subjects.linked
	// or subjects.unlinked event. A link is a practitioner's decision, and it
	// is undone by the opposite decision (unlinkChildren), which keeps both
	// on the record, not by amending the first.
	ErrIdentityTarget = errors.New("projections: a link or unlink is undone by the opposite decision, not amended")
)

// Model is the hub's read model: identity and chronology together, fed by
// Apply in stream order and read concurrently. Its zero value is not usable;
// call NewModel.
type Model struct {
	mu sync.RWMutex

	ident   *Identity
	tab     *tables
	records recordIndex // entries by event id
	amended idSet       // ids of applied corrections and retractions
	order   []*Record   // every record in the order applied
	// amendedRecs are the records with corrections or retractions, which
	// a snapshot copies (everything else a record holds never changes).
	amendedRecs []*Record
	byNode      [][]*Record // identity node -> records naming it, in seq order
	arena       arena       // where records, their text and their groups are kept
	groups      []int32     // Apply's buffer for a record's groups
	nodeBuf     []int       // touch's buffer for a record's nodes
	lastSeq     uint64
	dups        int
	last        time.Time // receipt time of the last applied event

	events, corrections, retractions int

	// changedAt is, per identity node, the stream sequence of the last
	// event that changed its chronology or identity, so that consumers (the
	// alerter) re-evaluate only the children touched since they last
	// looked. It grows with identifiers, not with the log.
	changedAt []uint64

	// activity counts entries per London date, agency and type (see
	// Activity).
	activity map[activityKey]int32
	// statutory counts the Annex A measures and levels of need per London
	// date (see StatutoryCounts).
	statutory map[statKey]int32

	// size is Bytes' last answer, for the position (lastSeq, events) it
	// was computed at; sizeMu guards them, since Bytes holds only the
	// read lock.
	sizeMu      sync.Mutex
	sized       bool
	sizedAt     uint64
	sizedEvents int
	size        int64
}

// recordIndex finds records by event id: canonical UUIDs by their 16
// bytes, anything else by the string.
type recordIndex struct {
	keyed map[eventKey]*Record
	odd   map[string]*Record
}

func (x *recordIndex) get(id string) (*Record, bool) {
	if k, ok := keyOf(id); ok {
		r, found := x.keyed[k]
		return r, found
	}
	r, found := x.odd[id]
	return r, found
}

func (x *recordIndex) put(id string, r *Record) {
	if k, ok := keyOf(id); ok {
		x.keyed[k] = r
		return
	}
	x.odd[id] = r
}

func (x *recordIndex) len() int { return len(x.keyed) + len(x.odd) }

// idSet is a set of event ids, kept as recordIndex keeps them.
type idSet struct {
	keyed map[eventKey]struct{}
	odd   map[string]struct{}
}

func (x *idSet) has(id string) bool {
	if k, ok := keyOf(id); ok {
		_, found := x.keyed[k]
		return found
	}
	_, found := x.odd[id]
	return found
}

func (x *idSet) add(id string) {
	if k, ok := keyOf(id); ok {
		x.keyed[k] = struct{}{}
		return
	}
	x.odd[id] = struct{}{}
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{
		ident: NewIdentity(), tab: newTables(), activity: map[activityKey]int32{}, statutory: map[statKey]int32{},
		records: recordIndex{keyed: map[eventKey]*Record{}, odd: map[string]*Record{}},
		amended: idSet{keyed: map[eventKey]struct{}{}, odd: map[string]struct{}{}},
	}
}

// NewModelWithoutIdentity returns a model that keys each child by the
// identifiers as given and joins nothing (no co-occurrence edges; links and
// unlinks still apply). It exists to measure what identity resolution costs;
// Chronicle never serves from it.
func NewModelWithoutIdentity() *Model {
	m := NewModel()
	m.ident.noJoin = true
	return m
}

// Apply folds one delivered event into the model. It is deterministic: the
// same events in the same order give the same state. An event at or below
// the last applied sequence, or whose id was already applied (a re-send
// beyond the stream's duplicate window, or the same event from two sourced
// streams), changes nothing. The error, for an event that cannot be applied
// (ErrUnknownTarget, ErrForeignTarget, an invalid corrected payload), is
// KindInvalid with field problems, and the model is unchanged but for its
// position.
func (m *Model) Apply(d Delivered) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.Seq != 0 && d.Seq <= m.lastSeq {
		return nil
	}
	m.lastSeq = max(m.lastSeq, d.Seq)
	id := d.Event.ID
	if _, ok := m.records.get(id); ok || m.amended.has(id) {
		m.dups++
		return nil
	}
	if err := m.apply(d); err != nil {
		return err
	}
	m.events++
	m.last = d.Received
	return nil
}

func (m *Model) apply(d Delivered) error {
	switch body := d.Event.Body.(type) {
	case *events.RecordCorrected:
		target, err := m.target(d, body.EventID)
		if err != nil {
			return err
		}
		a := Amendment{Delivered: d, Reason: body.Reason, Correction: body}
		if len(body.Payload) > 0 {
			if a.Body, err = events.DecodePayload(target.Type(), body.Payload); err != nil {
				var p events.ProblemSet
				p.Nest("payload.payload", err)
				return events.E("apply correction", events.KindInvalid, p.Err())
			}
		}
		before, _ := target.At(nil)
		m.amendOf(target).corrections = append(target.amends.corrections, a)
		after, _ := target.At(nil)
		m.count(before, target, -1)
		m.count(after, target, 1)
		m.countStatutory(before, -1)
		m.countStatutory(after, 1)
		m.amended.add(d.Event.ID)
		m.corrections++
		m.touch(d.Seq, target)
		return nil
	case *events.RecordRetracted:
		target, err := m.target(d, body.EventID)
		if err != nil {
			return err
		}
		before, _ := target.At(nil)
		m.amendOf(target).retractions = append(target.amends.retractions, Amendment{Delivered: d, Reason: body.Reason})
		m.count(before, target, -1) // the first retraction hides it; later ones change nothing
		m.countStatutory(before, -1)
		m.ident.retractEvent(target, d.Received)
		m.amended.add(d.Event.ID)
		m.retractions++
		m.touch(d.Seq, target)
		return nil
	}
	rec := m.newRecord(d)
	switch body := d.Event.Body.(type) {
	case *events.SubjectsLinked:
		m.ident.decide(body.A, body.B, true, d, body.Reason)
	case *events.SubjectsUnlinked:
		m.ident.decide(body.A, body.B, false, d, body.Reason)
	}
	m.records.put(d.Event.ID, rec)
	m.order = append(m.order, rec)
	m.activity[activityKey{day: DayOf(d.Event.OccurredAt), agency: rec.agency, typ: rec.typ}]++
	m.countMeasure(DayOf(d.Event.OccurredAt), measureOf(d.Event.Body), 1)
	rec.groups = m.groups[:0] // built here, then copied to the arena
	for _, n := range m.ident.observe(d, rec, m.tab.hint) {
		m.index(n, rec)
	}
	// A link or unlink shows in the chronology of both identifiers.
	if a, b, ok := pairOfEvent(d.Event); ok {
		rec.groups = append(rec.groups, pairMark, int32(m.ident.index[a]), int32(m.ident.index[b]))
		m.index(m.ident.index[a], rec)
		m.index(m.ident.index[b], rec)
	}
	m.groups, rec.groups = rec.groups[:0], m.arena.int32s(rec.groups)
	m.touch(d.Seq, rec)
	return nil
}

// newRecord keeps what the model needs of a delivered event.
func (m *Model) newRecord(d Delivered) *Record {
	e := d.Event
	r := m.arena.record()
	*r = Record{
		seq: d.Seq, received: nanos(d.Received), occurred: nanos(e.OccurredAt), recorded: nanos(e.RecordedAt),
		typ: m.tab.intern(string(e.Type)), agency: m.tab.intern(e.Agency), summary: m.tab.intern(e.Summary),
		source: m.tab.intern(e.SourceSystem), sensitivity: m.tab.intern(e.Sensitivity), reliability: m.tab.intern(e.Reliability),
		refLen: uint32(len(e.SourceRef)), text: m.arena.str(e.SourceRef, transient(payloadJSON(e))), tab: m.tab,
	}
	if k, ok := keyOf(e.ID); ok {
		r.key = k
	} else {
		m.tab.oddIDs[r] = e.ID
	}
	return r
}

// amendOf returns r's amendments, creating them and noting r among the
// amended records.
func (m *Model) amendOf(r *Record) *amendments {
	if r.amends == nil {
		m.amendedRecs = append(m.amendedRecs, r)
	}
	return r.amend()
}

// amend returns r's amendments, creating them.
func (r *Record) amend() *amendments {
	if r.amends == nil {
		r.amends = &amendments{}
	}
	return r.amends
}

// touch notes that the children of rec's nodes changed at seq.
func (m *Model) touch(seq uint64, rec *Record) {
	m.nodeBuf = rec.appendNodes(m.nodeBuf[:0])
	for _, n := range m.nodeBuf {
		for n >= len(m.changedAt) {
			m.changedAt = append(m.changedAt, 0)
		}
		m.changedAt[n] = max(m.changedAt[n], seq)
	}
}

// lastChange is the stream sequence of the last event that changed rec:
// the record's own, or a later correction or retraction of it.
func (r *Record) lastChange() uint64 {
	last := r.seq
	if r.amends != nil {
		for _, list := range [][]Amendment{r.amends.corrections, r.amends.retractions} {
			for _, a := range list {
				last = max(last, a.Seq)
			}
		}
	}
	return last
}

// nodesOf lists the identity nodes a record is indexed under.
func (m *Model) nodesOf(rec *Record) []int { return rec.nodes() }

// childNodes lists the identity nodes of a record's child subjects (not a
// link's pair).
func (rec *Record) childNodes() []int {
	var out []int
	rec.eachSubject(func(ns []int32, _ bool, _ uint32) {
		for _, n := range ns {
			if !slices.Contains(out, int(n)) {
				out = append(out, int(n))
			}
		}
	})
	return out
}

// hintsOf calls fn with every name and date of birth given with node n,
// by the records that gave them, in the order applied.
func (m *Model) hintsOf(n int, fn func(name, dob string, rec *Record)) {
	if n >= len(m.byNode) {
		return
	}
	for _, rec := range m.byNode[n] {
		rec.eachSubject(func(ns []int32, _ bool, hint uint32) {
			if hint != 0 && slices.Contains(ns, int32(n)) {
				name, dob := m.tab.hintOf(hint)
				fn(name, dob, rec)
			}
		})
	}
}

func pairOfEvent(e *events.Event) (a, b events.Identifier, ok bool) {
	switch body := e.Body.(type) {
	case *events.SubjectsLinked:
		return body.A, body.B, true
	case *events.SubjectsUnlinked:
		return body.A, body.B, true
	}
	return a, b, false
}

// IsChild reports whether id names a child now: the id of one, and not
// of a record since merged into another.
func (m *Model) IsChild(id string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.ident.personal[id]
	return ok && m.ident.nodes[m.ident.now.find(n)].personal == id
}

// ChangedSince returns the ids (now) of the children whose chronology or
// identity changed after stream sequence seq. Its cost is the number of
// identifiers, whatever the length of the log.
func (m *Model) ChangedSince(seq uint64) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.ident.view(nil)
	seen := map[string]bool{}
	var out []string
	for n, at := range m.changedAt {
		if at <= seq {
			continue
		}
		if id := v.childID(n); !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (m *Model) index(n int, rec *Record) {
	for len(m.byNode) <= n {
		m.byNode = append(m.byNode, nil)
	}
	list := m.byNode[n]
	if len(list) > 0 && list[len(list)-1] == rec {
		return
	}
	m.byNode[n] = append(list, rec)
}

// target finds the record an amendment refers to and checks who may amend it.
func (m *Model) target(d Delivered, id string) (*Record, error) {
	rec, ok := m.records.get(id)
	var orig *events.Event
	if ok {
		orig = &events.Event{ID: rec.ID(), Type: rec.Type(), Agency: rec.Agency()}
	}
	if err := JudgeAmendment(d.Event, orig); err != nil {
		return nil, err
	}
	return rec, nil
}

// AmendedID returns the id of the event a correction or retraction refers
// to, and false for any other event.
func AmendedID(e *events.Event) (string, bool) {
	switch body := e.Body.(type) {
	case *events.RecordCorrected:
		return body.EventID, true
	case *events.RecordRetracted:
		return body.EventID, true
	}
	return "", false
}

// JudgeAmendment decides whether amendment e (a correction or retraction)
// may amend orig, nil when the hub has not received it: the one rule used by
// the projector, by ingest against the read model, and by the CLI against
// the log. It returns a KindInvalid error wrapping ErrUnknownTarget,
// ErrIdentityTarget or ErrForeignTarget, or one naming the corrected
// payload's problems.
func JudgeAmendment(e, orig *events.Event) error {
	id, ok := AmendedID(e)
	if !ok {
		return nil
	}
	op := "apply " + string(e.Type)
	if orig == nil {
		return events.E(op, events.KindInvalid,
			errors.Join(ErrUnknownTarget, &events.FieldError{Field: "payload.event_id", Problem: fmt.Sprintf("%s is not an event the hub has received", id)}))
	}
	if t := orig.Type; t == "subjects.linked" || t == "subjects.unlinked" {
		undo := "subjects.unlinked (unlinkChildren)"
		if t == "subjects.unlinked" {
			undo = "subjects.linked (linkChildren)"
		}
		return events.E(op, events.KindInvalid,
			errors.Join(ErrIdentityTarget, &events.FieldError{Field: "payload.event_id", Problem: fmt.Sprintf("%s is a %s event: publish %s with a reason instead", id, t, undo)}))
	}
	if e.Agency != orig.Agency && e.Agency != "hub" {
		return events.E(op, events.KindInvalid,
			errors.Join(ErrForeignTarget, &events.FieldError{Field: "agency", Problem: fmt.Sprintf("%q may not amend an event published by %q", e.Agency, orig.Agency)}))
	}
	if c, ok := e.Body.(*events.RecordCorrected); ok && len(c.Payload) > 0 {
		if _, err := events.DecodePayload(orig.Type, c.Payload); err != nil {
			var p events.ProblemSet
			p.Nest("payload.payload", err)
			return events.E("correction", events.KindInvalid, p.Err())
		}
	}
	return nil
}

// CheckAmendment reports whether a correction or retraction could be
// applied now; ingest calls it to reject a correction of an unknown or
// foreign event with a clear error before it reaches the log.
func (m *Model) CheckAmendment(e *events.Event) error {
	id, ok := AmendedID(e)
	if !ok {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, err := m.target(Delivered{Event: e}, id)
	return err
}

// Advance moves the model's position past seq without applying anything:
// for events the projector passes over (invalid ones, quarantined instead).
func (m *Model) Advance(seq uint64) {
	m.mu.Lock()
	m.lastSeq = max(m.lastSeq, seq)
	m.mu.Unlock()
}

// LastSeq is the stream sequence of the last event applied (or skipped).
func (m *Model) LastSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lastSeq
}

// Stats summarises the model for health and logs.
type Stats struct {
	Events      int       `json:"events"`
	Children    int       `json:"children"`
	Identifiers int       `json:"identifiers"`
	Entries     int       `json:"entries"`
	Corrections int       `json:"corrections"`
	Retractions int       `json:"retractions"`
	Duplicates  int       `json:"duplicates_skipped"`
	LastSeq     uint64    `json:"last_seq"`
	LastEvent   time.Time `json:"last_received"`
}

// Stats returns counts for the present.
func (m *Model) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{
		Events: m.events, Children: m.ident.now.count, Identifiers: len(m.ident.nodes),
		Entries: m.records.len(), Corrections: m.corrections, Retractions: m.retractions,
		Duplicates: m.dups, LastSeq: m.lastSeq, LastEvent: m.last,
	}
}

// Digest is a SHA-256 over the whole read model as it would be shown:
// every child, its identifiers and every entry with its version and
// retraction. Two models built from the same log have the same digest,
// however they were built (a live projector, a restart from a snapshot, a
// fresh replay).
func (m *Model) Digest() string {
	// Conflicts and possible matches are read-model state too, computed on
	// the fly; they are in the digest to prove they are deterministic. They
	// take the lock themselves, so they are read first.
	conflicts, matches := m.Conflicts(nil), m.PossibleMatches(nil)
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := sha256.New()
	v := m.ident.viewAll(nil)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	for _, root := range v.roots() {
		c := m.child(v, root, nil)
		fmt.Fprintf(h, "child %s %q %q %t\n", c.ID, c.Names, c.DatesOfBirth, c.Unborn)
		for _, id := range c.Identifiers {
			fmt.Fprintf(h, " id %s %s %d %s\n", id.Identifier, id.EventID, id.Seq, ts(id.Received))
		}
		for _, e := range m.entries(v, root, true) {
			body, _ := json.Marshal(e.Body)
			fmt.Fprintf(h, " entry %s %d %s %s %s %s %s %s %s %s %d %t %q %q %q %s\n", e.EventID, e.Seq, ts(e.Received), e.Agency, e.Type,
				ts(e.OccurredAt), ts(e.RecordedAt), ts(e.AmendedAt), e.Sensitivity, e.Reliability, e.Version, e.Retracted,
				e.Summary, e.AmendReason, e.RetractReason, body)
		}
	}
	for _, c := range conflicts {
		fmt.Fprintf(h, "conflict %s %v %v %s %q\n", c.Kind, c.Identifiers, c.Events, c.ChildID, c.Reason)
	}
	var counters []string
	for k, n := range m.activity {
		counters = append(counters, fmt.Sprintf("activity %d %s %s %d\n", k.day, m.tab.str(k.agency), m.tab.str(k.typ), n))
	}
	for k, n := range m.statutory {
		counters = append(counters, fmt.Sprintf("statutory %d %s %d\n", k.day, measureNames[k.measure], n))
	}
	sort.Strings(counters)
	for _, c := range counters {
		h.Write([]byte(c))
	}
	for _, pm := range matches {
		fmt.Fprintf(h, "match %v %q\n", pm.ChildIDs, pm.Reason)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Child is one child as the hub knows them at some time.
type Child struct {
	// ID is stable (see Identity); MergedInto is set when the id asked
	// for belonged to a record since merged into this one.
	ID           string
	AskedID      string
	Identifiers  []KnownIdentifier
	Names        []string
	DatesOfBirth []string
	// Unborn is set when every identifier is an unborn_of key.
	Unborn bool
}

// KnownIdentifier is an identifier with the event that established it.
type KnownIdentifier struct {
	events.Identifier
	EventID  string
	Seq      uint64
	Received time.Time
}

// FindChild returns the child an identifier belongs to as of asOf (nil:
// now).
func (m *Model) FindChild(k events.Identifier, asOf *time.Time) (Child, bool) {
	return m.findChild(k, asOf, nil)
}

func (m *Model) findChild(k events.Identifier, asOf *time.Time, vis Visibility) (Child, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.ident.index[k]
	if !ok {
		return Child{}, false
	}
	v := m.ident.view(asOf)
	if !v.known(n) || !m.nodeVisible(n, asOf, vis) {
		return Child{}, false
	}
	return m.child(v, v.root(n), vis), true
}

// ChildByID returns the child with id, following merges: an id that was
// merged into another child answers with the survivor (AskedID keeps the id
// asked for).
func (m *Model) ChildByID(id string, asOf *time.Time) (Child, bool) {
	return m.childByID(id, asOf, nil)
}

func (m *Model) childByID(id string, asOf *time.Time, vis Visibility) (Child, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.ident.personal[id]
	if !ok {
		return Child{}, false
	}
	v := m.ident.view(asOf)
	if !v.known(n) {
		return Child{}, false
	}
	c := m.child(v, v.root(n), vis)
	if len(c.Identifiers) == 0 {
		return Child{}, false // nothing about this child is visible
	}
	c.AskedID = id
	return c, true
}

// Sees reports whether ChildByID(id, asOf) would find the child: what
// a list that shows a page of many children asks of each, without
// gathering names it will not show.
func (m *Model) Sees(id string, asOf *time.Time) bool { return m.sees(id, asOf, nil) }

func (m *Model) sees(id string, asOf *time.Time, vis Visibility) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.ident.personal[id]
	if !ok {
		return false
	}
	v := m.ident.view(asOf)
	if !v.known(n) {
		return false
	}
	for _, n := range v.members(v.root(n)) {
		if m.nodeVisible(n, v.asOf, vis) {
			return true // ChildByID lists this node's identifier
		}
	}
	return false
}

func (m *Model) child(v *view, root int, vis Visibility) Child {
	c := Child{ID: m.ident.nodes[root].personal, Unborn: true}
	names, dobs := map[string]bool{}, map[string]bool{}
	for _, n := range v.members(root) {
		nd := m.ident.nodes[n]
		if !m.nodeVisible(n, v.asOf, vis) {
			continue
		}
		c.Identifiers = append(c.Identifiers, KnownIdentifier{Identifier: nd.id, EventID: nd.firstEvent, Seq: nd.firstSeq, Received: nd.firstReceived})
		if nd.id.Scheme != events.SchemeUnbornOf {
			c.Unborn = false
		}
		m.hintsOf(n, func(name, dob string, rec *Record) {
			// Most records repeat a name already shown: only a new one
			// needs the (costlier) look at whether the caller may see it.
			if (name == "" || names[name]) && (dob == "" || dobs[dob]) {
				return
			}
			if !rec.known(v.asOf) || !recordVisible(rec, v.asOf, vis) {
				return
			}
			if name != "" && !names[name] {
				names[name] = true
				c.Names = append(c.Names, name)
			}
			if dob != "" && !dobs[dob] {
				dobs[dob] = true
				c.DatesOfBirth = append(c.DatesOfBirth, dob)
			}
		})
	}
	sort.Strings(c.Names)
	sort.Strings(c.DatesOfBirth)
	return c
}

// Chronology returns the entries of child id as shown at asOf (nil: now),
// sorted by occurred_at then stream sequence. Retracted entries are left out
// unless withRetracted.
func (m *Model) Chronology(id string, asOf *time.Time, withRetracted bool) ([]Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, root, ok := m.childRoot(id, asOf)
	if !ok {
		return nil, false
	}
	return m.entries(v, root, withRetracted), true
}

// childRoot finds the child a personal id names as known at asOf: the
// identity view then and the child's root node. The caller holds m.mu.
func (m *Model) childRoot(id string, asOf *time.Time) (*view, int, bool) {
	n, ok := m.ident.personal[id]
	if !ok {
		return nil, 0, false
	}
	v := m.ident.view(asOf)
	if !v.known(n) {
		return nil, 0, false
	}
	return v, v.root(n), true
}

func (m *Model) entries(v *view, root int, withRetracted bool) []Entry {
	return m.entriesOf(v, root, withRetracted, nil)
}

// entriesOf is entries limited to the records whose type index keep holds
// (nil: every record).
func (m *Model) entriesOf(v *view, root int, withRetracted bool, keep map[uint32]bool) []Entry {
	members := v.members(root)
	// Sized up front: an Entry is large, and growing the slice by doubling
	// is most of what an export over every child allocates.
	size := 0
	for _, n := range members {
		if n < len(m.byNode) {
			for _, rec := range m.byNode[n] {
				if keep == nil || keep[rec.typ] {
					size++
				}
			}
		}
	}
	out := make([]Entry, 0, size)
	seen := make(map[*Record]bool, size)
	for _, n := range members {
		if n >= len(m.byNode) {
			continue
		}
		for _, rec := range m.byNode[n] {
			if seen[rec] || (keep != nil && !keep[rec.typ]) {
				continue
			}
			seen[rec] = true
			e, ok := rec.At(v.asOf)
			if !ok || (e.Retracted && !withRetracted) {
				continue
			}
			out = append(out, e)
		}
	}
	// slices.SortFunc, not sort.Slice: an Entry is large, and the
	// reflection-based swapper copied each through write barriers.
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return out
}

// ChronologyOfTypes is Chronology (retracted entries left out) limited to
// entries of the given types: the others are neither built nor sorted.
// It is for exports that read a few kinds of event of every child.
func (m *Model) ChronologyOfTypes(id string, asOf *time.Time, types []events.Type) ([]Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, root, ok := m.childRoot(id, asOf)
	if !ok {
		return nil, false
	}
	keep := make(map[uint32]bool, len(types))
	for _, t := range types {
		if i, ok := m.tab.index[string(t)]; ok {
			keep[i] = true
		}
	}
	return m.entriesOf(v, root, false, keep), true
}

// Event returns the entry for an event id as shown at asOf, with the ids of
// the children it concerns.
func (m *Model) Event(id string, asOf *time.Time) (Entry, []string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.records.get(id)
	if !ok {
		return Entry{}, nil, false
	}
	e, ok := rec.At(asOf)
	if !ok {
		return Entry{}, nil, false
	}
	v := m.ident.view(asOf)
	var children []string
	for _, n := range rec.childNodes() {
		if c := v.childID(n); !slices.Contains(children, c) {
			children = append(children, c)
		}
	}
	return e, children, true
}

// Marking returns an event's sensitivity and agency as shown at asOf, all
// that a redaction decision needs, without building its entry: the
// worklist asks it of every flag's evidence on every request.
func (m *Model) Marking(id string, asOf *time.Time) (sensitivity, agency string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.records.get(id)
	switch {
	case !ok:
		return "", "", false
	case rec.amends == nil:
		if !rec.known(asOf) {
			return "", "", false
		}
		return rec.tab.str(rec.sensitivity), rec.tab.str(rec.agency), true
	}
	e, ok := rec.At(asOf)
	return e.Sensitivity, e.Agency, ok
}

// Versions returns every version of an event's entry known at asOf (nil:
// now), original first. It reads under the model's lock: corrections are
// appended to a record while the model applies the log.
func (m *Model) Versions(id string, asOf *time.Time) []Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.records.get(id)
	if !ok {
		return nil
	}
	return rec.Versions(asOf)
}

// ChildFilter selects children for Children. Empty fields match all.
type ChildFilter struct {
	// Identifier matches a child holding it (exactly).
	Identifier *events.Identifier
	// Name matches any name hint containing it, case-insensitively.
	Name string
	// DateOfBirth matches a date of birth hint exactly.
	DateOfBirth string
}

// Children returns the children matching f as of asOf, ordered by id.
func (m *Model) Children(f ChildFilter, asOf *time.Time) []Child {
	return m.children(f, asOf, nil)
}

func (m *Model) children(f ChildFilter, asOf *time.Time, vis Visibility) []Child {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var v *view
	var roots []int
	if f.Identifier != nil {
		v = m.ident.view(asOf)
		if n, ok := m.ident.index[*f.Identifier]; ok && v.known(n) && m.nodeVisible(n, asOf, vis) {
			roots = []int{v.root(n)}
		}
	} else {
		v = m.ident.viewAll(asOf)
		for _, r := range v.roots() {
			if v.known(r) {
				roots = append(roots, r)
			}
		}
	}
	name := strings.ToLower(strings.TrimSpace(f.Name))
	var out []Child
	for _, r := range roots {
		c := m.child(v, r, vis)
		if len(c.Identifiers) == 0 {
			continue
		}
		if name != "" && !slices.ContainsFunc(c.Names, func(s string) bool { return strings.Contains(strings.ToLower(s), name) }) {
			continue
		}
		if f.DateOfBirth != "" && !slices.Contains(c.DatesOfBirth, f.DateOfBirth) {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Visibility decides whether a caller may see an entry; nil sees all.
type Visibility func(Entry) bool

// eventVisible reports whether the record of an event, as shown at asOf,
// is visible.
func (m *Model) eventVisible(id string, asOf *time.Time, vis Visibility) bool {
	if vis == nil {
		return true
	}
	rec, ok := m.records.get(id)
	return ok && recordVisible(rec, asOf, vis)
}

// recordVisible reports whether a record, as shown at asOf, is visible.
func recordVisible(rec *Record, asOf *time.Time, vis Visibility) bool {
	if vis == nil {
		return true
	}
	e, ok := rec.At(asOf)
	return ok && vis(e)
}

// nodeVisible reports whether any visible entry carries identifier n: an
// identifier known only from entries the caller may not see is not shown,
// and does not find the child.
func (m *Model) nodeVisible(n int, asOf *time.Time, vis Visibility) bool {
	if vis == nil {
		return true
	}
	if n >= len(m.byNode) {
		return false
	}
	for _, rec := range m.byNode[n] {
		if e, ok := rec.At(asOf); ok && vis(e) {
			return true
		}
	}
	return false
}

// Lens is the model as one caller may see it: identifiers, names and dates
// of birth that only hidden entries carry are left out, and do not find
// anyone. Chronology and Event return every entry; the gateway shows hidden
// ones as placeholders.
type Lens struct {
	m   *Model
	vis Visibility
}

// Through returns the model as seen through vis.
func (m *Model) Through(vis Visibility) Lens { return Lens{m: m, vis: vis} }

// FindChild is Model.FindChild through the lens.
func (l Lens) FindChild(k events.Identifier, asOf *time.Time) (Child, bool) {
	return l.m.findChild(k, asOf, l.vis)
}

// ChildByID is Model.ChildByID through the lens.
func (l Lens) ChildByID(id string, asOf *time.Time) (Child, bool) {
	return l.m.childByID(id, asOf, l.vis)
}

// Sees is Model.Sees through the lens.
func (l Lens) Sees(id string, asOf *time.Time) bool { return l.m.sees(id, asOf, l.vis) }

// Children is Model.Children through the lens.
func (l Lens) Children(f ChildFilter, asOf *time.Time) []Child { return l.m.children(f, asOf, l.vis) }

// Chronology is Model.Chronology: all entries, for the gateway to redact.
func (l Lens) Chronology(id string, asOf *time.Time, withRetracted bool) ([]Entry, bool) {
	if _, ok := l.ChildByID(id, asOf); !ok {
		return nil, false
	}
	return l.m.Chronology(id, asOf, withRetracted)
}

// Event is Model.Event: the entry, for the gateway to redact.
func (l Lens) Event(id string, asOf *time.Time) (Entry, []string, bool) { return l.m.Event(id, asOf) }

// Versions is Model.Versions: every version, for the gateway to redact one
// by one (a version's sensitivity may differ from the current one's).
func (l Lens) Versions(id string, asOf *time.Time) []Entry { return l.m.Versions(id, asOf) }

// Conflicts lists the conflicts whose evidence the caller may see in full.
func (l Lens) Conflicts(asOf *time.Time) []Conflict {
	all := l.m.Conflicts(asOf)
	if l.vis == nil {
		return all
	}
	l.m.mu.RLock()
	defer l.m.mu.RUnlock()
	var out []Conflict
	for _, c := range all {
		ok := true
		for _, id := range c.Events {
			if !l.m.eventVisible(id, asOf, l.vis) {
				ok = false
				break
			}
		}
		for _, k := range c.Identifiers {
			if n, found := l.m.ident.index[k]; !found || !l.m.nodeVisible(n, asOf, l.vis) {
				ok = false
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// PossibleMatches is Model.PossibleMatches on visible names and dates of
// birth only.
func (l Lens) PossibleMatches(asOf *time.Time) []PossibleMatch {
	return l.m.possibleMatches(asOf, l.vis)
}

// LastSeq is the model's position.
func (l Lens) LastSeq() uint64 { return l.m.LastSeq() }

// Entries returns every entry as shown at asOf (nil: now), retracted ones
// left out, in stream order, with the ids of the children each concerns.
// Statistics and exports are built from it.
func (m *Model) Entries(asOf *time.Time) ([]Entry, [][]string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.ident.viewAll(asOf)
	var out []Entry
	var children [][]string
	for _, rec := range m.order {
		e, ok := rec.At(asOf)
		if !ok || e.Retracted {
			continue
		}
		var ids []string
		for _, n := range m.nodesOf(rec) {
			if id := v.childID(n); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		out = append(out, e)
		children = append(children, ids)
	}
	return out, children
}
