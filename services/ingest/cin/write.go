package cin

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/ingest/statutory"
)

// Export describes a census file to write.
type Export struct {
	// Year is the census year: the file covers 1 April Year-1 to 31 March
	// Year, in that year's schema (see SchemaYear).
	Year int
	// LEA is the three-digit authority number for the header's Source;
	// empty leaves Source out (the XSD makes it optional).
	LEA string
	// Produced is the header's DateTime.
	Produced time.Time
}

// ChildHistory is one child as the hub knows them, for the export.
type ChildHistory struct {
	Identifiers []events.Identifier
	DateOfBirth string
	Entries     []projections.Entry
}

// Written says what an export wrote and left out.
type Written struct {
	Children, Episodes int
	// Skipped are notes on what could not be written (a child with no LA
	// child id, a code the year's schema does not have).
	Skipped []string
}

// Write writes the census of x.Year for the children: every child with a
// CIN episode (a referral, to its closure) open at some point in the year,
// with the whole episode. Only children's social care's events are read.
// Facts after the census date are left out, and a closure after it leaves
// the episode open, as it was on the census date. Elements are written in
// the XSD's order.
func Write(w io.Writer, x Export, children []ChildHistory) (Written, error) {
	schema, _ := SchemaYear(x.Year)
	from := time.Date(x.Year-1, time.April, 1, 0, 0, 0, 0, statutory.London)
	to := time.Date(x.Year, time.April, 1, 0, 0, 0, 0, statutory.London) // exclusive: the end of 31 March
	bw := bufio.NewWriter(w)
	e := &xmlOut{w: bw}
	e.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	e.open("Message")
	e.open("Header")
	e.open("CollectionDetails")
	e.leaf("Collection", "CIN")
	e.leaf("Year", strconv.Itoa(x.Year))
	e.leaf("ReferenceDate", fmt.Sprintf("%d-03-31", x.Year))
	e.close("CollectionDetails")
	if x.LEA != "" {
		e.open("Source")
		e.leaf("SourceLevel", "L")
		e.leaf("LEA", x.LEA)
		e.leaf("SoftwareCode", "Chronicle")
		e.leaf("Release", "1")
		e.leaf("SerialNo", "001")
		e.leaf("DateTime", x.Produced.In(statutory.London).Format("2006-01-02T15:04:05"))
		e.close("Source")
	}
	e.close("Header")
	e.open("Children")
	var (
		out  Written
		kids []*child
	)
	for _, c := range children {
		cc, skipped := censusChild(c, schema, from, to)
		out.Skipped = append(out.Skipped, skipped...)
		if cc != nil {
			kids = append(kids, cc)
		}
	}
	sort.SliceStable(kids, func(i, j int) bool { return kids[i].id < kids[j].id })
	for _, cc := range kids {
		out.Children++
		out.Episodes += len(cc.episodes)
		cc.write(e, schema)
	}
	e.close("Children")
	e.close("Message")
	if e.err != nil {
		return out, fmt.Errorf("write census: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return out, fmt.Errorf("write census: %w", err)
	}
	return out, nil
}

// The census's shape, filled from the events.
type (
	child struct {
		id, upn  string
		details  events.ChildDetails
		dob      string
		episodes []*episode
	}
	episode struct {
		referral, closure    time.Time
		source, need, reason string
		icpc                 time.Time
		nfa                  bool
		assessments          []assessmentOut
		cinPlans             [][2]time.Time
		s47s                 []s47Out
		cpPlans              []cpPlanOut
	}
	assessmentOut struct {
		start, review, authorised time.Time
		factors                   []string
	}
	s47Out struct {
		start, due, icpc time.Time
		notRequired      bool
	}
	cpPlanOut struct {
		start, end      time.Time
		initial, latest string
		previous        int
		reviews         []time.Time
	}
)

// censusChild builds one child's census record, or nil when they had no
// CIN episode open in the year.
func censusChild(c ChildHistory, year int, from, to time.Time) (*child, []string) {
	var skipped []string
	cc := &child{dob: c.DateOfBirth}
	for _, id := range c.Identifiers {
		switch id.Scheme {
		case events.SchemeLAPersonID:
			if cc.id == "" {
				cc.id = id.Value
			}
		}
	}
	var es []projections.Entry
	for _, e := range c.Entries {
		if e.Agency != "social_care" || !e.OccurredAt.Before(to) {
			continue
		}
		es = append(es, e)
		if d, ok := e.Body().(*events.ChildDetails); ok {
			cc.details = *d
		}
	}
	for _, id := range c.Identifiers {
		if id.Scheme == events.SchemeUPN && id.Value != cc.details.FormerUPN && cc.upn == "" {
			cc.upn = id.Value
		}
	}
	of := func(t events.Type) []projections.Entry {
		var out []projections.Entry
		for _, e := range es {
			if e.Type == t {
				out = append(out, e)
			}
		}
		return out
	}
	refs := of("referral.received")
	closures := of("case.closed")
	used := map[string]bool{}
	for i, r := range refs {
		ep := &episode{referral: r.OccurredAt}
		next := to
		if i+1 < len(refs) {
			next = refs[i+1].OccurredAt
		}
		if b, _ := r.Body().(*events.ReferralReceived); b != nil {
			ep.source, ep.need = b.Source, b.PrimaryNeed
		}
		for _, cl := range closures {
			if !used[cl.EventID] && !cl.OccurredAt.Before(ep.referral) && !cl.OccurredAt.After(next) {
				used[cl.EventID] = true
				ep.closure = cl.OccurredAt
				if b, _ := cl.Body().(*events.CaseClosed); b != nil {
					ep.reason = b.Reason
				}
				break
			}
		}
		if !ep.closure.IsZero() && ep.closure.Before(from) {
			continue // closed before the year began
		}
		inEpisode := func(t time.Time) bool { return !t.Before(ep.referral) && t.Before(next) }
		for _, d := range of("referral.decided") {
			if b, _ := d.Body().(*events.ReferralDecided); b != nil && d.OccurredAt.Equal(ep.referral) && b.Decision == "no_further_action" {
				ep.nfa = true
			}
		}
		ep.fill(es, inEpisode, year, &skipped, cc.id)
		cc.episodes = append(cc.episodes, ep)
	}
	if len(cc.episodes) == 0 {
		return nil, skipped
	}
	if cc.id == "" {
		return nil, append(skipped, "a child with CIN episodes in the year has no LA child id (la_person_id), so cannot be in the census")
	}
	return cc, skipped
}

// fill adds the episode's assessments, plans, enquiries and conferences.
func (ep *episode) fill(es []projections.Entry, in func(time.Time) bool, year int, skipped *[]string, id string) {
	var initial []time.Time
	var reviews []projections.Entry
	var asStarts, asDone, cinStarts, cinEnds, cpStarts, cpEnds, s47s []projections.Entry
	for _, e := range es {
		switch b := e.Body().(type) {
		case *events.AssessmentStarted:
			if b.Kind == "child_and_family" && in(e.OccurredAt) {
				asStarts = append(asStarts, e)
			}
		case *events.AssessmentCompleted:
			if b.Kind == "child_and_family" {
				asDone = append(asDone, e)
			}
		case *events.PlanStarted:
			switch {
			case !in(e.OccurredAt):
			case b.Kind == "child_in_need":
				cinStarts = append(cinStarts, e)
			case b.Kind == "child_protection":
				cpStarts = append(cpStarts, e)
			}
		case *events.PlanEnded:
			switch b.Kind {
			case "child_in_need":
				cinEnds = append(cinEnds, e)
			case "child_protection":
				cpEnds = append(cpEnds, e)
			}
		case *events.Section47Started:
			if in(e.OccurredAt) {
				s47s = append(s47s, e)
			}
		case *events.Conference:
			switch {
			case (b.Kind == "initial" || b.Kind == "pre_birth") && in(e.OccurredAt):
				initial = append(initial, e.OccurredAt)
			case b.Kind == "review":
				reviews = append(reviews, e)
			}
		}
	}
	if len(initial) > 0 {
		ep.icpc = initial[0]
	}
	for _, s := range asStarts {
		a := assessmentOut{start: s.OccurredAt}
		sb := s.Body().(*events.AssessmentStarted)
		for _, d := range asDone {
			db := d.Body().(*events.AssessmentCompleted)
			if !d.OccurredAt.Before(s.OccurredAt) && (sb.AssessmentRef == "" || db.AssessmentRef == sb.AssessmentRef) {
				a.authorised = d.OccurredAt
				a.review, _ = db.InternalReviewDate.Time()
				for _, f := range db.Factors {
					if codeInYear(events.AssessmentFactors, f, year) != nil {
						*skipped = append(*skipped, fmt.Sprintf("child %s: assessment factor %s is not in the %d census", id, f, year))
						continue
					}
					a.factors = append(a.factors, f)
				}
				break
			}
		}
		if !a.review.IsZero() {
			a.review = time.Date(a.review.Year(), a.review.Month(), a.review.Day(), 0, 0, 0, 0, statutory.London)
		}
		ep.assessments = append(ep.assessments, a)
	}
	if year >= cinPlanFirst {
		ep.cinPlans = pair(cinStarts, cinEnds)
	}
	for i, s := range s47s {
		b := s.Body().(*events.Section47Started)
		out := s47Out{start: s.OccurredAt, notRequired: b.ConferenceNotRequired}
		if t, ok := b.ConferenceDue.Time(); ok {
			out.due = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, statutory.London)
		}
		for _, c := range initial {
			if !c.Before(s.OccurredAt) && (i+1 == len(s47s) || c.Before(s47s[i+1].OccurredAt)) {
				out.icpc = c
				break
			}
		}
		ep.s47s = append(ep.s47s, out)
	}
	for _, sp := range pair(cpStarts, cpEnds) {
		var start projections.Entry
		for _, s := range cpStarts {
			if s.OccurredAt.Equal(sp[0]) {
				start = s
			}
		}
		b := start.Body().(*events.PlanStarted)
		p := cpPlanOut{start: sp[0], end: sp[1], initial: b.Category, latest: b.LatestCategory, previous: len(ep.cpPlans)}
		if p.latest == "" {
			p.latest = p.initial
		}
		if b.PreviousPlans != nil {
			p.previous = *b.PreviousPlans
		}
		for _, r := range reviews {
			if !r.OccurredAt.Before(p.start) && (p.end.IsZero() || !r.OccurredAt.After(p.end)) {
				p.reviews = append(p.reviews, r.OccurredAt)
			}
		}
		ep.cpPlans = append(ep.cpPlans, p)
	}
}

// pair matches each start with the first unused end on or after it.
func pair(starts, ends []projections.Entry) [][2]time.Time {
	used := map[int]bool{}
	var out [][2]time.Time
	for _, s := range starts {
		sp := [2]time.Time{s.OccurredAt}
		for i, e := range ends {
			if !used[i] && !e.OccurredAt.Before(s.OccurredAt) {
				used[i] = true
				sp[1] = e.OccurredAt
				break
			}
		}
		out = append(out, sp)
	}
	return out
}

func (c *child) write(e *xmlOut, year int) {
	d := c.details
	e.open("Child")
	e.open("ChildIdentifiers")
	e.leaf("LAchildID", c.id)
	e.opt("UPN", c.upn)
	e.opt("FormerUPN", d.FormerUPN)
	e.opt("UPNunknown", d.UPNUnknown)
	e.opt("PersonBirthDate", c.dob)
	e.opt("ExpectedPersonBirthDate", string(d.ExpectedBirthDate))
	e.leaf("GenderCurrent", or(d.Sex, "0"))
	e.opt("PersonDeathDate", string(d.DeathDate))
	e.close("ChildIdentifiers")
	e.open("ChildCharacteristics")
	e.leaf("Ethnicity", or(d.Ethnicity, "NOBT"))
	if len(d.Disabilities) > 0 {
		e.open("Disabilities")
		for _, x := range d.Disabilities {
			e.leaf("Disability", x)
		}
		e.close("Disabilities")
	}
	e.close("ChildCharacteristics")
	for _, ep := range c.episodes {
		ep.write(e, year)
	}
	e.close("Child")
}

func (ep *episode) write(e *xmlOut, year int) {
	e.open("CINdetails")
	e.leaf("CINreferralDate", date(ep.referral))
	e.leaf("ReferralSource", ep.source)
	e.opt("PrimaryNeedCode", ep.need)
	if !ep.closure.IsZero() && codeInYear(events.ClosureReasons, ep.reason, year) == nil {
		e.leaf("CINclosureDate", date(ep.closure))
		e.leaf("ReasonForClosure", ep.reason)
	}
	e.opt("DateOfInitialCPC", date(ep.icpc))
	for _, a := range ep.assessments {
		e.open("Assessments")
		e.leaf("AssessmentActualStartDate", date(a.start))
		e.opt("AssessmentInternalReviewDate", date(a.review))
		e.opt("AssessmentAuthorisationDate", date(a.authorised))
		if len(a.factors) > 0 {
			e.open("FactorsIdentifiedAtAssessment")
			for _, f := range a.factors {
				e.leaf("AssessmentFactors", f)
			}
			e.close("FactorsIdentifiedAtAssessment")
		}
		e.close("Assessments")
	}
	for _, p := range ep.cinPlans {
		e.open("CINPlanDates")
		e.leaf("CINPlanStartDate", date(p[0]))
		e.opt("CINPlanEndDate", date(p[1]))
		e.close("CINPlanDates")
	}
	for _, s := range ep.s47s {
		e.open("Section47")
		e.leaf("S47ActualStartDate", date(s.start))
		e.opt("InitialCPCtarget", date(s.due))
		e.opt("DateOfInitialCPC", date(s.icpc))
		e.leaf("ICPCnotRequired", strconv.FormatBool(s.notRequired))
		e.close("Section47")
	}
	e.leaf("ReferralNFA", strconv.FormatBool(ep.nfa))
	for _, p := range ep.cpPlans {
		e.open("ChildProtectionPlans")
		e.leaf("CPPstartDate", date(p.start))
		e.opt("CPPendDate", date(p.end))
		e.leaf("InitialCategoryOfAbuse", p.initial)
		e.leaf("LatestCategoryOfAbuse", p.latest)
		e.leaf("NumberOfPreviousCPP", strconv.Itoa(p.previous))
		if len(p.reviews) > 0 {
			sort.Slice(p.reviews, func(i, j int) bool { return p.reviews[i].Before(p.reviews[j]) })
			e.open("Reviews")
			for _, r := range p.reviews {
				e.leaf("CPPreviewDate", date(r))
			}
			e.close("Reviews")
		}
		e.close("ChildProtectionPlans")
	}
	e.close("CINdetails")
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(statutory.London).Format(time.DateOnly)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// xmlOut writes indented XML, keeping the first error.
type xmlOut struct {
	w     *bufio.Writer
	depth int
	err   error
}

func (x *xmlOut) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

func (x *xmlOut) indent() {
	for range x.depth {
		x.raw("  ")
	}
}

func (x *xmlOut) open(name string) {
	x.indent()
	x.raw("<" + name + ">\n")
	x.depth++
}

func (x *xmlOut) close(name string) {
	x.depth--
	x.indent()
	x.raw("</" + name + ">\n")
}

func (x *xmlOut) leaf(name, v string) {
	x.indent()
	x.raw("<" + name + ">")
	if x.err == nil {
		x.err = xml.EscapeText(x.w, []byte(v))
	}
	x.raw("</" + name + ">\n")
}

func (x *xmlOut) opt(name, v string) {
	if v != "" {
		x.leaf(name, v)
	}
}
