package flags

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// Thresholds are a rule's numbers. Each rule uses some of them (Rule.Uses);
// a deployment may change them without a rebuild (see LoadConfig).
type Thresholds struct {
	Count       int `json:"count,omitempty"`
	WindowDays  int `json:"window_days,omitempty"`
	Months      int `json:"months,omitempty"`
	Hours       int `json:"hours,omitempty"`
	WorkingDays int `json:"working_days,omitempty"`
	AgeMonths   int `json:"age_months,omitempty"`
	ActiveDays  int `json:"active_days,omitempty"`
	ExpireDays  int `json:"expire_days,omitempty"`
}

// Rule is one risk rule: its code, what it means, its thresholds and
// readings, and why.
type Rule struct {
	Code      string
	Title     string
	Severity  string
	Enabled   bool
	Rationale string
	// Uses names the Thresholds fields and Options the rule reads, by
	// their JSON names.
	Uses       []string
	Thresholds Thresholds
	Options    Options
	fn         func(*evaluation, Rule) []occurrence
}

// Readings of the guidance shared by several rules, quoted in their
// rationales.
const (
	dateDeadline = " Reading: the deadline is a date, as the guidance gives it in working days: met at any hour of the last day, " +
		"and the flag is raised from 00:00 in England on the next working day (deadline \"clock\" reads it as the same time of day instead)."
	calendarWindow = "calendar dates in England, inclusive, not 24-hour blocks"
	missingOnly    = "only missing episodes count, not absences (whereabouts known: police category absent, SSDA903 code A), " +
		"as the guidance and SSDA903 keep them apart; an episode is an absence only when no classification on it says missing (count_absences counts both)"
)

// defaultRules is the rule table: thresholds in one readable place, each
// with the practice reason for it, its source, and which reading of the
// guidance it uses. Some have a national basis (statutory timescales in
// Working Together to Safeguard Children 2023); others are set locally
// (repeat missing) and are there to be tuned per deployment.
func defaultRules() []Rule {
	return []Rule{
		{
			Code: "REPEAT_MISSING", Title: "Repeat missing episodes", Severity: High, Enabled: true,
			Rationale: "Repeated missing episodes are one of the strongest indicators of exploitation and of harm at home; the statutory guidance on children who run away or go missing from home or care (DfE 2014) asks areas to respond to patterns. " +
				"No national threshold exists: 3 episodes in 90 days is a common local trigger for a multi-agency missing meeting. " +
				"Reading: " + missingOnly + ". The window is " + calendarWindow + ": episodes on 17 February and 18 May 2025 are within 90 days whatever the hours, and the flag holds to the end of the 90th day after the last of them.",
			Uses: []string{"count", "window_days", "count_absences"}, Thresholds: Thresholds{Count: 3, WindowDays: 90}, fn: repeatMissing,
		},
		{
			Code: "RHI_OVERDUE", Title: "Return home interview overdue", Severity: Medium, Enabled: true,
			Rationale: "Every child who returns from a missing episode should be offered an independent return home interview within 72 hours of their return " +
				"(statutory guidance on children who run away or go missing from home or care, DfE 2014): it is often the only chance to hear why they went and what happened. " +
				"Reading: 72 hours is a clock duration, as the guidance gives it in hours: due to the minute, over weekends, bank holidays and clock changes. " +
				"An absence (whereabouts known) raises no deadline, as the interview follows a missing episode (count_absences offers one after absences too). " +
				"A declined offer counts as offered. An unanswered flag retires at the end of the expire_days-th day after it fell due.",
			Uses: []string{"hours", "expire_days", "count_absences"}, Thresholds: Thresholds{Hours: 72, ExpireDays: 90}, fn: rhiOverdue,
		},
		{
			Code: "MULTI_AGENCY_CONCERNS", Title: "Concerns from several agencies, no assessment", Severity: Medium, Enabled: true,
			Rationale: "Serious case reviews repeatedly find that each agency held a piece and nobody put them together (Working Together to Safeguard Children 2023, on information sharing). " +
				"Concerns from 3 or more agencies within 90 days, with no assessment open and no plan in place, are the pattern a MASH exists to catch. " +
				"Reading: the window is " + calendarWindow + "; a contact or referral counts for the agency that made it (its Children in Need referral source), so a school's contact is not counted twice. " +
				concernsRationale() + " The list is set with concerns in the rules config; count_absences counts absences too.",
			Uses: []string{"count", "window_days", "concerns", "count_absences"}, Thresholds: Thresholds{Count: 3, WindowDays: 90},
			Options: Options{Concerns: defaultConcerns()}, fn: multiAgency,
		},
		{
			Code: "REPEAT_DOMESTIC_ABUSE", Title: "Repeated domestic abuse notifications", Severity: Medium, Enabled: true,
			Rationale: "Children living with domestic abuse are victims in their own right (Domestic Abuse Act 2021, section 3). A second police notification within 12 months means the abuse is continuing. " +
				"Reading: 12 months as 365 " + calendarWindow + ".",
			Uses: []string{"count", "window_days"}, Thresholds: Thresholds{Count: 2, WindowDays: 365}, fn: repeatDomesticAbuse,
		},
		{
			Code: "MISSING_AND_EXPLOITATION", Title: "Missing with exploitation indicators", Severity: High, Enabled: true,
			Rationale: "Going missing together with signs of sexual or criminal exploitation (a police exploitation concern, or a medium or high screening) is the pattern seen in county lines and child sexual exploitation " +
				"(statutory guidance on children who run away or go missing from home or care, DfE 2014; Working Together 2023 on harm outside the home). " +
				"Reading: " + missingOnly + "; within 90 days of each other, " + calendarWindow + ".",
			Uses: []string{"window_days", "count_absences"}, Thresholds: Thresholds{WindowDays: 90}, fn: missingAndExploitation,
		},
		{
			Code: "INJURY_UNDER_ONE", Title: "Injury to a baby under one", Severity: High, Enabled: true,
			Rationale: "\"Those who don't cruise rarely bruise\" (Sugar, Taylor and Feldman, 1999): any injury to a baby who is not yet mobile needs a safeguarding explanation, and local bruising protocols require a referral for any bruise to a non-mobile infant. " +
				"Reading: under one by the calendar date of the injury in England; the flag stays active to the end of the 90th day after the hub learned of the injury.",
			Uses: []string{"age_months", "active_days"}, Thresholds: Thresholds{AgeMonths: 12, ActiveDays: 90}, fn: injuryUnderOne,
		},
		{
			Code: "ASSESSMENT_OVERDUE", Title: "Assessment past 45 working days", Severity: Medium, Enabled: true,
			Rationale: "A child and family assessment should conclude within 45 working days from the point of referral (Working Together to Safeguard Children 2023). Drift leaves a child's needs unmet and unknown. " +
				"Counted from the referral the assessment answers: the latest referral received on or before the assessment started, since the previous one started, unless it was closed with no further action or stepped down to early help; " +
				"with no such referral on record, from the assessment's start." + dateDeadline,
			Uses: []string{"working_days", "deadline"}, Thresholds: Thresholds{WorkingDays: 45}, Options: Options{Deadline: DeadlineDate}, fn: assessmentOverdue,
		},
		{
			Code: "ICPC_OVERDUE", Title: "Initial conference overdue", Severity: High, Enabled: true,
			Rationale: "When a strategy discussion starts a Section 47 enquiry, the initial child protection conference should take place within 15 working days of the strategy discussion " +
				"(Working Together to Safeguard Children 2023), unless the enquiry finds no need." + dateDeadline,
			Uses: []string{"working_days", "deadline"}, Thresholds: Thresholds{WorkingDays: 15}, Options: Options{Deadline: DeadlineDate}, fn: icpcOverdue,
		},
		{
			Code: "ESCALATING_NEED", Title: "Escalating level of need", Severity: Medium, Enabled: true,
			Rationale: "Two rises in the level of need within 6 months show a situation deteriorating faster than support is helping (local practice, on the levels of the local threshold document Working Together 2023 asks for). " +
				"Reading: 6 calendar months by date in England, inclusive (to the same day of the month, or the month's last day).",
			Uses: []string{"count", "months"}, Thresholds: Thresholds{Count: 2, Months: 6}, fn: escalatingNeed,
		},
		{
			Code: "CP_PLAN_ACTIVE", Title: "Child protection plan", Severity: High, Enabled: true,
			Rationale: "A status flag, as NHS England's Child Protection Information Sharing (CP-IS) shares with unscheduled care: anyone seeing the child should know there is an active child protection plan.",
			fn:        cpPlanActive,
		},
		{
			Code: "UNBORN_CP_PLAN", Title: "Unborn child protection plan", Severity: High, Enabled: true,
			Rationale: "A status flag shared through NHS England's CP-IS so that maternity services know before the birth.",
			fn:        unbornCPPlan,
		},
		{
			Code: "LOOKED_AFTER", Title: "Looked after", Severity: Medium, Enabled: true,
			Rationale: "A status flag shared through NHS England's CP-IS: the local authority shares parental responsibility (or accommodates the child) and must be told of attendances.",
			fn:        lookedAfter,
		},
		{
			Code: "CORE_GROUP_OVERDUE", Title: "First core group overdue", Severity: Medium, Enabled: true,
			Rationale: "The core group should first meet within 10 working days of the initial child protection conference (Working Together to Safeguard Children 2023), to turn the outline plan into a working one. " +
				"The plan starts at that conference, so the working days are counted from the plan's start." + dateDeadline,
			Uses: []string{"working_days", "deadline"}, Thresholds: Thresholds{WorkingDays: 10}, Options: Options{Deadline: DeadlineDate}, fn: coreGroupOverdue,
		},
		{
			Code: "REVIEW_CONFERENCE_OVERDUE", Title: "First review conference overdue", Severity: Medium, Enabled: true,
			Rationale: "The first review child protection conference should be held within 3 months of the initial conference (Working Together to Safeguard Children 2023); the plan starts at that conference, so the 3 months count from the plan's start. " +
				"Reading: 3 calendar months to the same day of the month, or the month's last day (29 November to 28 February); the deadline is a date: held at any hour of that day is in time, " +
				"and the flag is raised from 00:00 in England on the next working day (deadline \"clock\" reads it as the same time of day instead).",
			Uses: []string{"months", "deadline"}, Thresholds: Thresholds{Months: 3}, Options: Options{Deadline: DeadlineDate}, fn: reviewOverdue,
		},
		{
			Code: "REFERRAL_UNDECIDED", Title: "Referral without a decision", Severity: Medium, Enabled: true,
			Rationale: "Within one working day of a referral being received, a local authority social worker should decide what response is needed (Working Together to Safeguard Children 2023). " +
				"A referral on a Friday afternoon is therefore decided in time at any hour of Monday." + dateDeadline,
			Uses: []string{"working_days", "deadline"}, Thresholds: Thresholds{WorkingDays: 1}, Options: Options{Deadline: DeadlineDate}, fn: referralUndecided,
		},
	}
}

// payloadOf returns an entry's body as T.
func payloadOf[T any](en projections.Entry) (T, bool) {
	v, ok := en.Body().(T)
	return v, ok
}

// appendKnown appends to dst the entries of es known by t.
func appendKnown(dst, es []projections.Entry, t time.Time) []projections.Entry {
	for _, en := range es {
		if knownBy(en, t) {
			dst = append(dst, en)
		}
	}
	return dst
}

// clustered is the shared shape of "n or more within a window" rules: it
// holds at t when n entries known by t fall within the window of each other,
// until the window opened by the latest of them closes.
func clustered(entries []projections.Entry, n int, w window) condition {
	// Asked at every point about every entry: the windows' ends are worked
	// out once, and the entries known are listed by index, not copied.
	closes := make([]time.Time, len(entries))
	known := make([]knownSpan, len(entries))
	for i, en := range entries {
		closes[i] = w.closes(en.OccurredAt)
		known[i] = spanOf(en)
	}
	return func(t time.Time) (bool, []projections.Entry) {
		var k []int
		at := t.UnixNano()
		for i := range entries {
			if known[i].holdsAt(at) {
				k = append(k, i)
			}
		}
		var ev []projections.Entry
		for i := 0; i+n-1 < len(k); i++ {
			first, last := k[i], k[i+n-1]
			if entries[last].OccurredAt.Before(closes[first]) && t.Before(closes[last]) {
				for _, j := range k[i : i+n] {
					ev = appendNew(ev, entries[j:j+1])
				}
			}
		}
		return len(ev) > 0, ev
	}
}

// span says when the evidence happened: "on 3 March 2025", or "between 3
// March 2025 and 14 March 2025". The evidence is in occurred order.
func span(ev []projections.Entry) string {
	a, b := day(ev[0].OccurredAt), day(ev[len(ev)-1].OccurredAt)
	if a == b {
		return "on " + a
	}
	return "between " + a + " and " + b
}

// sinceLast is the clear reason of a window rule: the window opened by the
// last of the evidence has closed.
func sinceLast(w window, ev []projections.Entry, one, many string) string {
	last := day(ev[len(ev)-1].OccurredAt)
	if len(ev) == 1 {
		return fmt.Sprintf("more than %s since the %s on %s", w, one, last)
	}
	return fmt.Sprintf("more than %s since the last of these %s, on %s", w, many, last)
}

// times counts occurrences as people say them: once, twice, 3 times.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// missingEpisodes are the missing.reported entries a rule counts: missing
// episodes, and absences too when the rule's config says so.
func missingEpisodes(e *evaluation, o Options) []projections.Entry {
	var out []projections.Entry
	for _, en := range e.of("missing.reported") {
		if o.CountAbsences || !en.Absence() {
			out = append(out, en)
		}
	}
	return out
}

// episodesText names missing episodes and absences: "3 missing episodes",
// "2 missing episodes and 1 absence".
func episodesText(ev []projections.Entry) string {
	absent := 0
	for _, en := range ev {
		if en.Absence() {
			absent++
		}
	}
	missing := plural(len(ev)-absent, "missing episode", "missing episodes")
	switch {
	case absent == 0:
		return missing
	case absent == len(ev):
		return plural(absent, "absence", "absences")
	}
	return missing + " and " + plural(absent, "absence", "absences")
}

func repeatMissing(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	w := daysWindow(th.WindowDays)
	ms := missingEpisodes(e, r.Options)
	var out []occurrence
	for _, run := range e.runs(pointsOf(ms, w.closes), clustered(ms, th.Count, w)) {
		note := fmt.Sprintf("at least %d within %s", th.Count, w)
		if slices.ContainsFunc(run.evidence, projections.Entry.Absence) {
			note += ", counting absences"
		}
		out = append(out, occurrence{
			anchor: run.anchor, start: run.start, end: run.end, evidence: ids(run.evidence),
			reason:      fmt.Sprintf("%s %s (%s)", episodesText(run.evidence), span(run.evidence), note),
			clearReason: sinceLast(w, run.evidence, "episode", "episodes"),
		})
	}
	return out
}

func repeatDomesticAbuse(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	w := daysWindow(th.WindowDays)
	var da []projections.Entry
	for _, en := range e.of("police.notification", "police.incident") {
		if p, ok := payloadOf[*events.PoliceReport](en); ok && p.Category == "domestic_abuse" {
			da = append(da, en)
		}
	}
	var out []occurrence
	for _, run := range e.runs(pointsOf(da, w.closes), clustered(da, th.Count, w)) {
		sev := ""
		for _, en := range run.evidence {
			if p, _ := payloadOf[*events.PoliceReport](en); p != nil && p.RiskLevel == "high" {
				sev = High
			}
		}
		out = append(out, occurrence{
			anchor: run.anchor, start: run.start, end: run.end, evidence: ids(run.evidence), severity: sev,
			reason: fmt.Sprintf("%s %s (at least %d within %s)",
				plural(len(run.evidence), "domestic abuse notification", "domestic abuse notifications"), span(run.evidence), th.Count, w),
			clearReason: sinceLast(w, run.evidence, "notification", "notifications"),
		})
	}
	return out
}

// supported reports whether an assessment is open or a plan is in place at
// t: the child is being looked at, so a pattern of concerns is being acted
// on. It returns the entry that opened the latest of them.
func supported(e *evaluation, t time.Time) (projections.Entry, bool) {
	return supportedBy(e.of("assessment.started", "assessment.completed", "plan.started", "plan.ended"), t)
}

// supportedBy is supported over the child's assessment and plan entries,
// for a rule that asks at many times and collects them once.
func supportedBy(support []projections.Entry, t time.Time) (projections.Entry, bool) {
	open := 0
	var latest projections.Entry
	for _, en := range support {
		if !knownBy(en, t) {
			continue
		}
		switch en.Type {
		case "assessment.started", "plan.started":
			open++
			latest = en
		case "assessment.completed", "plan.ended":
			open--
		}
	}
	return latest, open > 0
}

func multiAgency(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	w := daysWindow(th.WindowDays)
	var concerns []projections.Entry
	for _, en := range e.h.Entries {
		if isConcern(en, r.Options) {
			concerns = append(concerns, en)
		}
	}
	points := pointsOf(concerns, w.closes)
	support := e.of("assessment.started", "assessment.completed", "plan.started", "plan.ended")
	points = append(points, pointsOf(support)...)
	// holds is asked at every point: it looks only at the concerns whose
	// window can be open at t (those that happened within the longest
	// window before it), with the windows' ends worked out once, and copies
	// nothing until it is evidence. Asking about every concern at every
	// point made a child with a thousand concerns a second's work.
	sort.SliceStable(concerns, func(i, j int) bool { return concerns[i].OccurredAt.Before(concerns[j].OccurredAt) })
	// open is when each concern counts: known, and its window not closed;
	// agency is whose concern it is (which reads its payload).
	open := make([]knownSpan, len(concerns))
	agency := make([]string, len(concerns))
	var longest time.Duration
	for i, en := range concerns {
		closes := w.closes(en.OccurredAt)
		longest = max(longest, closes.Sub(en.OccurredAt))
		open[i] = spanOf(en)
		open[i].until = min(open[i].until, closes.UnixNano())
		agency[i] = concernAgency(en)
	}
	var ev []projections.Entry // reused: runs copies what it keeps
	var agencies []string
	holds := func(t time.Time) (bool, []projections.Entry) {
		if _, ok := supportedBy(support, t); ok {
			return false, nil
		}
		from, at := t.Add(-longest), t.UnixNano()
		ev, agencies = ev[:0], agencies[:0]
		for i := sort.Search(len(concerns), func(i int) bool { return !concerns[i].OccurredAt.Before(from) }); i < len(concerns) && !concerns[i].OccurredAt.After(t); i++ {
			if open[i].holdsAt(at) {
				ev = append(ev, concerns[i])
				if !slices.Contains(agencies, agency[i]) {
					agencies = append(agencies, agency[i])
				}
			}
		}
		return len(agencies) >= th.Count, ev
	}
	var out []occurrence
	for _, run := range e.runs(points, holds) {
		agencies := concernAgencies(run.evidence)
		clear := fmt.Sprintf("fewer than %d agencies have raised a concern within the last %s", th.Count, w)
		if th.Count == 1 {
			clear = fmt.Sprintf("no agency has raised a concern within the last %s", w)
		}
		if !run.end.IsZero() {
			if by, ok := supported(e, run.end); ok {
				what := "an assessment"
				if by.Type == "plan.started" {
					what = "a plan"
				}
				clear = fmt.Sprintf("%s started on %s", what, day(by.OccurredAt))
			}
		}
		out = append(out, occurrence{
			anchor: run.anchor, start: run.start, end: run.end, evidence: ids(run.evidence),
			reason: fmt.Sprintf("%s from %s (%s) %s, and no assessment open or plan in place",
				plural(len(run.evidence), "concern", "concerns"), plural(len(agencies), "agency", "agencies"),
				strings.Join(agencyNames(agencies), ", "), span(run.evidence)),
			clearReason: clear,
		})
	}
	return out
}

// concernAgencies are the distinct agencies whose concerns the entries
// are, sorted.
func concernAgencies(es []projections.Entry) []string {
	var out []string
	for _, en := range es {
		if a := concernAgency(en); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func agencyNames(codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strings.ReplaceAll(c, "_", " ")
	}
	return out
}

func exploitationIndicator(en projections.Entry) bool {
	if p, ok := payloadOf[*events.PoliceReport](en); ok {
		return p.Category == "exploitation_concern"
	}
	if p, ok := payloadOf[*events.ExploitationScreening](en); ok {
		return p.RiskLevel == "medium" || p.RiskLevel == "high"
	}
	return false
}

func missingAndExploitation(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	w := daysWindow(th.WindowDays)
	ms := missingEpisodes(e, r.Options)
	var xs []projections.Entry
	for _, en := range e.of("police.notification", "police.incident", "exploitation.screening") {
		if exploitationIndicator(en) {
			xs = append(xs, en)
		}
	}
	var ev, known []projections.Entry // reused: runs copies what it keeps
	holds := func(t time.Time) (bool, []projections.Entry) {
		ev = ev[:0]
		known = appendKnown(known[:0], xs, t)
		for _, m := range ms {
			if !knownBy(m, t) {
				continue
			}
			for _, x := range known {
				a, b := m.OccurredAt, x.OccurredAt
				if b.Before(a) {
					a, b = b, a
				}
				if w.within(a, b) && w.within(b, t) {
					ev = appendNew(ev, []projections.Entry{m, x})
				}
			}
		}
		sortEntries(ev)
		return len(ev) > 0, ev
	}
	var out []occurrence
	for _, run := range e.runs(append(pointsOf(ms, w.closes), pointsOf(xs, w.closes)...), holds) {
		var episodes []projections.Entry
		for _, en := range run.evidence {
			if en.Type == "missing.reported" {
				episodes = append(episodes, en)
			}
		}
		out = append(out, occurrence{
			anchor: run.anchor, start: run.start, end: run.end, evidence: ids(run.evidence),
			reason: fmt.Sprintf("%s and %s %s (within %s of each other)", episodesText(episodes),
				plural(len(run.evidence)-len(episodes), "exploitation indicator", "exploitation indicators"), span(run.evidence), w),
			clearReason: fmt.Sprintf("more than %s since the most recent missing episode or exploitation indicator, on %s", w, day(run.evidence[len(run.evidence)-1].OccurredAt)),
		})
	}
	return out
}

func injuryUnderOne(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	if e.h.DateOfBirth == nil {
		return nil
	}
	dob := dateOf(*e.h.DateOfBirth)
	w := daysWindow(th.ActiveDays)
	var out []occurrence
	for _, en := range e.of("health.ed_attendance", "health.injury") {
		if p, ok := payloadOf[*events.EDAttendance](en); ok && !p.Injury {
			continue
		}
		// Age by the calendar date of the injury in England.
		if d := dateOf(en.OccurredAt); d.Before(dob) || !d.Before(addMonths(dob, th.AgeMonths)) {
			continue
		}
		one := []projections.Entry{en}
		// The flag runs from when the hub knew: an injury reported late is
		// still flagged when it arrives.
		learned := later(en.OccurredAt, en.Received)
		until := w.closes(learned)
		for _, run := range e.runs(append(changes(en), until),
			func(t time.Time) (bool, []projections.Entry) { return knownBy(en, t) && t.Before(until), one }) {
			out = append(out, occurrence{
				anchor: en.EventID, start: run.start, end: run.end, evidence: ids(one),
				reason:      fmt.Sprintf("injury at %s old: %s on %s", age(dob, en.OccurredAt), strings.ToLower(en.Title()), day(en.OccurredAt)),
				clearReason: fmt.Sprintf("more than %s since the hub learned of the injury, on %s", w, day(learned)),
			})
		}
	}
	return out
}

// age is how old a baby born on dob (a date label) was at t, as a health
// visitor says it: days in the first week, then weeks, then months.
func age(dob, t time.Time) string {
	d := dateOf(t)
	months := (d.Year()-dob.Year())*12 + int(d.Month()-dob.Month())
	if d.Day() < dob.Day() {
		months--
	}
	if months >= 1 {
		return plural(months, "month", "months")
	}
	days := int(d.Sub(dob).Hours() / 24)
	switch {
	case days < 1:
		return "less than a day"
	case days < 7:
		return plural(days, "day", "days")
	}
	return plural(days/7, "week", "weeks")
}

// deadline is the shape of the overdue rules: from a trigger, something
// must happen by a deadline; the flag holds from when the deadline is
// missed until it does (or the need ends, or the flag retires).
type deadline struct {
	trigger projections.Entry
	// needs are other entries the deadline rests on (the referral an
	// assessment answers): the flag holds only once they are known too.
	needs  []projections.Entry
	missed time.Time
	// inHours: the deadline is in hours, late by the clock.
	inHours bool
	// done says, once known by t, why the need was met or ended: the clear
	// reason.
	done     func(t time.Time) (string, bool)
	retireAt time.Time // zero: never
	retired  string    // the clear reason when it retires
}

// overdue returns the runs when the deadline was missed and not yet met,
// each with why it ended (empty when its evidence was retracted: Evaluate
// says so).
func (e *evaluation) overdue(d deadline) []run {
	rests := append([]projections.Entry{d.trigger}, d.needs...)
	points := []time.Time{d.missed}
	for _, en := range rests {
		points = appendChanges(points, en)
	}
	points = e.changesAfter(points, d.trigger.OccurredAt)
	if !d.retireAt.IsZero() {
		points = append(points, d.retireAt)
	}
	runs := e.runs(points, func(t time.Time) (bool, []projections.Entry) {
		for _, en := range rests {
			if !knownBy(en, t) {
				return false, nil
			}
		}
		if t.Before(d.missed) || (!d.retireAt.IsZero() && !t.Before(d.retireAt)) {
			return false, nil
		}
		_, ok := d.done(t)
		return !ok, rests
	})
	for i, r := range runs {
		runs[i].deadline = Deadline{Missed: d.missed, InHours: d.inHours}
		if r.end.IsZero() {
			continue
		}
		if why, ok := d.done(r.end); ok {
			runs[i].why = why
		} else if !d.retireAt.IsZero() && !r.end.Before(d.retireAt) {
			runs[i].why = d.retired
		}
	}
	return runs
}

// firstAfter returns the first entry known by t, occurring at or after
// from, that matches.
func firstAfter(es []projections.Entry, from, t time.Time, match func(projections.Entry) bool) (projections.Entry, bool) {
	for _, en := range es {
		if !en.OccurredAt.Before(from) && knownBy(en, t) && match(en) {
			return en, true
		}
	}
	return projections.Entry{}, false
}

func anyEntry(projections.Entry) bool { return true }

func rhiOverdue(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	interviews := e.of("return_interview.completed")
	reports := e.of("missing.reported")
	var out []occurrence
	for _, ret := range e.of("missing.returned") {
		p, _ := payloadOf[*events.MissingReturned](ret)
		if p == nil {
			continue
		}
		sameEpisode := func(en projections.Entry) bool {
			switch b := en.Body().(type) {
			case *events.ReturnInterview:
				return b.EpisodeRef == p.EpisodeRef
			case *events.MissingReported:
				return b.EpisodeRef == p.EpisodeRef
			}
			return false
		}
		// 72 hours by the clock: the guidance gives the interview in hours.
		missed := ret.OccurredAt.Add(time.Duration(th.Hours) * time.Hour)
		d := deadline{trigger: ret, missed: missed, inHours: true, retireAt: daysWindow(th.ExpireDays).closes(missed),
			retired: fmt.Sprintf("no return home interview recorded; the flag retired %s after it fell due", plural(th.ExpireDays, "day", "days")),
			done: func(t time.Time) (string, bool) {
				if ri, ok := firstAfter(interviews, time.Time{}, t, sameEpisode); ok {
					return fmt.Sprintf("return home interview recorded on %s, %s after the return", day(ri.OccurredAt),
						plural(int(ri.OccurredAt.Sub(ret.OccurredAt).Hours()), "hour", "hours")), true
				}
				if rep, ok := firstAfter(reports, time.Time{}, t, sameEpisode); ok && rep.Absence() && !r.Options.CountAbsences {
					return "the episode was recorded as an absence (whereabouts known), which needs no return home interview", true
				}
				return "", false
			}}
		evidence := []string{ret.EventID}
		if rep, ok := firstAfter(reports, time.Time{}, later(e.at, ret.Received), sameEpisode); ok {
			evidence = append([]string{rep.EventID}, evidence...)
		}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: ret.EventID, start: run.start, end: run.end, evidence: evidence,
				reason:      fmt.Sprintf("returned on %s (episode %s) with no return home interview within %s", minute(ret.OccurredAt), p.EpisodeRef, plural(th.Hours, "hour", "hours")),
				clearReason: run.why, deadline: run.deadline,
			})
		}
	}
	return out
}

// referralFor returns the referral a child and family assessment started
// at `at` answers: the latest referral received on or before it started and
// after the previous assessment started (after), unless the referral was
// decided as needing no assessment (no further action, or early help).
func referralFor(e *evaluation, after, at time.Time) (projections.Entry, bool) {
	decisions := e.of("referral.decided")
	refs := e.of("referral.received")
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		if ref.OccurredAt.After(at) || !ref.OccurredAt.After(after) {
			continue
		}
		closed := false
		for _, dd := range decisions {
			p, _ := payloadOf[*events.ReferralDecided](dd)
			if p == nil || dd.OccurredAt.Before(ref.OccurredAt) || (p.ReferralEventID != "" && p.ReferralEventID != ref.EventID) {
				continue
			}
			closed = p.Decision == "no_further_action" || p.Decision == "early_help"
			break
		}
		if !closed {
			return ref, true
		}
	}
	return projections.Entry{}, false
}

func assessmentOverdue(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	completions := e.of("assessment.completed")
	var starts []projections.Entry
	for _, st := range e.of("assessment.started") {
		if a, _ := payloadOf[*events.AssessmentStarted](st); a != nil && a.Kind == "child_and_family" {
			starts = append(starts, st)
		}
	}
	var out []occurrence
	for i, st := range starts {
		a, _ := payloadOf[*events.AssessmentStarted](st)
		matches := func(en projections.Entry) bool {
			c, _ := payloadOf[*events.AssessmentCompleted](en)
			return c != nil && c.Kind == a.Kind && (a.AssessmentRef == "" || c.AssessmentRef == a.AssessmentRef)
		}
		var previous time.Time
		if i > 0 {
			previous = starts[i-1].OccurredAt
		}
		d := deadline{trigger: st,
			done: func(t time.Time) (string, bool) {
				if c, ok := firstAfter(completions, st.OccurredAt, t, matches); ok {
					return "assessment completed on " + day(c.OccurredAt), true
				}
				return "", false
			}}
		within := plural(th.WorkingDays, "working day", "working days")
		var reason string
		evidence := []string{st.EventID}
		if ref, ok := referralFor(e, previous, st.OccurredAt); ok {
			due := e.workingDaysDue(ref.OccurredAt, th.WorkingDays, r.Options.Deadline)
			d.missed, d.needs = due.missed, []projections.Entry{ref}
			evidence = []string{ref.EventID, st.EventID}
			reason = fmt.Sprintf("child and family assessment following the referral on %s, not completed within %s of the referral (due %s)", day(ref.OccurredAt), within, day(due.date))
		} else {
			due := e.workingDaysDue(st.OccurredAt, th.WorkingDays, r.Options.Deadline)
			d.missed = due.missed
			reason = fmt.Sprintf("child and family assessment started on %s, not completed within %s (due %s)", day(st.OccurredAt), within, day(due.date))
		}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{anchor: st.EventID, start: run.start, end: run.end, evidence: evidence, reason: reason, clearReason: run.why, deadline: run.deadline})
		}
	}
	return out
}

func icpcOverdue(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	outcomes := e.of("conference.held", "section47.completed")
	var out []occurrence
	for _, sd := range e.of("strategy_discussion.held") {
		s, _ := payloadOf[*events.StrategyDiscussion](sd)
		if s == nil || s.Decision != "section47_enquiry" {
			continue
		}
		ends := func(en projections.Entry) bool {
			if c, ok := payloadOf[*events.Conference](en); ok {
				return c.Kind == "initial" || c.Kind == "pre_birth"
			}
			if c, ok := payloadOf[*events.Section47Completed](en); ok {
				return c.Outcome != "substantiated_conference"
			}
			return false
		}
		due := e.workingDaysDue(sd.OccurredAt, th.WorkingDays, r.Options.Deadline)
		d := deadline{trigger: sd, missed: due.missed,
			done: func(t time.Time) (string, bool) {
				en, ok := firstAfter(outcomes, sd.OccurredAt, t, ends)
				switch {
				case !ok:
					return "", false
				case en.Type == "section47.completed":
					return fmt.Sprintf("the Section 47 enquiry concluded on %s that no conference is needed", day(en.OccurredAt)), true
				}
				kind := "initial conference"
				if c, _ := payloadOf[*events.Conference](en); c != nil && c.Kind == "pre_birth" {
					kind = "pre-birth conference"
				}
				return fmt.Sprintf("%s held on %s", kind, day(en.OccurredAt)), true
			}}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: sd.EventID, start: run.start, end: run.end, evidence: []string{sd.EventID},
				reason: fmt.Sprintf("strategy discussion on %s started a Section 47 enquiry; no initial conference within %s (due %s)",
					day(sd.OccurredAt), plural(th.WorkingDays, "working day", "working days"), day(due.date)),
				clearReason: run.why, deadline: run.deadline,
			})
		}
	}
	return out
}

func escalatingNeed(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	var rises []projections.Entry
	level := 0
	for _, en := range e.of("need_level.changed") {
		n, _ := payloadOf[*events.NeedLevelChanged](en)
		if n == nil {
			continue
		}
		from := n.From
		if from == 0 {
			from = level
		}
		if n.To > from {
			rises = append(rises, en)
		}
		level = n.To
	}
	w := monthsWindow(th.Months)
	var out []occurrence
	for _, run := range e.runs(pointsOf(rises, w.closes), clustered(rises, th.Count, w)) {
		out = append(out, occurrence{
			anchor: run.anchor, start: run.start, end: run.end, evidence: ids(run.evidence),
			reason:      fmt.Sprintf("level of need rose %s %s (at least %s within %s)", times(len(run.evidence)), span(run.evidence), times(th.Count), w),
			clearReason: fmt.Sprintf("more than %s since the last rise, on %s", w, day(run.evidence[len(run.evidence)-1].OccurredAt)),
		})
	}
	return out
}

// planSpan is one child protection plan: its start, and its end when known.
type planSpan struct {
	start  projections.Entry
	unborn bool
}

func cpPlans(e *evaluation) []planSpan {
	var out []planSpan
	for _, en := range e.of("plan.started") {
		p, _ := payloadOf[*events.PlanStarted](en)
		if p == nil || p.Kind != "child_protection" {
			continue
		}
		unborn := false
		if rec := en.Record(); rec != nil {
			unborn = rec.Unborn()
		}
		out = append(out, planSpan{start: en, unborn: unborn})
	}
	return out
}

// planEnded returns the entry that ended a child protection plan started at
// from, known by t.
func planEnded(e *evaluation, from, t time.Time) (projections.Entry, bool) {
	return firstAfter(e.planEnds(), from, t, anyEntry)
}

// planEnds lists, once per evaluation, the entries that end a child
// protection plan: the plan rules ask at every point of a child's history
// whether the plan had ended, and scanning (and decoding) every entry each
// time made a long history cost its length squared.
func (e *evaluation) planEnds() []projections.Entry {
	if e.cpEnds == nil {
		e.cpEnds = []projections.Entry{}
		for _, en := range e.h.Entries {
			if p, ok := payloadOf[*events.PlanEnded](en); ok && p.Kind == "child_protection" {
				e.cpEnds = append(e.cpEnds, en)
			} else if c, ok := payloadOf[*events.Conference](en); ok && c.Outcome == "plan_ended" {
				e.cpEnds = append(e.cpEnds, en)
			}
		}
	}
	return e.cpEnds
}

// planEndedText is the clear reason when a plan ended by t.
func planEndedText(e *evaluation, from, t time.Time) (string, bool) {
	if en, ok := planEnded(e, from, t); ok {
		return "the plan ended on " + day(en.OccurredAt), true
	}
	return "", false
}

func statusRun(e *evaluation, start projections.Entry, ends func(t time.Time) bool, extra ...time.Time) []run {
	points := append(changes(start), extra...)
	points = e.changesAfter(points, start.OccurredAt)
	return e.runs(points, func(t time.Time) (bool, []projections.Entry) {
		return knownBy(start, t) && !ends(t), []projections.Entry{start}
	})
}

func categoryText(code string) string {
	if m := events.AbuseCategories.Meaning(code); m != "" {
		return code + ": " + m
	}
	return code
}

func (e *evaluation) born(t time.Time) bool {
	return e.h.DateOfBirth != nil && !e.h.DateOfBirth.After(t)
}

func cpPlanActive(e *evaluation, _ Rule) []occurrence {
	var out []occurrence
	for _, p := range cpPlans(e) {
		body, _ := payloadOf[*events.PlanStarted](p.start)
		var extra []time.Time
		if p.unborn && e.h.DateOfBirth != nil {
			extra = append(extra, *e.h.DateOfBirth)
		}
		for _, run := range statusRun(e, p.start, func(t time.Time) bool {
			_, ended := planEnded(e, p.start.OccurredAt, t)
			return ended || (p.unborn && !e.born(t))
		}, extra...) {
			clear := ""
			if !run.end.IsZero() {
				clear, _ = planEndedText(e, p.start.OccurredAt, run.end)
			}
			out = append(out, occurrence{
				anchor: p.start.EventID, start: run.start, end: run.end, evidence: []string{p.start.EventID},
				reason:      fmt.Sprintf("child protection plan (category %s) since %s", categoryText(body.Category), day(p.start.OccurredAt)),
				clearReason: clear,
			})
		}
	}
	return out
}

func unbornCPPlan(e *evaluation, _ Rule) []occurrence {
	var out []occurrence
	for _, p := range cpPlans(e) {
		if !p.unborn {
			continue
		}
		body, _ := payloadOf[*events.PlanStarted](p.start)
		var extra []time.Time
		if e.h.DateOfBirth != nil {
			extra = append(extra, *e.h.DateOfBirth)
		}
		for _, run := range statusRun(e, p.start, func(t time.Time) bool {
			_, ended := planEnded(e, p.start.OccurredAt, t)
			return ended || e.born(t)
		}, extra...) {
			clear := ""
			if !run.end.IsZero() {
				var ok bool
				if clear, ok = planEndedText(e, p.start.OccurredAt, run.end); !ok && e.born(run.end) {
					clear = "the baby was born on " + day(*e.h.DateOfBirth) + "; the plan continues as a child protection plan"
				}
			}
			out = append(out, occurrence{
				anchor: p.start.EventID, start: run.start, end: run.end, evidence: []string{p.start.EventID},
				reason:      fmt.Sprintf("unborn child protection plan (category %s) since %s", categoryText(body.Category), day(p.start.OccurredAt)),
				clearReason: clear,
			})
		}
	}
	return out
}

func lookedAfter(e *evaluation, _ Rule) []occurrence {
	var out []occurrence
	ends := e.of("looked_after.ended")
	for _, st := range e.of("looked_after.started") {
		la, _ := payloadOf[*events.LookedAfterStarted](st)
		if la == nil {
			continue
		}
		ended := func(t time.Time) (projections.Entry, bool) {
			return firstAfter(ends, st.OccurredAt, t, anyEntry)
		}
		for _, run := range statusRun(e, st, func(t time.Time) bool { _, ok := ended(t); return ok }) {
			clear := ""
			if en, ok := ended(run.end); ok && !run.end.IsZero() {
				clear = "ceased to be looked after on " + day(en.OccurredAt)
			}
			out = append(out, occurrence{
				anchor: st.EventID, start: run.start, end: run.end, evidence: []string{st.EventID},
				reason:      fmt.Sprintf("looked after since %s (legal status %s: %s)", day(st.OccurredAt), la.LegalStatus, events.LegalStatuses.Meaning(la.LegalStatus)),
				clearReason: clear,
			})
		}
	}
	return out
}

func coreGroupOverdue(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	groups := e.of("core_group.held")
	var out []occurrence
	for _, p := range cpPlans(e) {
		if p.unborn {
			continue // the core group for an unborn child meets around the birth
		}
		start := p.start
		due := e.workingDaysDue(start.OccurredAt, th.WorkingDays, r.Options.Deadline)
		d := deadline{trigger: start, missed: due.missed,
			done: func(t time.Time) (string, bool) {
				if g, ok := firstAfter(groups, start.OccurredAt, t, anyEntry); ok {
					return "core group held on " + day(g.OccurredAt), true
				}
				return planEndedText(e, start.OccurredAt, t)
			}}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: start.EventID, start: run.start, end: run.end, evidence: []string{start.EventID},
				reason: fmt.Sprintf("child protection plan started on %s; no core group within %s (due %s)",
					day(start.OccurredAt), plural(th.WorkingDays, "working day", "working days"), day(due.date)),
				clearReason: run.why, deadline: run.deadline,
			})
		}
	}
	return out
}

func reviewOverdue(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	confs := e.of("conference.held")
	var out []occurrence
	for _, p := range cpPlans(e) {
		start := p.start
		due := e.monthsDue(start.OccurredAt, th.Months, r.Options.Deadline)
		d := deadline{trigger: start, missed: due.missed,
			done: func(t time.Time) (string, bool) {
				if c, ok := firstAfter(confs, start.OccurredAt, t, func(en projections.Entry) bool {
					c, _ := payloadOf[*events.Conference](en)
					return c != nil && c.Kind == "review"
				}); ok {
					return "review conference held on " + day(c.OccurredAt), true
				}
				return planEndedText(e, start.OccurredAt, t)
			}}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: start.EventID, start: run.start, end: run.end, evidence: []string{start.EventID},
				reason: fmt.Sprintf("child protection plan started on %s; no review conference within %s (due %s)",
					day(start.OccurredAt), plural(th.Months, "month", "months"), day(due.date)),
				clearReason: run.why, deadline: run.deadline,
			})
		}
	}
	return out
}

func referralUndecided(e *evaluation, r Rule) []occurrence {
	th := r.Thresholds
	decisions := e.of("referral.decided")
	var out []occurrence
	for _, ref := range e.of("referral.received") {
		due := e.workingDaysDue(ref.OccurredAt, th.WorkingDays, r.Options.Deadline)
		d := deadline{trigger: ref, missed: due.missed,
			done: func(t time.Time) (string, bool) {
				dd, ok := firstAfter(decisions, ref.OccurredAt, t, func(en projections.Entry) bool {
					dd, _ := payloadOf[*events.ReferralDecided](en)
					return dd != nil && (dd.ReferralEventID == "" || dd.ReferralEventID == ref.EventID)
				})
				if !ok {
					return "", false
				}
				return "referral decided on " + day(dd.OccurredAt), true
			}}
		for _, run := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: ref.EventID, start: run.start, end: run.end, evidence: []string{ref.EventID},
				reason: fmt.Sprintf("referral received on %s with no decision within %s (due %s)",
					minute(ref.OccurredAt), plural(th.WorkingDays, "working day", "working days"), day(due.date)),
				clearReason: run.why, deadline: run.deadline,
			})
		}
	}
	return out
}
