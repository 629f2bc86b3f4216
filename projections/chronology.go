package projections

import (
	"slices"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Record is one chronology entry as kept: the event as received, in
// compact form, and every correction and retraction that arrived later. A
// correction changes what is shown, never what is kept.
//
// A hub holds millions of records, so a record keeps only what reads,
// filters and rules need, in fixed-size fields: times as integers, the
// event id as 16 bytes, repeated strings (type, agency, summary, source
// system) as indexes into the model's table, the payload as the compact JSON
// it arrived in (decoded when an entry is shown, behind a bounded cache),
// and the identity nodes of its subjects. Everything else an event carried
// is still in the log.
type Record struct {
	seq                          uint64
	received, occurred, recorded int64 // Unix nanoseconds
	key                          eventKey
	typ, agency, summary, source uint32 // indexes into tab's strings
	sensitivity, reliability     uint32
	refLen                       uint32 // text is the source reference, then the payload
	text                         string
	// groups are the identity nodes of the event's child subjects, each
	// subject's followed by a mark (childMark or unbornMark) and the
	// index of its name and date of birth in tab (0 for none); a link or
	// unlink adds pairMark and its pair. Walk them with eachSubject.
	groups []int32
	amends *amendments
	tab    *tables
}

// sourceRef and payload are the two halves of text: one allocation, not two.
func (r *Record) sourceRef() string { return r.text[:r.refLen] }
func (r *Record) payload() string   { return r.text[r.refLen:] }

// eachSubject calls fn with each child subject's identity nodes, whether
// it is an unborn child, and its name-and-date-of-birth hint (see hintOf).
func (r *Record) eachSubject(fn func(nodes []int32, unborn bool, hint uint32)) {
	g := r.groups
	for start, i := 0, 0; i < len(g); i++ {
		switch g[i] {
		case pairMark:
			return
		case childMark, unbornMark:
			var hint uint32
			if i+1 < len(g) {
				hint = uint32(g[i+1])
			}
			fn(g[start:i], g[i] == unbornMark, hint)
			i++
			start = i + 1
		}
	}
}

// pairNodes returns the pair a link or unlink names.
func (r *Record) pairNodes() (a, b int, ok bool) {
	g := r.groups
	for i := 0; i+2 < len(g); i++ {
		switch g[i] {
		case pairMark:
			return int(g[i+1]), int(g[i+2]), true
		case childMark, unbornMark:
			i++ // the hint
		}
	}
	return 0, 0, false
}

// nodes lists the identity nodes the record is indexed under, once each:
// its child subjects', then a link's pair.
func (r *Record) nodes() []int { return r.appendNodes(nil) }

// appendNodes appends the nodes r is indexed under (see nodes) to out.
func (r *Record) appendNodes(out []int) []int {
	r.eachSubject(func(ns []int32, _ bool, _ uint32) {
		for _, n := range ns {
			if !slices.Contains(out, int(n)) {
				out = append(out, int(n))
			}
		}
	})
	if a, b, ok := r.pairNodes(); ok {
		for _, n := range []int{a, b} {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// amendments are a record's corrections and retractions, in the order
// received: few records have any.
type amendments struct {
	corrections, retractions []Amendment
}

// Corrections returns the corrections received, oldest first.
func (r *Record) Corrections() []Amendment {
	if r.amends == nil {
		return nil
	}
	return r.amends.corrections
}

// Retractions returns the retractions received, oldest first.
func (r *Record) Retractions() []Amendment {
	if r.amends == nil {
		return nil
	}
	return r.amends.retractions
}

// ID is the event's id.
func (r *Record) ID() string {
	if r.key == (eventKey{}) {
		if id, ok := r.tab.oddID(r); ok {
			return id
		}
	}
	return r.key.String()
}

// Seq is the stream sequence the record was applied at.
func (r *Record) Seq() uint64 { return r.seq }

// Received is when the hub received the event.
func (r *Record) Received() time.Time { return fromNanos(r.received) }

// Type is the event's type.
func (r *Record) Type() events.Type { return events.Type(r.tab.str(r.typ)) }

// Agency is the agency that published the event.
func (r *Record) Agency() string { return r.tab.str(r.agency) }

// Unborn reports whether one of the event's subjects is an unborn child.
func (r *Record) Unborn() bool {
	unborn := false
	r.eachSubject(func(_ []int32, u bool, _ uint32) { unborn = unborn || u })
	return unborn
}

// fromNanos is the inverse of UnixNano, in UTC; zero stays the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Amendment is a correction or retraction of a record.
type Amendment struct {
	Delivered
	Reason string
	// Correction holds the corrected fields (nil for a retraction); Body is
	// the corrected payload decoded, when one was given.
	Correction *events.RecordCorrected
	Body       events.Payload
}

// Entry is a record as shown at some time: the original with every
// correction received by then applied.
type Entry struct {
	EventID      string
	Seq          uint64
	Received     time.Time
	Type         events.Type
	Agency       string
	SourceSystem string
	SourceRef    string
	Summary      string
	Sensitivity  string
	Reliability  string
	OccurredAt   time.Time
	RecordedAt   time.Time
	// body is the corrected payload when a correction gave one; otherwise
	// Body decodes the record's own, when asked.
	body events.Payload
	// Version is 1 for the original and counts the corrections applied.
	Version int
	// AmendedAt is when the version shown was received (the correction's
	// receipt time, or the original's).
	AmendedAt time.Time
	// AmendReason is the latest correction's reason.
	AmendReason string
	// Retracted is set when a retraction had been received; RetractReason
	// says why.
	Retracted     bool
	RetractReason string
	RetractedAt   time.Time

	record *Record
}

// Body is the entry's payload, decoded: the latest correction's when one
// gave a payload, else the event's own. It is decoded on demand (and
// cached for a while by the model), because most reads show the entry
// without it.
func (e Entry) Body() events.Payload {
	if e.body != nil || e.record == nil {
		return e.body
	}
	return e.record.tab.payload(e.record)
}

// WithBody returns the entry showing payload p instead: for building
// entries outside a model (tests, imports judged before they are applied).
func (e Entry) WithBody(p events.Payload) Entry {
	e.body = p
	return e
}

// Corrected reports whether the entry shows a corrected version.
func (e Entry) Corrected() bool { return e.Version > 1 }

// Record returns the record behind the entry, for its version history.
func (e Entry) Record() *Record { return e.record }

// known reports whether the record had been received by asOf (nil: now).
func (r *Record) known(asOf *time.Time) bool {
	return asOf == nil || r.received <= asOf.UnixNano()
}

// Versions returns the entry as it stood after the original and after each
// correction received by asOf, oldest first.
func (r *Record) Versions(asOf *time.Time) []Entry {
	if !r.known(asOf) {
		return nil
	}
	e := r.original()
	out := []Entry{e}
	for _, c := range r.Corrections() {
		if asOf != nil && c.Received.After(*asOf) {
			break
		}
		e = e.apply(c)
		out = append(out, e)
	}
	for i := range out {
		out[i].retraction(r, asOf)
	}
	return out
}

// At returns the entry as shown at asOf (nil: now); ok is false when the
// hub had not received it yet.
func (r *Record) At(asOf *time.Time) (Entry, bool) {
	if r.amends == nil { // most records: no versions to build
		if !r.known(asOf) {
			return Entry{}, false
		}
		return r.original(), true
	}
	vs := r.Versions(asOf)
	if len(vs) == 0 {
		return Entry{}, false
	}
	return vs[len(vs)-1], true
}

func (r *Record) original() Entry {
	t := r.tab
	received := fromNanos(r.received)
	return Entry{
		EventID: r.ID(), Seq: r.seq, Received: received, Type: events.Type(t.str(r.typ)), Agency: t.str(r.agency),
		SourceSystem: t.str(r.source), SourceRef: r.sourceRef(), Summary: t.str(r.summary),
		Sensitivity: t.str(r.sensitivity), Reliability: t.str(r.reliability), OccurredAt: fromNanos(r.occurred),
		RecordedAt: fromNanos(r.recorded), Version: 1, AmendedAt: received, record: r,
	}
}

func (e Entry) apply(c Amendment) Entry {
	f := c.Correction
	if f.Summary != "" {
		e.Summary = f.Summary
	}
	if f.OccurredAt != "" {
		if t, err := time.Parse(time.RFC3339Nano, f.OccurredAt); err == nil {
			e.OccurredAt = t
		}
	}
	if f.Sensitivity != "" {
		e.Sensitivity = f.Sensitivity
	}
	if f.Reliability != "" {
		e.Reliability = f.Reliability
	}
	if c.Body != nil {
		e.body = c.Body
	}
	e.Version++
	e.AmendedAt, e.AmendReason = c.Received, c.Reason
	return e
}

func (e *Entry) retraction(r *Record, asOf *time.Time) {
	for _, x := range r.Retractions() {
		if asOf == nil || !x.Received.After(*asOf) {
			e.Retracted, e.RetractReason, e.RetractedAt = true, x.Reason, x.Received
			return
		}
	}
}

// Absence reports whether the entry is a missing.reported episode recorded
// as an absence: the child was not where they should be but their
// whereabouts were known (police category absent; for a looked-after child,
// SSDA903 code A, away from placement without authorisation). The statutory
// guidance on children who run away or go missing from home or care (DfE
// 2014) and SSDA903 keep absence apart from missing, and so do the flags.
// An episode is an absence only when no classification on it says missing:
// police recording "missing" or a carer recording SSDA903 "M" (whereabouts
// unknown) makes it a missing episode, which errs towards the child.
func (e Entry) Absence() bool {
	m, ok := e.Body().(*events.MissingReported)
	return ok && m.Category == "absent" && m.LookedAfterCode != "M"
}

// Title is the entry's human name: its type's title, except that a
// missing.reported entry says which it was, missing or absent, so that an
// absence reads as one in the chronology while its type stays
// missing.reported for filters.
func (e Entry) Title() string {
	if m, ok := e.Body().(*events.MissingReported); ok && e.Type == "missing.reported" {
		if e.Absence() {
			return "Reported absent (whereabouts known)"
		}
		if m.Category != "" {
			return "Reported missing"
		}
	}
	if s, ok := events.Lookup(e.Type); ok {
		return s.Title
	}
	return string(e.Type)
}

// Retraction returns the retraction in force on the entry as shown, with
// its own agency and sensitivity: a reader who may see the entry may still
// not be allowed the retraction's reason. It is the first retraction the
// hub received (as retraction does; a second retraction of a retracted
// entry changes nothing shown), found without RetractedAt, which a reader
// may move (hindsight counts a retraction from when it was made).
func (e Entry) Retraction() (Amendment, bool) {
	if !e.Retracted || e.record == nil || len(e.record.Retractions()) == 0 {
		return Amendment{}, false
	}
	return e.record.Retractions()[0], true
}
