package cin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/ingest/statutory"
)

// SourceSystem is the source_system of every event a census import
// publishes. It does not name the year: next year's census repeats this
// year's open episodes, and the same fact must map to the same event.
const SourceSystem = "cin-census"

// Child is one census child mapped to events.
type Child struct {
	// ID is the LAchildID ("" when the file gives none) and Line the line
	// its Child element starts on.
	ID   string
	Line int
	// Episodes is the number of CIN episodes (CINdetails).
	Episodes int
	// Events are the child's events, latest first: an ending is published
	// before its beginning, so that a deadline the file shows was met is
	// never seen as missed between the two arriving.
	Events []*events.Event
}

// Mapper turns census children into events.
type Mapper struct {
	// Year is the schema year (see SchemaYear); LEA the authority number
	// from the header, part of every source_ref so that two authorities'
	// child ids cannot collide.
	Year int
	LEA  string
	// Zone places date-only census dates: a date is the start of that day
	// there. Nil means Europe/London.
	Zone *time.Location
}

// Next reads the next child and maps it. It returns io.EOF after the last
// child. A child that cannot be mapped comes back with an error listing
// every problem (events.Problems) and its ID and Line set; reading goes on.
// A *SyntaxError ends the file: the child being read is returned with it.
func (m *Mapper) Next(rd *Reader) (Child, error) {
	n, err := rd.next()
	if err != nil {
		c := Child{ID: childID(n)}
		if n != nil {
			c.Line = n.line
		}
		return c, err
	}
	return m.child(n)
}

// child maps one Child element.
func (m *Mapper) child(n *node) (Child, error) {
	c := Child{ID: childID(n), Line: n.line}
	var p events.ProblemSet
	if n.name != "Child" {
		p.Add(n.name, "is not a Child element (line %d)", n.line)
		return c, p.Err()
	}
	b := &builder{m: m, p: &p, seen: map[string]string{}}
	checkShape(&p, n, "", childSeq, m.Year)
	ids := n.one("ChildIdentifiers")
	if ids == nil {
		return c, p.Err()
	}
	checkShape(&p, ids, "ChildIdentifiers", identifiersSeq, m.Year)
	if c.ID == "" {
		p.Add("ChildIdentifiers/LAchildID", "is required: a child with no LA child id cannot be imported (line %d)", ids.line)
		return c, p.Err()
	}
	if !statutory.ValidChildID(c.ID) {
		p.Add("ChildIdentifiers/LAchildID", "%q is not an LA child id (at most %d characters, no / or line breaks)", c.ID, events.MaxShortText)
		return c, p.Err()
	}
	b.ref = "cin-census/" + m.LEA + "/" + c.ID
	b.subject = events.Subject{Identifiers: events.Identifiers{LAPersonID: c.ID, UPN: ids.value("UPN")}}
	dob := b.date(ids, "ChildIdentifiers", "PersonBirthDate")
	if !dob.IsZero() {
		b.subject.DateOfBirth = events.Date(dob.Format(time.DateOnly))
	}
	details := &events.ChildDetails{
		FormerUPN:         ids.value("FormerUPN"),
		UPNUnknown:        b.code(ids, "ChildIdentifiers", "UPNunknown", events.UPNUnknownReasons),
		Sex:               b.code(ids, "ChildIdentifiers", "GenderCurrent", events.Sexes),
		ExpectedBirthDate: dateOnly(b.date(ids, "ChildIdentifiers", "ExpectedPersonBirthDate")),
		DeathDate:         dateOnly(b.date(ids, "ChildIdentifiers", "PersonDeathDate")),
	}
	if ch := n.one("ChildCharacteristics"); ch != nil {
		checkShape(&p, ch, "ChildCharacteristics", characteristicsSeq, m.Year)
		details.Ethnicity = b.code(ch, "ChildCharacteristics", "Ethnicity", events.Ethnicities)
		if ds := ch.one("Disabilities"); ds != nil {
			checkShape(&p, ds, "ChildCharacteristics/Disabilities", disabilitiesSeq, m.Year)
			for i, d := range ds.all("Disability") {
				details.Disabilities = append(details.Disabilities, b.codeOf(d, fmt.Sprintf("ChildCharacteristics/Disabilities/Disability[%d]", i+1), events.Disabilities))
			}
		}
	}
	first := time.Time{}
	for i, cd := range n.all("CINdetails") {
		if t := b.episode(cd, fmt.Sprintf("CINdetails[%d]", i+1)); !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
		c.Episodes++
	}
	// The details are placed at birth (or, before birth, at the first
	// referral), and keyed by their content: the same details next year
	// are the same event, changed details a new one.
	at := dob
	if at.IsZero() {
		at = first
	}
	if !at.IsZero() {
		// The details carry the former UPN as an identifier too, so that
		// identity resolution finds the child by it.
		current := b.subject
		if details.FormerUPN != "" {
			b.subject.Identifiers.UPN = details.FormerUPN
		}
		b.add("child.details_recorded", at, "/details/"+statutory.ContentRef(details), "Child's details (CIN census)"+detailsText(details), details)
		b.subject = current
	}
	if err := p.Err(); err != nil {
		return c, err
	}
	// Latest first; ties keep the file's order reversed, so an ending on
	// the day something started still comes first.
	evs := b.events
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].OccurredAt.After(evs[j].OccurredAt) })
	c.Events = evs
	return c, nil
}

// episode maps one CINdetails (a referral and what followed) and returns its
// referral date.
func (b *builder) episode(cd *node, path string) time.Time {
	y := b.m.Year
	checkShape(b.p, cd, path, cinDetailsSeq(y), y)
	refDate := b.date(cd, path, "CINreferralDate")
	if refDate.IsZero() {
		return refDate
	}
	ref := "/referral/" + refDate.Format(time.DateOnly)
	source := b.code(cd, path, "ReferralSource", events.ReferralSources)
	need := b.code(cd, path, "PrimaryNeedCode", events.PrimaryNeeds)
	b.add("referral.received", refDate, ref, "Referral received (CIN census): "+meaning(events.ReferralSources, source)+needText(need),
		&events.ReferralReceived{Source: source, PrimaryNeed: need})

	closed := b.date(cd, path, "CINclosureDate")
	reason := b.code(cd, path, "ReasonForClosure", events.ClosureReasons)
	switch {
	case !closed.IsZero() && closed.Before(refDate):
		b.p.Add(path+"/CINclosureDate", "%s is before CINreferralDate %s: the referral would come after its closure (line %d)", day(closed), day(refDate), cd.one("CINclosureDate").line)
	case !closed.IsZero() && reason == "":
		b.p.Add(path+"/ReasonForClosure", "is required with CINclosureDate (line %d)", cd.line)
	case closed.IsZero() && reason != "":
		b.p.Add(path+"/CINclosureDate", "is required with ReasonForClosure (line %d)", cd.line)
	case !closed.IsZero():
		b.add("case.closed", closed, ref, "Case closed (CIN census): "+meaning(events.ClosureReasons, reason), &events.CaseClosed{Reason: reason})
	}
	after := func(field string, t time.Time, line int) {
		if !closed.IsZero() && t.After(closed) {
			b.p.Add(field, "%s is after the episode's CINclosureDate %s (line %d)", day(t), day(closed), line)
		}
	}

	cpStarts := map[string]string{} // CPP start date -> initial category
	for i, cp := range cd.all("ChildProtectionPlans") {
		b.cpPlan(cp, fmt.Sprintf("%s/ChildProtectionPlans[%d]", path, i+1), ref, cpStarts, after)
	}
	icpc := func(field string, n *node) {
		t := b.date(n, field, "DateOfInitialCPC")
		if t.IsZero() {
			return
		}
		conf := &events.Conference{Kind: "initial", Outcome: "no_plan"}
		text := "no plan"
		if cat, ok := cpStarts[t.Format(time.DateOnly)]; ok {
			conf.Outcome, conf.Category, text = "plan_started", cat, "child protection plan, category "+cat
		}
		b.add("conference.held", t, ref+"/icpc/"+t.Format(time.DateOnly), "Initial child protection conference (CIN census): "+text, conf)
	}
	icpc(path, cd)
	assessed, enquired := false, false
	for i, a := range cd.all("Assessments") {
		b.assessment(a, fmt.Sprintf("%s/Assessments[%d]", path, i+1), ref, after)
		assessed = true
	}
	for i, pl := range cd.all("CINPlanDates") {
		field := fmt.Sprintf("%s/CINPlanDates[%d]", path, i+1)
		checkShape(b.p, pl, field, cinPlanSeq, y)
		start, end := b.date(pl, field, "CINPlanStartDate"), b.date(pl, field, "CINPlanEndDate")
		if start.IsZero() {
			continue
		}
		after(field+"/CINPlanStartDate", start, pl.line)
		pref := ref + "/cin-plan/" + start.Format(time.DateOnly)
		b.add("plan.started", start, pref, "Child in need plan started (CIN census)", &events.PlanStarted{Kind: "child_in_need"})
		if b.ordered(field, "CINPlanStartDate", start, "CINPlanEndDate", end, pl.line) {
			b.add("plan.ended", end, pref, "Child in need plan ended (CIN census)", &events.PlanEnded{Kind: "child_in_need"})
		}
	}
	for i, s := range cd.all("Section47") {
		field := fmt.Sprintf("%s/Section47[%d]", path, i+1)
		checkShape(b.p, s, field, section47Seq, y)
		start := b.date(s, field, "S47ActualStartDate")
		if start.IsZero() {
			continue
		}
		enquired = true
		after(field+"/S47ActualStartDate", start, s.line)
		body := &events.Section47Started{ConferenceDue: dateOnly(b.date(s, field, "InitialCPCtarget")), ConferenceNotRequired: b.bool(s, field, "ICPCnotRequired")}
		text := ""
		if body.ConferenceNotRequired {
			text = "; initial conference not required"
		}
		b.add("section47.started", start, ref+"/section47/"+start.Format(time.DateOnly), "Section 47 enquiry started (CIN census)"+text, body)
		icpc(field, s)
	}
	// ReferralNFA is the referral's decision. The census keeps no date for
	// it, so it is placed on the referral's own date; what "not NFA" led to
	// is read from what the episode holds.
	dec := &events.ReferralDecided{Decision: "other", Rationale: "CIN census: the referral was not closed with no further action"}
	switch {
	case b.bool(cd, path, "ReferralNFA"):
		dec.Decision, dec.Rationale = "no_further_action", "CIN census: ReferralNFA"
	case assessed:
		dec.Decision, dec.Rationale = "assessment", "CIN census: an assessment followed the referral"
	case enquired:
		dec.Decision, dec.Rationale = "strategy_discussion", "CIN census: a Section 47 enquiry followed the referral"
	}
	b.add("referral.decided", refDate, ref, "Referral decision (CIN census): "+meaning(events.ReferralDecisions, dec.Decision), dec)
	return refDate
}

func (b *builder) assessment(a *node, field, ref string, after func(string, time.Time, int)) {
	y := b.m.Year
	checkShape(b.p, a, field, assessmentSeq, y)
	start := b.date(a, field, "AssessmentActualStartDate")
	if start.IsZero() {
		return
	}
	after(field+"/AssessmentActualStartDate", start, a.line)
	aref := ref + "/assessment/" + start.Format(time.DateOnly)
	b.add("assessment.started", start, aref, "Child and family assessment started (CIN census)",
		&events.AssessmentStarted{Kind: "child_and_family", AssessmentRef: statutory.RefText(b.ref + aref)})
	authorised := b.date(a, field, "AssessmentAuthorisationDate")
	review := b.date(a, field, "AssessmentInternalReviewDate")
	var factors []string
	if fs := a.one("FactorsIdentifiedAtAssessment"); fs != nil {
		checkShape(b.p, fs, field+"/FactorsIdentifiedAtAssessment", factorsSeq, y)
		for i, f := range fs.all("AssessmentFactors") {
			factors = append(factors, b.codeOf(f, fmt.Sprintf("%s/FactorsIdentifiedAtAssessment/AssessmentFactors[%d]", field, i+1), events.AssessmentFactors))
		}
	}
	if authorised.IsZero() {
		// Chronicle records the factors and the internal review with the
		// completed assessment; without a completion they have no event.
		if len(factors) > 0 {
			b.p.Add(field+"/FactorsIdentifiedAtAssessment", "factors are identified at the end of an assessment, and this one has no AssessmentAuthorisationDate (line %d)", a.line)
		}
		if !review.IsZero() {
			b.p.Add(field+"/AssessmentInternalReviewDate", "is recorded with the assessment's authorisation, and this one has no AssessmentAuthorisationDate (line %d)", a.line)
		}
		return
	}
	if !b.ordered(field, "AssessmentActualStartDate", start, "AssessmentAuthorisationDate", authorised, a.line) {
		return
	}
	if !review.IsZero() && review.Before(start) {
		b.p.Add(field+"/AssessmentInternalReviewDate", "%s is before AssessmentActualStartDate %s (line %d)", day(review), day(start), a.line)
	}
	text := ""
	if len(factors) > 0 {
		text = ": factors " + strings.Join(factors, ", ")
	}
	b.add("assessment.completed", authorised, aref, "Child and family assessment authorised (CIN census)"+text,
		&events.AssessmentCompleted{Kind: "child_and_family", AssessmentRef: statutory.RefText(b.ref + aref), Factors: factors, Outcome: "not_recorded", InternalReviewDate: dateOnly(review)})
}

func (b *builder) cpPlan(cp *node, field, ref string, starts map[string]string, after func(string, time.Time, int)) {
	checkShape(b.p, cp, field, cpPlanSeq, b.m.Year)
	start := b.date(cp, field, "CPPstartDate")
	initial := b.code(cp, field, "InitialCategoryOfAbuse", events.AbuseCategories)
	latest := b.code(cp, field, "LatestCategoryOfAbuse", events.AbuseCategories)
	var previous *int
	if v := cp.value("NumberOfPreviousCPP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.p.Add(field+"/NumberOfPreviousCPP", "%q is not a whole number (line %d)", v, cp.one("NumberOfPreviousCPP").line)
		}
		previous = &n
	}
	if start.IsZero() {
		return
	}
	after(field+"/CPPstartDate", start, cp.line)
	starts[start.Format(time.DateOnly)] = initial
	pref := ref + "/cp-plan/" + start.Format(time.DateOnly)
	b.add("plan.started", start, pref, "Child protection plan started (CIN census): category "+initial,
		&events.PlanStarted{Kind: "child_protection", Category: initial, LatestCategory: latest, PreviousPlans: previous})
	end := b.date(cp, field, "CPPendDate")
	if b.ordered(field, "CPPstartDate", start, "CPPendDate", end, cp.line) {
		b.add("plan.ended", end, pref, "Child protection plan ended (CIN census)", &events.PlanEnded{Kind: "child_protection"})
	}
	if rs := cp.one("Reviews"); rs != nil {
		checkShape(b.p, rs, field+"/Reviews", reviewsSeq, b.m.Year)
		for i, r := range rs.all("CPPreviewDate") {
			rf := fmt.Sprintf("%s/Reviews/CPPreviewDate[%d]", field, i+1)
			t := b.dateOf(r, rf)
			if t.IsZero() {
				continue
			}
			if t.Before(start) {
				b.p.Add(rf, "%s is before CPPstartDate %s (line %d)", day(t), day(start), r.line)
				continue
			}
			b.add("conference.held", t, pref+"/review/"+t.Format(time.DateOnly), "Child protection review conference (CIN census)",
				&events.Conference{Kind: "review", Outcome: "plan_continued"})
		}
	}
}

// builder collects one child's events and problems.
type builder struct {
	m       *Mapper
	p       *events.ProblemSet
	ref     string
	subject events.Subject
	events  []*events.Event
	seen    map[string]string // event id -> payload, to drop exact repeats
}

// add appends an event (see statutory.NewEvent), once: the file may give
// the same fact twice (an initial conference under CINdetails and under
// Section47), but not two different facts under one key.
func (b *builder) add(t events.Type, at time.Time, ref, summary string, body events.Payload) {
	e := statutory.NewEvent(t, at, SourceSystem, b.ref+ref, b.subject, summary, body)
	if prev, ok := b.seen[e.ID]; ok {
		if prev != string(e.Payload) {
			b.p.Add(ref, "the file records %s on %s twice, differently", t, day(at))
		}
		return
	}
	b.seen[e.ID] = string(e.Payload)
	b.events = append(b.events, e)
}

// ordered checks that end, when given, is not before start, naming the end
// field when it is.
func (b *builder) ordered(path, startName string, start time.Time, endName string, end time.Time, line int) bool {
	if end.IsZero() {
		return false
	}
	if end.Before(start) {
		b.p.Add(path+"/"+endName, "%s is before %s %s (line %d)", day(end), startName, day(start), line)
		return false
	}
	return true
}

// date parses the date element name of n; zero when absent or malformed
// (and then a problem is recorded).
func (b *builder) date(n *node, path, name string) time.Time {
	k := n.one(name)
	if k == nil {
		return time.Time{}
	}
	return b.dateOf(k, join(path, name))
}

func (b *builder) dateOf(k *node, field string) time.Time {
	v := strings.TrimSuffix(k.text, "Z") // xs:date may carry a zone; the day is what counts
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		b.p.Add(field, "%q is not a date like 2023-03-31 (line %d)", k.text, k.line)
		return time.Time{}
	}
	return statutory.StartOfDay(t, b.m.Zone)
}

func (b *builder) code(n *node, path, name string, list *events.CodeList) string {
	k := n.one(name)
	if k == nil {
		return ""
	}
	return b.codeOf(k, join(path, name), list)
}

func (b *builder) codeOf(k *node, field string, list *events.CodeList) string {
	if err := codeInYear(list, k.text, b.m.Year); err != nil {
		b.p.Add(field, "%v (line %d)", err, k.line)
		return ""
	}
	return k.text
}

// bool reads an XSD yes/no: true, false, TRUE, FALSE, 1 or 0.
func (b *builder) bool(n *node, path, name string) bool {
	k := n.one(name)
	if k == nil {
		return false
	}
	switch k.text {
	case "true", "TRUE", "1":
		return true
	case "false", "FALSE", "0":
		return false
	}
	b.p.Add(join(path, name), "%q is not true, false, 1 or 0 (line %d)", k.text, k.line)
	return false
}

func dateOnly(t time.Time) events.Date {
	if t.IsZero() {
		return ""
	}
	return events.Date(t.Format(time.DateOnly))
}

func day(t time.Time) string { return statutory.Day(t) }

func meaning(l *events.CodeList, code string) string {
	if m := l.Meaning(code); m != "" {
		return code + " " + m
	}
	return code
}

func needText(code string) string {
	if code == "" {
		return ""
	}
	return "; primary need " + meaning(events.PrimaryNeeds, code)
}

func detailsText(d *events.ChildDetails) string {
	var parts []string
	if d.Sex != "" {
		parts = append(parts, "sex "+events.Sexes.Meaning(d.Sex))
	}
	if d.Ethnicity != "" {
		parts = append(parts, "ethnicity "+d.Ethnicity)
	}
	if d.FormerUPN != "" {
		parts = append(parts, "former UPN "+d.FormerUPN)
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}
