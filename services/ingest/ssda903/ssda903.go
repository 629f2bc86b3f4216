// Package ssda903 maps the Department for Education's SSDA903 return (the
// children looked after tables, as CSV) to Chronicle events: the header
// table's children, their looked-after episodes, missing and absent
// episodes, and reviews. Every year's column set since 2017 is read; a
// table is recognised by its columns, not its file name. Standard library
// only.
package ssda903

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/ingest/statutory"
)

// SourceSystem is the source_system of every event an SSDA903 import
// publishes; like the census's, it names no year, so that next year's
// return repeating an episode maps it to the same event.
const SourceSystem = "ssda903"

// Table is one of the SSDA903 tables Chronicle imports.
type Table string

// The tables, in the order they are imported: the header first, because it
// gives each child's UPN and date of birth to the events of the others.
const (
	Header   Table = "header"
	Episodes Table = "episodes"
	Missing  Table = "missing"
	Reviews  Table = "reviews"
)

// Tables lists the tables in import order.
var Tables = []Table{Header, Episodes, Missing, Reviews}

// required are the columns each table must have; the others are optional.
// A table is recognised by its distinctive columns (the first two).
var required = map[Table][]string{
	Header:   {"SEX", "ETHNIC", "CHILD", "DOB"},
	Episodes: {"DECOM", "RNE", "CHILD", "LS", "PLACE"},
	Missing:  {"MIS_START", "MISSING", "CHILD"},
	Reviews:  {"REVIEW_CODE", "REVIEW", "CHILD"},
}

// Columns maps upper-case column names to their position in a table.
type Columns map[string]int

// Detect recognises a table from its header row. ok is false for a CSV of
// another kind (another SSDA903 table, or something else); err names a
// recognised table's missing columns.
func Detect(header []string) (t Table, cols Columns, ok bool, err error) {
	cols = Columns{}
	for i, h := range header {
		cols[strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, t := range Tables {
		req := required[t]
		if _, a := cols[req[0]]; !a {
			continue
		}
		if _, b := cols[req[1]]; !b {
			continue
		}
		var missing []string
		for _, c := range req {
			if _, ok := cols[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return t, cols, true, fmt.Errorf("the %s table lacks column %s", t, strings.Join(missing, ", "))
		}
		return t, cols, true, nil
	}
	return "", cols, false, nil
}

// Code lists of the SSDA903 guidance that the catalogue keeps as text.
var (
	placements = []string{"A3", "A4", "A5", "A6", "H5", "K1", "K2", "P1", "P2", "P3", "R1", "R2", "R3", "R5", "S1",
		"T0", "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5", "U6", "Z1"}
	// reasonsCeased holds every year's codes: E43 and E44 were replaced
	// by E45 to E48 in the 2019 return.
	reasonsCeased = []string{"X1", "E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41", "E43", "E44", "E45", "E46", "E47", "E48",
		"E5", "E6", "E7", "E9", "E14", "E15", "E16", "E17", "E8"}
	unknownUPN = regexp.MustCompile(`^UN[1-7]$`)
)

// Mapper turns rows into events. It remembers each child of the header
// table (identifiers and date of birth) for the rows of the other tables.
type Mapper struct {
	// Zone places dates: a date is the start of that day there. Nil means
	// Europe/London.
	Zone     *time.Location
	subjects map[string]events.Subject
}

// Row maps one row of table t. It returns the child's id and the row's
// events, or an error listing every problem with its column.
func (m *Mapper) Row(t Table, cols Columns, record []string) (child string, evs []*events.Event, err error) {
	r := &row{m: m, cols: cols, record: record}
	child = r.text("CHILD")
	if child == "" {
		r.p.Add("CHILD", "is required: a row with no child id cannot be imported")
		return "", nil, r.p.Err()
	}
	if !statutory.ValidChildID(child) {
		r.p.Add("CHILD", "%q is not a child id (at most %d characters, no / or line breaks)", child, events.MaxShortText)
		return "", nil, r.p.Err()
	}
	r.ref = "ssda903/" + child
	r.subject = m.subject(child)
	if r.subject.DateOfBirth == "" {
		if dob := r.date("DOB"); !dob.IsZero() {
			r.subject.DateOfBirth = events.Date(dob.Format(time.DateOnly))
		}
	}
	switch t {
	case Header:
		r.header(child)
	case Episodes:
		r.episode()
	case Missing:
		r.missing()
	case Reviews:
		at := r.date("REVIEW")
		code := r.code("REVIEW_CODE", events.ReviewParticipation.Values())
		if !at.IsZero() {
			r.add("looked_after.review_held", at, "/review/"+day(at), "Looked-after review (SSDA903)"+suffix(", participation ", code), &events.LookedAfterReview{Participation: code})
		}
	}
	if err := r.p.Err(); err != nil {
		return child, nil, err
	}
	return child, r.events, nil
}

func (m *Mapper) subject(child string) events.Subject {
	if s, ok := m.subjects[child]; ok {
		return s
	}
	return events.Subject{Identifiers: events.Identifiers{LAPersonID: child}}
}

func (r *row) header(child string) {
	s := events.Subject{Identifiers: events.Identifiers{LAPersonID: child}}
	details := &events.ChildDetails{
		Sex:       r.code("SEX", []string{"1", "2"}),
		Ethnicity: r.code("ETHNIC", events.Ethnicities.Values()),
	}
	switch upn := r.text("UPN"); {
	case unknownUPN.MatchString(upn):
		details.UPNUnknown = upn
	case upn != "":
		s.Identifiers.UPN = upn
	}
	dob := r.date("DOB")
	if dob.IsZero() {
		return
	}
	s.DateOfBirth = events.Date(day(dob))
	r.subject = s
	if r.m.subjects == nil {
		r.m.subjects = map[string]events.Subject{}
	}
	r.m.subjects[child] = s
	r.add("child.details_recorded", dob, "/details/"+statutory.ContentRef(details), "Child's details (SSDA903 header)", details)
}

func (r *row) episode() {
	start := r.date("DECOM")
	rne := r.code("RNE", events.ReasonsNewEpisode.Values())
	ls := r.code("LS", events.LegalStatuses.Values())
	place := r.code("PLACE", placements)
	need := r.code("CIN", []string{"N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"})
	end := r.date("DEC")
	rec := r.code("REC", reasonsCeased)
	switch {
	case !end.IsZero() && !start.IsZero() && end.Before(start):
		r.p.Add("DEC", "%s is before DECOM %s: the episode would end before it began", day(end), day(start))
	case !end.IsZero() && rec == "" && r.text("REC") == "":
		r.p.Add("REC", "is required with DEC (the reason the episode ceased)")
	case end.IsZero() && rec != "":
		r.p.Add("DEC", "is required with REC")
	}
	if start.IsZero() || r.p.Err() != nil {
		return
	}
	ref := "/episode/" + day(start)
	if rne == "S" {
		r.add("looked_after.started", start, ref, fmt.Sprintf("Started to be looked after (SSDA903): legal status %s, placement %s", ls, place),
			&events.LookedAfterStarted{LegalStatus: ls, Placement: place, CategoryOfNeed: need})
	} else {
		r.add("looked_after.changed", start, ref, fmt.Sprintf("Looked-after episode (SSDA903): %s; legal status %s, placement %s", events.ReasonsNewEpisode.Meaning(rne), ls, place),
			&events.LookedAfterChanged{ReasonNewEpisode: rne, LegalStatus: ls, Placement: place, CategoryOfNeed: need})
	}
	// X1 ends an episode but not the period of care: the next episode
	// carries on from it.
	if !end.IsZero() && rec != "X1" {
		r.add("looked_after.ended", end, ref, "Ceased to be looked after (SSDA903): reason "+rec, &events.LookedAfterEnded{Reason: rec})
	}
}

// missing maps a missing (M) or absent (A) episode. The two are kept apart:
// "absent" means away without authorisation with whereabouts known, which
// the catalogue's police category calls absent too.
func (r *row) missing() {
	kind := r.code("MISSING", events.LookedAfterMissingCodes.Values())
	start, end := r.date("MIS_START"), r.date("MIS_END")
	if !end.IsZero() && !start.IsZero() && end.Before(start) {
		r.p.Add("MIS_END", "%s is before MIS_START %s", day(end), day(start))
	}
	if start.IsZero() || r.p.Err() != nil {
		return
	}
	ref := "/missing/" + day(start)
	episode := statutory.RefText(r.ref + ref)
	category, text := "missing", "Missing from placement (SSDA903)"
	if kind == "A" {
		category, text = "absent", "Away from placement without authorisation (SSDA903 absence)"
	}
	r.add("missing.reported", start, ref, text, &events.MissingReported{EpisodeRef: episode, Category: category, LookedAfterCode: kind})
	if !end.IsZero() {
		r.add("missing.returned", end, ref, "Returned to placement (SSDA903)", &events.MissingReturned{EpisodeRef: episode})
	}
}

// row is one row being mapped.
type row struct {
	m       *Mapper
	cols    Columns
	record  []string
	p       events.ProblemSet
	ref     string
	subject events.Subject
	events  []*events.Event
}

func (r *row) text(col string) string {
	i, ok := r.cols[col]
	if !ok || i >= len(r.record) {
		return ""
	}
	return strings.TrimSpace(r.record[i])
}

// date reads a DD/MM/YYYY date (or YYYY-MM-DD) at the start of its day.
func (r *row) date(col string) time.Time {
	v := r.text(col)
	if v == "" {
		return time.Time{}
	}
	for _, layout := range []string{"02/01/2006", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return statutory.StartOfDay(t, r.m.Zone)
		}
	}
	r.p.Add(col, "%q is not a date like 31/03/2024", v)
	return time.Time{}
}

func (r *row) code(col string, allowed []string) string {
	v := r.text(col)
	if v == "" {
		return ""
	}
	if !slices.Contains(allowed, v) {
		r.p.Add(col, "%q is not a known SSDA903 %s code", v, col)
		return ""
	}
	return v
}

// add appends an event.
func (r *row) add(t events.Type, at time.Time, ref, summary string, body events.Payload) {
	r.events = append(r.events, statutory.NewEvent(t, at, SourceSystem, r.ref+ref, r.subject, summary, body))
}

func day(t time.Time) string { return statutory.Day(t) }

func suffix(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
