// Package annexa builds Ofsted's Annex A lists (the children's social care
// data an inspection of local authority children's services asks for) from
// the hub's chronologies: the lists that events can answer, with the
// template's column names and coded values, for any period. It is a pure
// function of the chronologies and the period; the gateway serves it.
package annexa

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// List is one Annex A list: its number, title, the template's columns and
// one row per child and episode.
type List struct {
	Number  int        `json:"number"`
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Child is one child's history for the lists.
type Child struct {
	// ID is what the Child Unique ID column shows: the LA's own id, or a
	// pseudonym for callers who may only see pseudonymised data.
	ID string
	// DateOfBirth is shown in Date of Birth when set; the age is shown
	// whenever it is known (BirthForAge).
	DateOfBirth string
	BirthForAge *time.Time
	// Entries is the chronology as shown (corrections applied, retracted
	// and sealed entries left out by the caller).
	Entries []projections.Entry
}

// Period is the inclusive range of London dates the lists cover.
type Period struct{ From, To time.Time }

func (p Period) in(t time.Time) bool { return !t.Before(p.From) && !t.After(p.To) }

// overlaps reports whether something from start to end (zero end: still
// open) was open at some point in the period.
func (p Period) overlaps(start, end time.Time) bool {
	return !start.After(p.To) && (end.IsZero() || !end.Before(p.From))
}

// common are the columns every child list starts with.
var common = []string{"Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)"}

// The lists' own columns, after the common ones, as Ofsted's template names
// them. Columns the hub holds no data for (allocated team and worker,
// visits) are kept, blank, so that the lists keep the template's shape.
var columns = map[int][]string{
	1: {"Date of Contact", "Contact Source"},
	2: {"Assessment start date", "Assessment completion date", "Organisation completing assessment"},
	3: {"Date of referral", "Referral Source", "Referral NFA?", "Number of Referrals in Last 12 Months", "Allocated Team", "Allocated Worker"},
	4: {"Does the Child have a Disability", "Continuous Assessment Start Date", "Child Seen During Continuous Assessment", "Continuous Assessment Date of Authorisation", "Allocated Team", "Allocated Worker"},
	5: {"Does the Child have a Disability", "Strategy discussion initiating Section 47 Enquiry Start Date", "Was an Initial Child Protection Conference deemed unnecessary?",
		"Date of Initial Child Protection Conference", "Did the Initial Child Protection Conference Result in a Child Protection Plan",
		"Number of Section 47 Enquiries in the last 12 months", "Number of ICPCs in the last 12 months", "Allocated Team", "Allocated Worker"},
	6: {"Does the Child have a Disability", "CIN Start Date", "Primary Need Code", "Date Child Was Last Seen", "CIN Closure Date", "Reason for Closure", "Case Status", "Allocated Team", "Allocated Worker"},
	7: {"Does the Child have a Disability", "Child Protection Plan Start Date", "Initial Category of Abuse", "Latest Category of Abuse", "Date of the Last Statutory Visit",
		"Was the Child Seen Alone?", "Date of latest review conference", "Child Protection Plan End Date",
		"Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months (Y/N)", "Number of Previous Child Protection Plans", "Allocated Team", "Allocated Worker"},
	8: {"Does the Child have a Disability", "Date Started to be Looked After", "Child's Category of Need", "Start date of current legal status", "Legal Status",
		"Date of Latest Statutory Review", "Number of Placements in the Last 12 months", "Date Ceased to be Looked After", "Reason Ceased to be Looked After",
		"Start Date of Most Recent Placement", "Placement Type", "Number of Missing Episodes in the Period", "Number of Absences in the Period",
		"Was the child offered a Return Interview after their last missing episode (Y/N)?", "Did the child accept a Return Interview after their last missing episode (Y/N)?",
		"Allocated Team", "Allocated Worker"},
}

var titles = map[int]string{
	1: "Contacts", 2: "Early help assessments", 3: "Referrals", 4: "Assessments", 5: "Section 47 enquiries and ICPCs",
	6: "Children in need", 7: "Child protection", 8: "Children looked after",
}

// Numbers are the lists this package builds, in order.
var Numbers = []int{1, 2, 3, 4, 5, 6, 7, 8}

// Types are the event types the lists read: a caller may give each child
// only these entries (see projections.Model.ChronologyOfTypes).
var Types = []events.Type{
	"child.details_recorded", "contact.received", "referral.received", "referral.decided", "assessment.started", "assessment.completed",
	"section47.started", "conference.held", "plan.started", "plan.ended", "case.closed",
	"looked_after.started", "looked_after.changed", "looked_after.ended", "looked_after.review_held",
	"missing.reported", "return_interview.completed",
}

// Build returns the lists for the children over the period. Rows are in
// Child Unique ID order, then date order.
func Build(children []Child, p Period) []List {
	children = slices.Clone(children)
	sort.SliceStable(children, func(i, j int) bool { return children[i].ID < children[j].ID })
	b := NewBuilder(p)
	for _, c := range children {
		b.Add(c)
	}
	return b.Lists()
}

// Builder builds the lists one child at a time, so that a caller need hold
// only one child's history: an export over every child of a large
// authority would otherwise hold the whole log's entries at once.
type Builder struct {
	p     Period
	lists []List
}

// NewBuilder starts empty lists for the period.
func NewBuilder(p Period) *Builder {
	b := &Builder{p: p, lists: make([]List, len(Numbers))}
	for i, n := range Numbers {
		b.lists[i] = List{Number: n, Title: titles[n], Columns: append(append([]string{}, common...), columns[n]...)}
	}
	return b
}

// Add adds c's rows. Children added in Child Unique ID order give lists
// in that order, as Build's.
func (b *Builder) Add(c Child) {
	r := &childRows{c: c, p: b.p}
	r.index()
	for i, n := range Numbers {
		b.lists[i].Rows = append(b.lists[i].Rows, r.rows(n)...)
	}
}

// Lists returns the lists built so far.
func (b *Builder) Lists() []List { return b.lists }

// childRows derives one child's rows.
type childRows struct {
	c      Child
	p      Period
	byType map[events.Type][]projections.Entry
	detail *events.ChildDetails
}

func (b *childRows) index() {
	// Each type's slice sized up front: entries are large, and an export
	// indexes every child.
	counts := map[events.Type]int{}
	for _, e := range b.c.Entries {
		counts[e.Type]++
	}
	b.byType = make(map[events.Type][]projections.Entry, len(counts))
	for t, n := range counts {
		b.byType[t] = make([]projections.Entry, 0, n)
	}
	for _, e := range b.c.Entries {
		b.byType[e.Type] = append(b.byType[e.Type], e)
		// Only the details' payload is read here: decoding every entry's
		// would cost the whole log's JSON for each export.
		if e.Type != "child.details_recorded" {
			continue
		}
		if d, ok := e.Body().(*events.ChildDetails); ok {
			b.detail = d // the latest, entries being in time order
		}
	}
}

// head is a row's common columns, the age at the given date.
func (b *childRows) head(at time.Time) []string {
	sex, eth := "c) Not stated/recorded", ""
	if d := b.detail; d != nil {
		sex = sexLabel(d.Sex)
		eth = ethnicityLabel(d.Ethnicity)
	}
	age := ""
	if b.c.BirthForAge != nil {
		age = strconv.Itoa(years(*b.c.BirthForAge, at))
	}
	return []string{b.c.ID, sex, eth, b.c.DateOfBirth, age}
}

func (b *childRows) disability() string {
	if b.detail == nil || len(b.detail.Disabilities) == 0 {
		return "c) Unknown"
	}
	for _, d := range b.detail.Disabilities {
		if d != "NONE" {
			return "a) Yes"
		}
	}
	return "b) No"
}

func (b *childRows) rows(n int) [][]string {
	switch n {
	case 1:
		return b.contacts()
	case 2:
		return b.earlyHelp()
	case 3:
		return b.referrals()
	case 4:
		return b.assessments()
	case 5:
		return b.enquiries()
	case 6:
		return b.childrenInNeed()
	case 7:
		return b.protection()
	case 8:
		return b.lookedAfter()
	}
	return nil
}

func (b *childRows) contacts() [][]string {
	var out [][]string
	for _, e := range b.byType["contact.received"] {
		if !b.p.in(e.OccurredAt) {
			continue
		}
		c, _ := e.Body().(*events.ContactReceived)
		src := ""
		if c != nil {
			src = sourceLabel(c.ReferralSource)
		}
		out = append(out, append(b.head(e.OccurredAt), day(e.OccurredAt), src))
	}
	return out
}

// assessment pairs a start with its completion.
type assessment struct {
	start, end projections.Entry
	lead       string
}

func (b *childRows) assessmentsOf(kind string) []assessment {
	var out []assessment
	for _, s := range b.byType["assessment.started"] {
		a, _ := s.Body().(*events.AssessmentStarted)
		if a == nil || a.Kind != kind {
			continue
		}
		as := assessment{start: s, lead: a.LeadAgency}
		for _, c := range b.byType["assessment.completed"] {
			cb, _ := c.Body().(*events.AssessmentCompleted)
			if cb != nil && cb.Kind == kind && !c.OccurredAt.Before(s.OccurredAt) && (a.AssessmentRef == "" || cb.AssessmentRef == a.AssessmentRef) {
				as.end = c
				break
			}
		}
		out = append(out, as)
	}
	return out
}

func (b *childRows) earlyHelp() [][]string {
	var out [][]string
	for _, a := range b.assessmentsOf("early_help") {
		if !b.p.overlaps(a.start.OccurredAt, a.end.OccurredAt) {
			continue
		}
		out = append(out, append(b.head(a.start.OccurredAt), day(a.start.OccurredAt), day(a.end.OccurredAt), agencyLabel(a.lead)))
	}
	return out
}

func (b *childRows) referrals() [][]string {
	var out [][]string
	refs := b.byType["referral.received"]
	for i, e := range refs {
		if !b.p.in(e.OccurredAt) {
			continue
		}
		r, _ := e.Body().(*events.ReferralReceived)
		src := ""
		if r != nil {
			src = sourceLabel(r.Source)
		}
		nfa := "b) No"
		for _, d := range b.byType["referral.decided"] {
			db, _ := d.Body().(*events.ReferralDecided)
			if db != nil && (db.ReferralEventID == e.EventID || (db.ReferralEventID == "" && !d.OccurredAt.Before(e.OccurredAt) && (i+1 == len(refs) || d.OccurredAt.Before(refs[i+1].OccurredAt)))) {
				if db.Decision == "no_further_action" {
					nfa = "a) Yes"
				}
				break
			}
		}
		previous := 0
		for _, o := range refs[:i] {
			if !o.OccurredAt.Before(e.OccurredAt.AddDate(-1, 0, 0)) {
				previous++
			}
		}
		out = append(out, append(b.head(e.OccurredAt), day(e.OccurredAt), src, nfa, strconv.Itoa(previous), "", ""))
	}
	return out
}

func (b *childRows) assessments() [][]string {
	var out [][]string
	for _, a := range b.assessmentsOf("child_and_family") {
		if !b.p.overlaps(a.start.OccurredAt, a.end.OccurredAt) {
			continue
		}
		out = append(out, append(b.head(a.start.OccurredAt), b.disability(), day(a.start.OccurredAt), "c) Unknown", day(a.end.OccurredAt), "", ""))
	}
	return out
}

func (b *childRows) enquiries() [][]string {
	var out [][]string
	s47s := b.byType["section47.started"]
	initial := b.conferences("initial", "pre_birth")
	for i, e := range s47s {
		if !b.p.in(e.OccurredAt) {
			continue
		}
		body, _ := e.Body().(*events.Section47Started)
		unnecessary := ""
		if body != nil && body.ConferenceNotRequired {
			unnecessary = "a) Yes"
		}
		var next time.Time
		if i+1 < len(s47s) {
			next = s47s[i+1].OccurredAt
		}
		icpc, plan := "", ""
		for _, c := range initial {
			if !c.OccurredAt.Before(e.OccurredAt) && (next.IsZero() || c.OccurredAt.Before(next)) {
				icpc, plan = day(c.OccurredAt), "b) No"
				if cb, _ := c.Body().(*events.Conference); cb != nil && cb.Outcome == "plan_started" {
					plan = "a) Yes"
				}
				if unnecessary == "" {
					unnecessary = "b) No"
				}
				break
			}
		}
		out = append(out, append(b.head(e.OccurredAt), b.disability(), day(e.OccurredAt), unnecessary, icpc, plan,
			strconv.Itoa(countWithin(s47s, e.OccurredAt)), strconv.Itoa(countWithin(initial, e.OccurredAt)), "", ""))
	}
	return out
}

// countWithin counts the entries in the 12 months up to and including t.
func countWithin(es []projections.Entry, t time.Time) int {
	n := 0
	for _, e := range es {
		if !e.OccurredAt.After(t) && !e.OccurredAt.Before(t.AddDate(-1, 0, 0)) {
			n++
		}
	}
	return n
}

func (b *childRows) conferences(kinds ...string) []projections.Entry {
	var out []projections.Entry
	for _, c := range b.byType["conference.held"] {
		cb, _ := c.Body().(*events.Conference)
		for _, k := range kinds {
			if cb != nil && cb.Kind == k {
				out = append(out, c)
			}
		}
	}
	return out
}

// span is something with a start and (zero: still open) an end.
type span struct {
	start, end projections.Entry
}

// spans pairs each start with the first end on or after it that matches
// and no earlier start took.
func spans(starts, ends []projections.Entry, match func(start, end projections.Entry) bool) []span {
	var out []span
	used := make([]bool, len(ends))
	for _, s := range starts {
		sp := span{start: s}
		for i, e := range ends {
			if !used[i] && !e.OccurredAt.Before(s.OccurredAt) && match(s, e) {
				used[i] = true
				sp.end = e
				break
			}
		}
		out = append(out, sp)
	}
	return out
}

func anyPair(projections.Entry, projections.Entry) bool { return true }

func (b *childRows) plans(kind string) []span {
	var starts, ends []projections.Entry
	for _, s := range b.byType["plan.started"] {
		if p, _ := s.Body().(*events.PlanStarted); p != nil && p.Kind == kind {
			starts = append(starts, s)
		}
	}
	for _, e := range b.byType["plan.ended"] {
		if p, _ := e.Body().(*events.PlanEnded); p != nil && p.Kind == kind {
			ends = append(ends, e)
		}
	}
	return spans(starts, ends, anyPair)
}

func (b *childRows) open(sp []span, at time.Time) bool {
	for _, s := range sp {
		if !s.start.OccurredAt.After(at) && (s.end.OccurredAt.IsZero() || s.end.OccurredAt.After(at)) {
			return true
		}
	}
	return false
}

func (b *childRows) childrenInNeed() [][]string {
	var out [][]string
	episodes := spans(b.byType["referral.received"], b.byType["case.closed"], anyPair)
	lac := spans(b.byType["looked_after.started"], b.byType["looked_after.ended"], anyPair)
	for _, ep := range episodes {
		if !b.p.overlaps(ep.start.OccurredAt, ep.end.OccurredAt) {
			continue
		}
		need, reason := "", ""
		if r, _ := ep.start.Body().(*events.ReferralReceived); r != nil {
			need = needLabel(r.PrimaryNeed)
		}
		if c, _ := ep.end.Body().(*events.CaseClosed); c != nil {
			reason = closureLabel(c.Reason)
		}
		at := b.p.To
		if !ep.end.OccurredAt.IsZero() && ep.end.OccurredAt.Before(at) {
			at = ep.end.OccurredAt
		}
		status := "e) Closed episode"
		switch {
		case !ep.end.OccurredAt.IsZero() && !ep.end.OccurredAt.After(b.p.To):
		case b.open(lac, at):
			status = "a) Looked after child"
		case b.open(b.plans("child_protection"), at):
			status = "b) Child Protection plan"
		case b.open(b.plans("child_in_need"), at):
			status = "c) Child in need plan"
		default:
			status = "d) Open assessment"
		}
		out = append(out, append(b.head(ep.start.OccurredAt), b.disability(), day(ep.start.OccurredAt), need, "", day(ep.end.OccurredAt), reason, status, "", ""))
	}
	return out
}

func (b *childRows) protection() [][]string {
	var out [][]string
	plans := b.plans("child_protection")
	reviews := b.conferences("review")
	for i, sp := range plans {
		if !b.p.overlaps(sp.start.OccurredAt, sp.end.OccurredAt) {
			continue
		}
		p, _ := sp.start.Body().(*events.PlanStarted)
		initial, latest, previous := "", "", strconv.Itoa(i)
		if p != nil {
			initial, latest = categoryLabel(p.Category), categoryLabel(p.Category)
			if p.LatestCategory != "" {
				latest = categoryLabel(p.LatestCategory)
			}
			if p.PreviousPlans != nil {
				previous = strconv.Itoa(*p.PreviousPlans)
			}
		}
		lastReview := ""
		for _, r := range reviews {
			if !r.OccurredAt.Before(sp.start.OccurredAt) && !r.OccurredAt.After(b.p.To) && (sp.end.OccurredAt.IsZero() || !r.OccurredAt.After(sp.end.OccurredAt)) {
				lastReview = day(r.OccurredAt)
			}
		}
		out = append(out, append(b.head(sp.start.OccurredAt), b.disability(), day(sp.start.OccurredAt), initial, latest, "", "", lastReview, day(sp.end.OccurredAt), "", previous, "", ""))
	}
	return out
}

func (b *childRows) lookedAfter() [][]string {
	var out [][]string
	for _, sp := range spans(b.byType["looked_after.started"], b.byType["looked_after.ended"], anyPair) {
		if !b.p.overlaps(sp.start.OccurredAt, sp.end.OccurredAt) {
			continue
		}
		st, _ := sp.start.Body().(*events.LookedAfterStarted)
		if st == nil {
			continue
		}
		within := func(t time.Time) bool {
			return !t.Before(sp.start.OccurredAt) && (sp.end.OccurredAt.IsZero() || !t.After(sp.end.OccurredAt)) && !t.After(b.p.To)
		}
		need, legal, legalFrom, place, placeFrom := st.CategoryOfNeed, st.LegalStatus, sp.start.OccurredAt, st.Placement, sp.start.OccurredAt
		placements := 0
		if b.p.in(sp.start.OccurredAt) || sp.start.OccurredAt.After(b.p.To.AddDate(-1, 0, 0)) {
			placements = 1
		}
		for _, c := range b.byType["looked_after.changed"] {
			ch, _ := c.Body().(*events.LookedAfterChanged)
			if ch == nil || !within(c.OccurredAt) {
				continue
			}
			if ch.LegalStatus != legal {
				legal, legalFrom = ch.LegalStatus, c.OccurredAt
			}
			if ch.ReasonNewEpisode != "L" {
				place, placeFrom = ch.Placement, c.OccurredAt
				if c.OccurredAt.After(b.p.To.AddDate(-1, 0, 0)) {
					placements++
				}
			}
			if ch.CategoryOfNeed != "" {
				need = ch.CategoryOfNeed
			}
		}
		lastReview := ""
		for _, r := range b.byType["looked_after.review_held"] {
			if within(r.OccurredAt) {
				lastReview = day(r.OccurredAt)
			}
		}
		ceased, reason := "", ""
		if e, _ := sp.end.Body().(*events.LookedAfterEnded); e != nil && !sp.end.OccurredAt.After(b.p.To) {
			ceased, reason = day(sp.end.OccurredAt), e.Reason
		}
		missing, absent, offered, accepted := 0, 0, "", ""
		var lastMissing *events.MissingReported
		for _, m := range b.byType["missing.reported"] {
			mr, _ := m.Body().(*events.MissingReported)
			if mr == nil || !within(m.OccurredAt) || !b.p.in(m.OccurredAt) {
				continue
			}
			if projections.AnnexAAbsence(mr) {
				absent++
				continue
			}
			missing++
			lastMissing = mr
		}
		if lastMissing != nil {
			offered, accepted = "b) No", "b) No"
			for _, r := range b.byType["return_interview.completed"] {
				ri, _ := r.Body().(*events.ReturnInterview)
				if ri != nil && ri.EpisodeRef == lastMissing.EpisodeRef {
					offered = "a) Yes"
					switch {
					case ri.Accepted == nil:
						accepted = "c) Unknown"
					case *ri.Accepted:
						accepted = "a) Yes"
					}
				}
			}
		}
		out = append(out, append(b.head(sp.start.OccurredAt), b.disability(), day(sp.start.OccurredAt), needLabel(need), day(legalFrom), legal,
			lastReview, strconv.Itoa(placements), ceased, reason, day(placeFrom), place, strconv.Itoa(missing), strconv.Itoa(absent), offered, accepted, "", ""))
	}
	return out
}

// day renders a date as the template does, DD/MM/YYYY in London; zero is
// blank.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(london).Format("02/01/2006")
}

// years is the age in whole years at t.
func years(dob, t time.Time) int {
	t = t.In(london)
	y := t.Year() - dob.Year()
	if t.Month() < dob.Month() || (t.Month() == dob.Month() && t.Day() < dob.Day()) {
		y--
	}
	return max(y, 0)
}

// ParsePeriod reads a period from two London dates, YYYY-MM-DD, both
// required and inclusive. Problems are *events.FieldError values naming
// from or to.
func ParsePeriod(from, to string) (Period, error) {
	var (
		p     Period
		probs events.ProblemSet
	)
	for _, f := range []struct {
		name, v string
		at      *time.Time
	}{{"from", from, &p.From}, {"to", to, &p.To}} {
		t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(f.v), london)
		if err != nil {
			probs.Add(f.name, "%q is not a date like 2024-03-31", f.v)
			continue
		}
		*f.at = t
	}
	if err := probs.Err(); err != nil {
		return p, err
	}
	if p.To.Before(p.From) {
		return p, &events.FieldError{Field: "to", Problem: fmt.Sprintf("%s is before from (%s)", to, from)}
	}
	// to is inclusive: the whole of its day.
	p.To = p.To.AddDate(0, 0, 1).Add(-time.Nanosecond)
	return p, nil
}
