// Package flags turns a child's history into risk flags: rules over the
// chronology, each flag with its code, severity, a plain-English reason that
// names the numbers, the events that are its evidence, and when it was raised
// and cleared.
//
// A rule is a pure function of (history as known at T, evaluation time T):
// it sees only entries the hub had received by T, and it works out from their
// dates when its condition became true and when it stopped. So a practice
// review can ask what would have shown on any past date, and the same log
// always gives the same flags. A flag counts as raised no earlier than the
// hub received the evidence that completed it: a late record cannot make the
// hub have known sooner.
//
// The history includes retracted entries, each with when its retraction
// became known: an entry counts from when the hub had it until it was
// retracted. So a flag whose evidence was retracted (police: wrong child)
// is not lost: it shows as raised when it was, and cleared when the
// retraction was known, "evidence retracted by police on …".
package flags

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// Severities, in the order the worklist sorts them.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
)

// SeverityRank orders severities, highest first.
func SeverityRank(s string) int {
	switch s {
	case High:
		return 0
	case Medium:
		return 1
	}
	return 2
}

// Flag is one occurrence of a rule's condition.
type Flag struct {
	Code     string
	Severity string
	Title    string
	// Reason says why in plain English, with the numbers.
	Reason string
	// Evidence are the ids of the events the flag rests on.
	Evidence []string
	// RaisedAt is when the condition held and the hub knew it.
	RaisedAt time.Time
	// ClearedAt is set when the condition stopped holding, by the
	// evaluation time; ClearReason says why.
	ClearedAt   *time.Time
	ClearReason string
	// ClearedBy are the entries that became known at the moment the flag
	// cleared: the interview, conference or plan end that cleared it. The
	// clear reason speaks of them, so a caller who may not see one of them
	// must not see the reason either.
	ClearedBy []string
	// Retraction is set when the flag cleared because an entry it rested
	// on was retracted; ClearReason then says by whom, when and why. A
	// reader who may not see the retraction withholds its reason.
	Retraction *Retraction
	// Key identifies the occurrence across evaluations (code and the event
	// it starts from), so that an alert is sent once per raise and clear.
	Key string
	// Deadline is set on the flags of the statutory deadline rules (an
	// assessment, a conference, a core group, a decision or a return home
	// interview that is late): when the deadline was missed, so a worklist
	// can say how late it is (OverdueBy). It is the zero Deadline on every
	// other flag. (A value, not a pointer: flags are compared as printed.)
	Deadline Deadline
}

// Deadline is a missed statutory deadline.
type Deadline struct {
	// Missed is the first instant it was missed: 00:00 in England on the
	// working day after the last permitted date for a deadline in working
	// days or months; the hour itself for one in hours.
	Missed time.Time
	// InHours is set for a deadline the statute gives in hours (the return
	// home interview's 72), which is late by the clock, weekends included.
	InHours bool
}

// IsZero reports whether this is no deadline (the zero Deadline).
func (d Deadline) IsZero() bool { return d.Missed.IsZero() }

// OverdueBy says how late the deadline is at time at, as a practitioner
// counts it: in working days for a deadline in working days or months
// (England and Wales bank holidays off; the first working day after the
// last permitted date is 1 working day overdue), in days and hours by the
// clock for one in hours ("5 hours", "2 days"). Empty before it is missed,
// and for the zero Deadline.
func (d Deadline) OverdueBy(at time.Time) string {
	if d.IsZero() || at.Before(d.Missed) {
		return ""
	}
	if d.InHours {
		late := at.Sub(d.Missed)
		switch {
		case late < time.Hour:
			return "less than an hour"
		case late < 24*time.Hour:
			return plural(int(late/time.Hour), "hour", "hours")
		}
		return plural(int(late/(24*time.Hour)), "day", "days")
	}
	var cal Calendar
	n := 0
	for d, last := dateOf(d.Missed), dateOf(at); !d.After(last); d = d.AddDate(0, 0, 1) {
		if cal.isWorkingDate(d.Year(), d.Month(), d.Day()) {
			n++
		}
	}
	return plural(n, "working day", "working days")
}

// Retraction is the retraction that cleared a flag.
type Retraction struct {
	// EventID is the entry retracted.
	EventID string
	// Agency and Sensitivity are the retraction's own: who retracted the
	// entry, and who may read why.
	Agency      string
	Sensitivity string
	// At is when it took effect: when the hub received it (with
	// hindsight, when it was made).
	At     time.Time
	Reason string
}

// Text is the clear reason a retraction gives, "evidence retracted by
// police on 10 March 2025: Wrong child", with its reason or, for a reader
// who may not see that, without.
func (r Retraction) Text(withReason bool) string {
	who := strings.ReplaceAll(r.Agency, "_", " ")
	if r.Agency == "hub" {
		who = "the hub"
	}
	s := fmt.Sprintf("evidence retracted by %s on %s", who, day(r.At))
	if withReason && r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// Active reports whether the flag holds at the evaluation time.
func (f Flag) Active() bool { return f.ClearedAt == nil }

// History is what rules read: one child's chronology as known at the
// evaluation time (corrections applied; retracted entries included and
// marked, with when the retraction was received) and their date of birth
// when any agency gave one. HistoryOf builds it from a read model.
type History struct {
	Entries     []projections.Entry
	DateOfBirth *time.Time
	// Hindsight counts every entry as known from when it happened rather
	// than from when the hub received it, and every retraction from when
	// it was made: for asking, with what is known now, what held on a past
	// date. Without it (the default) a flag is raised no earlier than the
	// hub had the evidence, which is what a practice review of "what would
	// have shown" needs.
	Hindsight bool
}

// Evaluate applies every enabled rule to h at time at and returns the flags
// raised by then, active first (by severity, then most recent), then those
// cleared. It also returns the next time after at when a flag could change
// without any new event (a deadline passing, a window closing), or zero.
func Evaluate(h History, at time.Time, cfg Config) ([]Flag, time.Time) {
	if h.Hindsight {
		entries := make([]projections.Entry, len(h.Entries))
		copy(entries, h.Entries)
		for i := range entries {
			if entries[i].Received.After(entries[i].OccurredAt) {
				entries[i].Received = entries[i].OccurredAt
			}
			if x, ok := entries[i].Retraction(); ok && x.Event != nil && x.Event.OccurredAt.Before(entries[i].RetractedAt) {
				entries[i].RetractedAt = x.Event.OccurredAt
			}
		}
		h.Entries = entries
	}
	e := &evaluation{h: h, at: at, cal: &Calendar{}}
	var out []Flag
	for _, r := range cfg.rules() {
		for _, occ := range r.fn(e, r) {
			if occ.start.After(at) {
				e.next(occ.start)
				continue
			}
			f := Flag{Code: r.Code, Severity: r.Severity, Title: r.Title, Reason: occ.reason, Evidence: occ.evidence,
				RaisedAt: occ.start, Key: r.Code + ":" + occ.anchor, Deadline: occ.deadline}
			if occ.severity != "" && SeverityRank(occ.severity) < SeverityRank(f.Severity) {
				f.Severity = occ.severity
			}
			switch {
			case occ.end.IsZero():
			case !occ.end.After(at):
				end := occ.end
				f.ClearedAt, f.ClearReason, f.ClearedBy = &end, occ.clearReason, knownAt(h.Entries, end)
				if x, ok := retractedAt(h.Entries, occ.evidence, end); ok {
					f.ClearReason, f.Retraction = x.Text(true), &x
					f.ClearedBy = append(f.ClearedBy, x.EventID)
				}
			default:
				e.next(occ.end)
			}
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Active() != b.Active() {
			return a.Active()
		}
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if !a.RaisedAt.Equal(b.RaisedAt) {
			return a.RaisedAt.After(b.RaisedAt)
		}
		return a.Key < b.Key
	})
	return out, e.nextChange
}

// occurrence is what a rule finds: an interval when its condition held.
type occurrence struct {
	anchor      string // event id the occurrence is keyed by
	start, end  time.Time
	reason      string
	clearReason string // why it ended; a retraction of its evidence says so instead
	evidence    []string
	severity    string // overrides the rule's when higher
	deadline    Deadline
}

// retractedAt finds the evidence whose retraction took effect at t: the
// reason an occurrence ended then.
func retractedAt(entries []projections.Entry, evidence []string, t time.Time) (Retraction, bool) {
	for _, en := range entries {
		if !en.Retracted || !en.RetractedAt.Equal(t) || !slices.Contains(evidence, en.EventID) {
			continue
		}
		x := Retraction{EventID: en.EventID, Agency: en.Agency, Sensitivity: en.Sensitivity, At: t, Reason: en.RetractReason}
		if a, ok := en.Retraction(); ok && a.Event != nil {
			x.Agency, x.Sensitivity = a.Event.Agency, a.Event.Sensitivity
		}
		return x, true
	}
	return Retraction{}, false
}

// evaluation carries one Evaluate call's inputs and helpers.
type evaluation struct {
	h          History
	at         time.Time
	cal        *Calendar
	nextChange time.Time
	cpEnds     []projections.Entry // see planEnds; nil until asked
	// changed is every entry's change times, sorted (see changesAfter);
	// nil until asked.
	changed []time.Time
	// ofTypes remembers of's answers: the rules ask for the same types
	// many times over.
	ofTypes []typesOf
}

type typesOf struct {
	types   []events.Type
	entries []projections.Entry
}

// changesAfter appends to dst the times after t at which any entry
// changes (see changes). A rule with a deadline per entry asks this once
// per entry; the times are worked out once per evaluation.
func (e *evaluation) changesAfter(dst []time.Time, t time.Time) []time.Time {
	if e.changed == nil {
		e.changed = make([]time.Time, 0, 2*len(e.h.Entries))
		for _, en := range e.h.Entries {
			e.changed = appendChanges(e.changed, en)
		}
		sortTimes(e.changed)
	}
	i := sort.Search(len(e.changed), func(i int) bool { return e.changed[i].After(t) })
	return append(dst, e.changed[i:]...)
}

func (e *evaluation) next(t time.Time) {
	if t.After(e.at) && (e.nextChange.IsZero() || t.Before(e.nextChange)) {
		e.nextChange = t
	}
}

// of returns the entries of the given types, in occurred order. The slice
// is shared by every caller in the evaluation: read it, do not change it
// (its capacity is its length, so an append copies).
func (e *evaluation) of(types ...events.Type) []projections.Entry {
	for _, c := range e.ofTypes {
		if slices.Equal(c.types, types) {
			return c.entries
		}
	}
	var out []projections.Entry
	for _, en := range e.h.Entries {
		if slices.Contains(types, en.Type) {
			out = append(out, en)
		}
	}
	out = out[:len(out):len(out)]
	e.ofTypes = append(e.ofTypes, typesOf{types: slices.Clone(types), entries: out})
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// run is a maximal stretch of time when a rule's condition held.
type run struct {
	start, end time.Time // end is zero while it still holds at the evaluation time
	// evidence is every entry the condition rested on during the run, in
	// occurred order; anchor is the earliest of those it rested on when it
	// started, which later evidence cannot change, so it keys the flag.
	evidence []projections.Entry
	anchor   string
	why      string // set by the deadline rules: why it ended
	deadline Deadline
}

// condition says whether a rule holds at t, considering only entries the hub
// had received by t, and on which evidence. The evidence may be overwritten
// by the next call (a condition reuses its buffer): runs copies what it
// keeps.
type condition func(t time.Time) (bool, []projections.Entry)

// runs evaluates holds at every change point up to the evaluation time and
// returns the stretches when it held. Points after the evaluation time are
// remembered as the next time a flag could change.
func (e *evaluation) runs(points []time.Time, holds condition) []run {
	sortTimes(points)
	var out []run
	var cur *run
	var last time.Time
	for _, p := range points {
		if p.Equal(last) && !last.IsZero() {
			continue
		}
		last = p
		if p.After(e.at) {
			e.next(p)
			break
		}
		ok, ev := holds(p)
		switch {
		case ok && cur == nil:
			cur = &run{start: p, evidence: appendNew(nil, ev)}
			sortEntries(cur.evidence)
			cur.anchor = cur.evidence[0].EventID
		case ok:
			cur.evidence = appendNew(cur.evidence, ev)
		case cur != nil:
			cur.end = p
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	for _, r := range out {
		sortEntries(r.evidence)
	}
	return out
}

// sortEntries puts entries in chronology order: occurred, then sequence.
func sortEntries(es []projections.Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		if !es[i].OccurredAt.Equal(es[j].OccurredAt) {
			return es[i].OccurredAt.Before(es[j].OccurredAt)
		}
		return es[i].Seq < es[j].Seq
	})
}

// knownAt returns the ids of the entries that became known exactly at t.
func knownAt(entries []projections.Entry, t time.Time) []string {
	var out []string
	for _, en := range entries {
		if later(en.OccurredAt, en.Received).Equal(t) {
			out = append(out, en.EventID)
		}
	}
	return out
}

// knownBy reports whether the hub had an entry by t: received, happened,
// and not yet retracted.
func knownBy(en projections.Entry, t time.Time) bool {
	return !en.Received.After(t) && !en.OccurredAt.After(t) && (!en.Retracted || en.RetractedAt.After(t))
}

// knownSpan is when knownBy holds for an entry, as Unix nanoseconds: from
// when it both happened and was received, until its retraction took effect
// (for ever without one). A rule asked at every change point about every
// entry compares two integers per entry instead of three times.
type knownSpan struct{ from, until int64 }

func spanOf(en projections.Entry) knownSpan {
	s := knownSpan{from: max(en.Received.UnixNano(), en.OccurredAt.UnixNano()), until: math.MaxInt64}
	if en.Retracted {
		s.until = en.RetractedAt.UnixNano()
	}
	return s
}

// holdsAt reports knownBy at t (as Unix nanoseconds).
func (s knownSpan) holdsAt(t int64) bool { return s.from <= t && t < s.until }

// changes are the times knownBy can change for an entry: when it happened,
// when the hub received it, and when its retraction took effect.
func changes(en projections.Entry) []time.Time { return appendChanges(nil, en) }

// appendChanges appends en's change times (see changes) to dst.
func appendChanges(dst []time.Time, en projections.Entry) []time.Time {
	dst = append(dst, en.OccurredAt, en.Received)
	if en.Retracted {
		dst = append(dst, en.RetractedAt)
	}
	return dst
}

// pointsOf collects every entry's change times, plus its occurred and known
// times shifted by the given offsets (window ends, deadlines).
func pointsOf(entries []projections.Entry, offsets ...func(time.Time) time.Time) []time.Time {
	var out []time.Time
	for _, en := range entries {
		out = appendChanges(out, en)
		for _, off := range offsets {
			out = append(out, off(en.OccurredAt), off(later(en.OccurredAt, en.Received)))
		}
	}
	return out
}

func appendNew(dst, src []projections.Entry) []projections.Entry {
	for _, s := range src {
		dup := false
		for _, d := range dst {
			if d.EventID == s.EventID {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, s)
		}
	}
	return dst
}

func ids(entries []projections.Entry) []string {
	out := make([]string, len(entries))
	for i, en := range entries {
		out[i] = en.EventID
	}
	return out
}

// day writes a date the way a practitioner reads it: "2 March 2024", the
// date in England, as the calendar counts it.
func day(t time.Time) string { return t.In(london).Format("2 January 2006") }

// minute renders a time of day as a practitioner in England reads it, with
// the zone, because a return at 23:30 GMT and one at 00:30 BST are a day
// apart on the calendar.
func minute(t time.Time) string { return t.In(london).Format("2 January 2006 15:04 MST") }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
