package flags

import (
	"fmt"
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

// Rule is one risk rule: its code, what it means, its thresholds and why.
type Rule struct {
	Code      string
	Title     string
	Severity  string
	Enabled   bool
	Rationale string
	// Uses names the Thresholds fields the rule reads, by their JSON names.
	Uses       []string
	Thresholds Thresholds
	fn         func(*evaluation, Thresholds) []occurrence
}

// defaultRules is the rule table: thresholds in one readable place, each
// with the practice reason for it. Some have a national basis (statutory
// timescales in Working Together to Safeguard Children); others are set
// locally (repeat missing) and are there to be tuned per deployment.
func defaultRules() []Rule {
	return []Rule{
		{
			Code: "REPEAT_MISSING", Title: "Repeat missing episodes", Severity: High, Enabled: true,
			Rationale: "Repeated missing episodes are one of the strongest indicators of exploitation and of harm at home; statutory guidance on children who run away or go missing asks areas to respond to patterns. " +
				"No national threshold exists: 3 episodes in 90 days is a common local trigger for a multi-agency missing meeting.",
			Uses: []string{"count", "window_days"}, Thresholds: Thresholds{Count: 3, WindowDays: 90}, fn: repeatMissing,
		},
		{
			Code: "RHI_OVERDUE", Title: "Return home interview overdue", Severity: Medium, Enabled: true,
			Rationale: "Every child who returns from a missing episode should be offered an independent return home interview within 72 hours: " +
				"it is often the only chance to hear why they went and what happened. A declined offer counts as offered. An unanswered flag retires after expire_days.",
			Uses: []string{"hours", "expire_days"}, Thresholds: Thresholds{Hours: 72, ExpireDays: 90}, fn: rhiOverdue,
		},
		{
			Code: "MULTI_AGENCY_CONCERNS", Title: "Concerns from several agencies, no assessment", Severity: Medium, Enabled: true,
			Rationale: "Serious case reviews repeatedly find that each agency held a piece and nobody put them together. Concerns from 3 or more agencies within 90 days, " +
				"with no assessment open and no plan in place, are the pattern a MASH exists to catch.",
			Uses: []string{"count", "window_days"}, Thresholds: Thresholds{Count: 3, WindowDays: 90}, fn: multiAgency,
		},
		{
			Code: "REPEAT_DOMESTIC_ABUSE", Title: "Repeated domestic abuse notifications", Severity: Medium, Enabled: true,
			Rationale: "Children living with domestic abuse are victims in their own right (Domestic Abuse Act 2021). A second police notification within 12 months means the abuse is continuing.",
			Uses:      []string{"count", "window_days"}, Thresholds: Thresholds{Count: 2, WindowDays: 365}, fn: repeatDomesticAbuse,
		},
		{
			Code: "MISSING_AND_EXPLOITATION", Title: "Missing with exploitation indicators", Severity: High, Enabled: true,
			Rationale: "Going missing together with signs of sexual or criminal exploitation (a police exploitation concern, or a medium or high screening) is the pattern seen in county lines and child sexual exploitation.",
			Uses:      []string{"window_days"}, Thresholds: Thresholds{WindowDays: 90}, fn: missingAndExploitation,
		},
		{
			Code: "INJURY_UNDER_ONE", Title: "Injury to a baby under one", Severity: High, Enabled: true,
			Rationale: "\"Those who don't cruise rarely bruise\": any injury to a baby who is not yet mobile needs a safeguarding explanation. Most local protocols require a referral for any bruise to a non-mobile infant.",
			Uses:      []string{"age_months", "active_days"}, Thresholds: Thresholds{AgeMonths: 12, ActiveDays: 90}, fn: injuryUnderOne,
		},
		{
			Code: "ASSESSMENT_OVERDUE", Title: "Assessment past 45 working days", Severity: Medium, Enabled: true,
			Rationale: "A child and family assessment should be completed within 45 working days of the referral (Working Together to Safeguard Children). Drift leaves a child's needs unmet and unknown.",
			Uses:      []string{"working_days"}, Thresholds: Thresholds{WorkingDays: 45}, fn: assessmentOverdue,
		},
		{
			Code: "ICPC_OVERDUE", Title: "Initial conference overdue", Severity: High, Enabled: true,
			Rationale: "When a strategy discussion starts a Section 47 enquiry, an initial child protection conference should be held within 15 working days of it, unless the enquiry finds no need.",
			Uses:      []string{"working_days"}, Thresholds: Thresholds{WorkingDays: 15}, fn: icpcOverdue,
		},
		{
			Code: "ESCALATING_NEED", Title: "Escalating level of need", Severity: Medium, Enabled: true,
			Rationale: "Two rises in the level of need within 6 months show a situation deteriorating faster than support is helping.",
			Uses:      []string{"count", "months"}, Thresholds: Thresholds{Count: 2, Months: 6}, fn: escalatingNeed,
		},
		{
			Code: "CP_PLAN_ACTIVE", Title: "Child protection plan", Severity: High, Enabled: true,
			Rationale: "A status flag, as NHS CP-IS shares with unscheduled care: anyone seeing the child should know there is an active child protection plan.",
			fn:        cpPlanActive,
		},
		{
			Code: "UNBORN_CP_PLAN", Title: "Unborn child protection plan", Severity: High, Enabled: true,
			Rationale: "A status flag shared through NHS CP-IS so that maternity services know before the birth.",
			fn:        unbornCPPlan,
		},
		{
			Code: "LOOKED_AFTER", Title: "Looked after", Severity: Medium, Enabled: true,
			Rationale: "A status flag shared through NHS CP-IS: the local authority shares parental responsibility and must be told of attendances.",
			fn:        lookedAfter,
		},
		{
			Code: "CORE_GROUP_OVERDUE", Title: "First core group overdue", Severity: Medium, Enabled: true,
			Rationale: "The core group should first meet within 10 working days of the initial child protection conference (Working Together to Safeguard Children 2023), to turn the outline plan into a working one. " +
				"The plan starts at that conference, so the working days are counted from the plan's start.",
			Uses: []string{"working_days"}, Thresholds: Thresholds{WorkingDays: 10}, fn: coreGroupOverdue,
		},
		{
			Code: "REVIEW_CONFERENCE_OVERDUE", Title: "First review conference overdue", Severity: Medium, Enabled: true,
			Rationale: "The first review child protection conference should be held within 3 months of the initial conference (Working Together 2023); the plan starts at that conference, so the 3 months count from the plan's start.",
			Uses:      []string{"months"}, Thresholds: Thresholds{Months: 3}, fn: reviewOverdue,
		},
		{
			Code: "REFERRAL_UNDECIDED", Title: "Referral without a decision", Severity: Medium, Enabled: true,
			Rationale: "Within one working day of a referral, a social worker should decide what response is needed (Working Together to Safeguard Children).",
			Uses:      []string{"working_days"}, Thresholds: Thresholds{WorkingDays: 1}, fn: referralUndecided,
		},
	}
}

// payloadOf returns an entry's body as T.
func payloadOf[T any](en projections.Entry) (T, bool) {
	v, ok := en.Body.(T)
	return v, ok
}

func knownOf(es []projections.Entry, t time.Time) []projections.Entry {
	var out []projections.Entry
	for _, en := range es {
		if knownBy(en, t) {
			out = append(out, en)
		}
	}
	return out
}

// clustered is the shared shape of "n or more within a window" rules: it
// holds at t when n entries known by t fall within the window of each other
// (inclusive), until a whole window has passed since the latest of them.
func clustered(e *evaluation, entries []projections.Entry, n int, within func(a, b time.Time) bool) condition {
	return func(t time.Time) (bool, []projections.Entry) {
		k := knownOf(entries, t)
		var ev []projections.Entry
		for i := 0; i+n-1 < len(k); i++ {
			first, last := k[i], k[i+n-1]
			if within(first.OccurredAt, last.OccurredAt) && within(last.OccurredAt, t) && !t.Equal(windowEnd(within, last.OccurredAt, t)) {
				ev = appendNew(ev, k[i:i+n])
			}
		}
		return len(ev) > 0, ev
	}
}

// windowEnd returns t when t is exactly the end of the window opened at a,
// so that a flag clears at that instant rather than at the next change point.
func windowEnd(within func(a, b time.Time) bool, a, t time.Time) time.Time {
	if within(a, t) && !within(a, t.Add(time.Nanosecond)) {
		return t
	}
	return time.Time{}
}

func withinDays(days int) func(a, b time.Time) bool {
	return func(a, b time.Time) bool { return !b.After(a.AddDate(0, 0, days)) }
}

func between(ev []projections.Entry) string {
	return day(ev[0].OccurredAt) + " and " + day(ev[len(ev)-1].OccurredAt)
}

func repeatMissing(e *evaluation, th Thresholds) []occurrence {
	ms := e.of("missing.reported")
	var out []occurrence
	for _, r := range e.runs(pointsOf(ms, func(t time.Time) time.Time { return t.AddDate(0, 0, th.WindowDays) }),
		clustered(e, ms, th.Count, withinDays(th.WindowDays))) {
		out = append(out, occurrence{
			anchor: r.evidence[0].EventID, start: r.start, end: r.end, evidence: ids(r.evidence),
			reason:      fmt.Sprintf("%s between %s (at least %d within %d days)", plural(len(r.evidence), "missing episode", "missing episodes"), between(r.evidence), th.Count, th.WindowDays),
			clearReason: fmt.Sprintf("%d days passed without %d episodes within %d days", th.WindowDays, th.Count, th.WindowDays),
		})
	}
	return out
}

func repeatDomesticAbuse(e *evaluation, th Thresholds) []occurrence {
	var da []projections.Entry
	for _, en := range e.of("police.notification", "police.incident") {
		if p, ok := payloadOf[*events.PoliceReport](en); ok && p.Category == "domestic_abuse" {
			da = append(da, en)
		}
	}
	var out []occurrence
	for _, r := range e.runs(pointsOf(da, func(t time.Time) time.Time { return t.AddDate(0, 0, th.WindowDays) }),
		clustered(e, da, th.Count, withinDays(th.WindowDays))) {
		sev := ""
		for _, en := range r.evidence {
			if p, _ := payloadOf[*events.PoliceReport](en); p != nil && p.RiskLevel == "high" {
				sev = High
			}
		}
		out = append(out, occurrence{
			anchor: r.evidence[0].EventID, start: r.start, end: r.end, evidence: ids(r.evidence), severity: sev,
			reason:      fmt.Sprintf("%s between %s", plural(len(r.evidence), "domestic abuse notification", "domestic abuse notifications"), between(r.evidence)),
			clearReason: fmt.Sprintf("no further domestic abuse notification within %d days", th.WindowDays),
		})
	}
	return out
}

// concernTypes count as an agency raising a concern about the child.
var concernTypes = []events.Type{"contact.received", "information.shared", "police.notification", "police.incident",
	"health.concern", "health.injury", "education.concern", "housing.concern", "prevent.referral", "exploitation.screening"}

// supported reports whether an assessment is open or a plan is in place at
// t: the child is being looked at, so a pattern of concerns is being acted on.
func supported(e *evaluation, t time.Time) bool {
	open := 0
	for _, en := range e.h.Entries {
		if !knownBy(en, t) {
			continue
		}
		switch en.Type {
		case "assessment.started", "plan.started":
			open++
		case "assessment.completed", "plan.ended":
			open--
		}
	}
	return open > 0
}

func multiAgency(e *evaluation, th Thresholds) []occurrence {
	concerns := e.of(concernTypes...)
	points := pointsOf(concerns, func(t time.Time) time.Time { return t.AddDate(0, 0, th.WindowDays) })
	points = append(points, pointsOf(e.of("assessment.started", "assessment.completed", "plan.started", "plan.ended"))...)
	holds := func(t time.Time) (bool, []projections.Entry) {
		if supported(e, t) {
			return false, nil
		}
		var ev []projections.Entry
		agencies := map[string]bool{}
		for _, en := range knownOf(concerns, t) {
			if !en.OccurredAt.Before(t.AddDate(0, 0, -th.WindowDays)) {
				ev = append(ev, en)
				agencies[en.Agency] = true
			}
		}
		return len(agencies) >= th.Count, ev
	}
	var out []occurrence
	for _, r := range e.runs(points, holds) {
		out = append(out, occurrence{
			anchor: r.evidence[0].EventID, start: r.start, end: r.end, evidence: ids(r.evidence),
			reason: fmt.Sprintf("concerns from %s (%s) between %s, and no assessment open or plan in place",
				plural(len(agenciesOf(r.evidence)), "agency", "agencies"), strings.Join(agenciesOf(r.evidence), ", "), between(r.evidence)),
			clearReason: "an assessment or plan started, or the concerns are older than the window",
		})
	}
	return out
}

func agenciesOf(es []projections.Entry) []string {
	seen := map[string]bool{}
	var out []string
	for _, en := range es {
		if !seen[en.Agency] {
			seen[en.Agency] = true
			out = append(out, en.Agency)
		}
	}
	sort.Strings(out)
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

func missingAndExploitation(e *evaluation, th Thresholds) []occurrence {
	ms := e.of("missing.reported")
	var xs []projections.Entry
	for _, en := range e.of("police.notification", "police.incident", "exploitation.screening") {
		if exploitationIndicator(en) {
			xs = append(xs, en)
		}
	}
	w := withinDays(th.WindowDays)
	holds := func(t time.Time) (bool, []projections.Entry) {
		var ev []projections.Entry
		for _, m := range knownOf(ms, t) {
			for _, x := range knownOf(xs, t) {
				a, b := m.OccurredAt, x.OccurredAt
				if b.Before(a) {
					a, b = b, a
				}
				if w(a, b) && w(b, t) && !t.Equal(windowEnd(w, b, t)) {
					ev = appendNew(ev, []projections.Entry{m, x})
				}
			}
		}
		sort.Slice(ev, func(i, j int) bool { return ev[i].OccurredAt.Before(ev[j].OccurredAt) })
		return len(ev) > 0, ev
	}
	plus := func(t time.Time) time.Time { return t.AddDate(0, 0, th.WindowDays) }
	var out []occurrence
	for _, r := range e.runs(append(pointsOf(ms, plus), pointsOf(xs, plus)...), holds) {
		nm, nx := 0, 0
		for _, en := range r.evidence {
			if en.Type == "missing.reported" {
				nm++
			} else {
				nx++
			}
		}
		out = append(out, occurrence{
			anchor: r.evidence[0].EventID, start: r.start, end: r.end, evidence: ids(r.evidence),
			reason: fmt.Sprintf("%s and %s within %d days (%s)", plural(nm, "missing episode", "missing episodes"),
				plural(nx, "exploitation indicator", "exploitation indicators"), th.WindowDays, between(r.evidence)),
			clearReason: fmt.Sprintf("no missing episode or exploitation indicator in the last %d days", th.WindowDays),
		})
	}
	return out
}

func injuryUnderOne(e *evaluation, th Thresholds) []occurrence {
	if e.h.DateOfBirth == nil {
		return nil
	}
	dob := *e.h.DateOfBirth
	var out []occurrence
	for _, en := range e.of("health.ed_attendance", "health.injury") {
		if p, ok := payloadOf[*events.EDAttendance](en); ok && !p.Injury {
			continue
		}
		if en.OccurredAt.Before(dob) || !en.OccurredAt.Before(dob.AddDate(0, th.AgeMonths, 0)) {
			continue
		}
		one := []projections.Entry{en}
		// The flag runs from when the hub knew: an injury reported late is
		// still flagged when it arrives.
		until := later(en.OccurredAt, en.Received).AddDate(0, 0, th.ActiveDays)
		for _, r := range e.runs(pointsOf(one, func(t time.Time) time.Time { return t.AddDate(0, 0, th.ActiveDays) }),
			func(t time.Time) (bool, []projections.Entry) { return knownBy(en, t) && t.Before(until), one }) {
			out = append(out, occurrence{
				anchor: en.EventID, start: r.start, end: r.end, evidence: ids(one),
				reason:      fmt.Sprintf("injury at %s old: %s on %s", age(dob, en.OccurredAt), strings.ToLower(typeTitle(en.Type)), day(en.OccurredAt)),
				clearReason: fmt.Sprintf("%d days after the injury was known", th.ActiveDays),
			})
		}
	}
	return out
}

func age(dob, at time.Time) string {
	months := (at.Year()-dob.Year())*12 + int(at.Month()-dob.Month())
	if at.Day() < dob.Day() {
		months--
	}
	if months < 1 {
		return plural(int(at.Sub(dob).Hours()/24/7), "week", "weeks")
	}
	return plural(months, "month", "months")
}

func typeTitle(t events.Type) string {
	if s, ok := events.Lookup(t); ok {
		return s.Title
	}
	return string(t)
}

// deadline is the shape of the overdue rules: from a trigger, something
// must happen by a deadline; the flag holds from the deadline until it does
// (or the situation ends, or the flag retires).
type deadline struct {
	trigger projections.Entry
	due     time.Time
	// done finds the entry that satisfies the deadline, or ends the need.
	done     func(t time.Time) (projections.Entry, bool)
	retireAt time.Time // zero: never
}

func (e *evaluation) overdue(d deadline) []run {
	points := []time.Time{d.due, d.trigger.Received, d.trigger.OccurredAt}
	for _, en := range e.h.Entries {
		if en.OccurredAt.After(d.trigger.OccurredAt) {
			points = append(points, later(en.OccurredAt, en.Received))
		}
	}
	if !d.retireAt.IsZero() {
		points = append(points, d.retireAt)
	}
	return e.runs(points, func(t time.Time) (bool, []projections.Entry) {
		if !knownBy(d.trigger, t) || t.Before(d.due) || (!d.retireAt.IsZero() && !t.Before(d.retireAt)) {
			return false, nil
		}
		_, ok := d.done(t)
		return !ok, []projections.Entry{d.trigger}
	})
}

// firstAfter returns the first entry known by t, after from, that matches.
func firstAfter(es []projections.Entry, from, t time.Time, match func(projections.Entry) bool) (projections.Entry, bool) {
	for _, en := range es {
		if !en.OccurredAt.Before(from) && knownBy(en, t) && match(en) {
			return en, true
		}
	}
	return projections.Entry{}, false
}

func anyEntry(projections.Entry) bool { return true }

func rhiOverdue(e *evaluation, th Thresholds) []occurrence {
	interviews := e.of("return_interview.completed")
	reported := e.of("missing.reported")
	var out []occurrence
	for _, ret := range e.of("missing.returned") {
		p, _ := payloadOf[*events.MissingReturned](ret)
		if p == nil {
			continue
		}
		sameEpisode := func(en projections.Entry) bool {
			ri, _ := payloadOf[*events.ReturnInterview](en)
			return ri != nil && ri.EpisodeRef == p.EpisodeRef
		}
		due := ret.OccurredAt.Add(time.Duration(th.Hours) * time.Hour)
		d := deadline{trigger: ret, due: due, retireAt: due.AddDate(0, 0, th.ExpireDays),
			done: func(t time.Time) (projections.Entry, bool) {
				return firstAfter(interviews, time.Time{}, t, sameEpisode)
			}}
		evidence := []string{ret.EventID}
		if rep, ok := firstAfter(reported, time.Time{}, ret.Received, func(en projections.Entry) bool {
			r, _ := payloadOf[*events.MissingReported](en)
			return r != nil && r.EpisodeRef == p.EpisodeRef
		}); ok {
			evidence = append([]string{rep.EventID}, evidence...)
		}
		for _, r := range e.overdue(d) {
			clear := fmt.Sprintf("no interview recorded; the flag retired %d days after it was due", th.ExpireDays)
			if ri, ok := d.done(later(r.end, e.at)); ok && !r.end.IsZero() && !r.end.Equal(d.retireAt) {
				clear = fmt.Sprintf("return home interview recorded on %s, %d hours after the return", day(ri.OccurredAt), int(ri.OccurredAt.Sub(ret.OccurredAt).Hours()))
			}
			out = append(out, occurrence{
				anchor: ret.EventID, start: r.start, end: r.end, evidence: evidence,
				reason:      fmt.Sprintf("returned on %s (episode %s) with no return home interview within %d hours", minute(ret.OccurredAt), p.EpisodeRef, th.Hours),
				clearReason: clear,
			})
		}
	}
	return out
}

func assessmentOverdue(e *evaluation, th Thresholds) []occurrence {
	completions := e.of("assessment.completed")
	var out []occurrence
	for _, st := range e.of("assessment.started") {
		a, _ := payloadOf[*events.AssessmentStarted](st)
		if a == nil || a.Kind != "child_and_family" {
			continue
		}
		matches := func(en projections.Entry) bool {
			c, _ := payloadOf[*events.AssessmentCompleted](en)
			return c != nil && c.Kind == a.Kind && (a.AssessmentRef == "" || c.AssessmentRef == a.AssessmentRef)
		}
		d := deadline{trigger: st, due: e.cal.AddWorkingDays(st.OccurredAt, th.WorkingDays),
			done: func(t time.Time) (projections.Entry, bool) { return firstAfter(completions, st.OccurredAt, t, matches) }}
		for _, r := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: st.EventID, start: r.start, end: r.end, evidence: []string{st.EventID},
				reason:      fmt.Sprintf("child and family assessment started on %s, not completed within %d working days (due %s)", day(st.OccurredAt), th.WorkingDays, day(d.due)),
				clearReason: "assessment completed",
			})
		}
	}
	return out
}

func icpcOverdue(e *evaluation, th Thresholds) []occurrence {
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
		d := deadline{trigger: sd, due: e.cal.AddWorkingDays(sd.OccurredAt, th.WorkingDays),
			done: func(t time.Time) (projections.Entry, bool) { return firstAfter(outcomes, sd.OccurredAt, t, ends) }}
		for _, r := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: sd.EventID, start: r.start, end: r.end, evidence: []string{sd.EventID},
				reason:      fmt.Sprintf("strategy discussion on %s started a Section 47 enquiry; no initial conference within %d working days (due %s)", day(sd.OccurredAt), th.WorkingDays, day(d.due)),
				clearReason: "initial conference held, or the enquiry concluded that none is needed",
			})
		}
	}
	return out
}

func escalatingNeed(e *evaluation, th Thresholds) []occurrence {
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
	within := func(a, b time.Time) bool { return !b.After(a.AddDate(0, th.Months, 0)) }
	var out []occurrence
	for _, r := range e.runs(pointsOf(rises, func(t time.Time) time.Time { return t.AddDate(0, th.Months, 0) }), clustered(e, rises, th.Count, within)) {
		out = append(out, occurrence{
			anchor: r.evidence[0].EventID, start: r.start, end: r.end, evidence: ids(r.evidence),
			reason:      fmt.Sprintf("level of need rose %d times between %s (at least %d within %d months)", len(r.evidence), between(r.evidence), th.Count, th.Months),
			clearReason: fmt.Sprintf("no further rise within %d months", th.Months),
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
			for _, s := range rec.Event.Subjects {
				if s.Kind == "unborn" {
					unborn = true
				}
			}
		}
		out = append(out, planSpan{start: en, unborn: unborn})
	}
	return out
}

// planEnded returns the entry that ended a child protection plan started at
// from, known by t.
func planEnded(e *evaluation, from, t time.Time) (projections.Entry, bool) {
	return firstAfter(e.h.Entries, from, t, func(en projections.Entry) bool {
		if p, ok := payloadOf[*events.PlanEnded](en); ok {
			return p.Kind == "child_protection"
		}
		if c, ok := payloadOf[*events.Conference](en); ok {
			return c.Outcome == "plan_ended"
		}
		return false
	})
}

func statusRun(e *evaluation, start projections.Entry, ends func(t time.Time) bool, extra ...time.Time) []run {
	points := append([]time.Time{start.OccurredAt, start.Received}, extra...)
	for _, en := range e.h.Entries {
		if en.OccurredAt.After(start.OccurredAt) {
			points = append(points, later(en.OccurredAt, en.Received))
		}
	}
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

func cpPlanActive(e *evaluation, _ Thresholds) []occurrence {
	var out []occurrence
	for _, p := range cpPlans(e) {
		body, _ := payloadOf[*events.PlanStarted](p.start)
		var extra []time.Time
		if p.unborn && e.h.DateOfBirth != nil {
			extra = append(extra, *e.h.DateOfBirth)
		}
		for _, r := range statusRun(e, p.start, func(t time.Time) bool {
			_, ended := planEnded(e, p.start.OccurredAt, t)
			return ended || (p.unborn && !e.born(t))
		}, extra...) {
			out = append(out, occurrence{
				anchor: p.start.EventID, start: r.start, end: r.end, evidence: []string{p.start.EventID},
				reason:      fmt.Sprintf("child protection plan (category %s) since %s", categoryText(body.Category), day(p.start.OccurredAt)),
				clearReason: "the plan ended",
			})
		}
	}
	return out
}

func unbornCPPlan(e *evaluation, _ Thresholds) []occurrence {
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
		for _, r := range statusRun(e, p.start, func(t time.Time) bool {
			_, ended := planEnded(e, p.start.OccurredAt, t)
			return ended || e.born(t)
		}, extra...) {
			out = append(out, occurrence{
				anchor: p.start.EventID, start: r.start, end: r.end, evidence: []string{p.start.EventID},
				reason:      fmt.Sprintf("unborn child protection plan (category %s) since %s", categoryText(body.Category), day(p.start.OccurredAt)),
				clearReason: "the baby was born (the plan continues as a child protection plan) or the plan ended",
			})
		}
	}
	return out
}

func lookedAfter(e *evaluation, _ Thresholds) []occurrence {
	var out []occurrence
	for _, st := range e.of("looked_after.started") {
		la, _ := payloadOf[*events.LookedAfterStarted](st)
		if la == nil {
			continue
		}
		for _, r := range statusRun(e, st, func(t time.Time) bool {
			_, ended := firstAfter(e.h.Entries, st.OccurredAt, t, func(en projections.Entry) bool { return en.Type == "looked_after.ended" })
			return ended
		}) {
			out = append(out, occurrence{
				anchor: st.EventID, start: r.start, end: r.end, evidence: []string{st.EventID},
				reason:      fmt.Sprintf("looked after since %s (legal status %s: %s)", day(st.OccurredAt), la.LegalStatus, events.LegalStatuses.Meaning(la.LegalStatus)),
				clearReason: "ceased to be looked after",
			})
		}
	}
	return out
}

func coreGroupOverdue(e *evaluation, th Thresholds) []occurrence {
	groups := e.of("core_group.held")
	var out []occurrence
	for _, p := range cpPlans(e) {
		if p.unborn {
			continue // the core group for an unborn child meets around the birth
		}
		start := p.start
		d := deadline{trigger: start, due: e.cal.AddWorkingDays(start.OccurredAt, th.WorkingDays),
			done: func(t time.Time) (projections.Entry, bool) {
				if g, ok := firstAfter(groups, start.OccurredAt, t, anyEntry); ok {
					return g, true
				}
				return planEnded(e, start.OccurredAt, t)
			}}
		for _, r := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: start.EventID, start: r.start, end: r.end, evidence: []string{start.EventID},
				reason:      fmt.Sprintf("child protection plan started on %s; no core group within %d working days (due %s)", day(start.OccurredAt), th.WorkingDays, day(d.due)),
				clearReason: "core group held, or the plan ended",
			})
		}
	}
	return out
}

func reviewOverdue(e *evaluation, th Thresholds) []occurrence {
	confs := e.of("conference.held")
	var out []occurrence
	for _, p := range cpPlans(e) {
		start := p.start
		d := deadline{trigger: start, due: start.OccurredAt.AddDate(0, th.Months, 0),
			done: func(t time.Time) (projections.Entry, bool) {
				if c, ok := firstAfter(confs, start.OccurredAt, t, func(en projections.Entry) bool {
					c, _ := payloadOf[*events.Conference](en)
					return c != nil && c.Kind == "review"
				}); ok {
					return c, true
				}
				return planEnded(e, start.OccurredAt, t)
			}}
		for _, r := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: start.EventID, start: r.start, end: r.end, evidence: []string{start.EventID},
				reason:      fmt.Sprintf("child protection plan started on %s; no review conference within %d months (due %s)", day(start.OccurredAt), th.Months, day(d.due)),
				clearReason: "review conference held, or the plan ended",
			})
		}
	}
	return out
}

func referralUndecided(e *evaluation, th Thresholds) []occurrence {
	decisions := e.of("referral.decided")
	var out []occurrence
	for _, ref := range e.of("referral.received") {
		ref := ref
		d := deadline{trigger: ref, due: e.cal.AddWorkingDays(ref.OccurredAt, th.WorkingDays),
			done: func(t time.Time) (projections.Entry, bool) {
				return firstAfter(decisions, ref.OccurredAt, t, func(en projections.Entry) bool {
					dd, _ := payloadOf[*events.ReferralDecided](en)
					return dd != nil && (dd.ReferralEventID == "" || dd.ReferralEventID == ref.EventID)
				})
			}}
		for _, r := range e.overdue(d) {
			out = append(out, occurrence{
				anchor: ref.EventID, start: r.start, end: r.end, evidence: []string{ref.EventID},
				reason:      fmt.Sprintf("referral received on %s with no decision within %s", minute(ref.OccurredAt), plural(th.WorkingDays, "working day", "working days")),
				clearReason: "referral decided",
			})
		}
	}
	return out
}
