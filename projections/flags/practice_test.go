package flags

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// The practice suite: cases written from the statutory guidance and the
// source documents, not from what the code happened to answer. Each case
// names its source; its expected flags, times and reasons are what a
// practice reviewer reading that source would sign off. Times are written as
// wall-clock times in England, because that is how the guidance and the
// practitioners read them.
//
// Sources cited below:
//   - WT2023: Working Together to Safeguard Children 2023 (DfE), chapter 2
//     (referral decision within one working day; assessment within 45 working
//     days of the referral) and chapter 3 (initial child protection conference
//     within 15 working days of the strategy discussion; first core group
//     within 10 working days of the initial conference; first review within 3
//     months of it).
//   - Missing2014: Statutory guidance on children who run away or go missing
//     from home or care (DfE, January 2014): "missing" (whereabouts not known)
//     against "away from placement without authorisation" (whereabouts known),
//     and the independent return interview within 72 hours of return.
//   - SSDA903: DfE children looked after return, missing (M) and away from
//     placement without authorisation (A).

// lon is a wall-clock time in England: GMT in winter, BST in summer.
func lon(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, london)
}

// got is the time the hub received an event: the same instant it happened,
// for boundary cases where an hour's delay would blur the edge.
func got(e ev, at time.Time) ev { e.received = at; return e }

func named(e ev, label string) ev { e.label = label; return e }

func episode(at time.Time, ref, category, code string) ev {
	return ev{typ: "missing.reported", agency: "police", occurred: at, label: ref,
		body: &events.MissingReported{EpisodeRef: ref, Category: category, RiskLevel: "medium", LookedAfterCode: code}}
}

func back(at time.Time, ref string) ev {
	return ev{typ: "missing.returned", agency: "police", occurred: at, label: "back " + ref, body: &events.MissingReturned{EpisodeRef: ref}}
}

func interview(at time.Time, ref string) ev {
	return ev{typ: "return_interview.completed", agency: "early_help", occurred: at, body: &events.ReturnInterview{EpisodeRef: ref, Accepted: new(true)}}
}

func strategy(at time.Time) ev {
	return ev{typ: "strategy_discussion.held", agency: "social_care", occurred: at, label: "strategy", body: &events.StrategyDiscussion{Decision: "section47_enquiry"}}
}

func conference(at time.Time, kind string) ev {
	outcome := "plan_started"
	if kind == "review" {
		outcome = "plan_continued"
	}
	return ev{typ: "conference.held", agency: "social_care", occurred: at, body: &events.Conference{Kind: kind, Outcome: outcome, Category: "NEG"}}
}

func referral(at time.Time) ev {
	return ev{typ: "referral.received", agency: "social_care", occurred: at, label: "referral", body: &events.ReferralReceived{Source: "2A"}}
}

func decision(at time.Time, d string) ev {
	return ev{typ: "referral.decided", agency: "social_care", occurred: at, body: &events.ReferralDecided{Decision: d}}
}

func assessment(at time.Time) ev {
	return ev{typ: "assessment.started", agency: "social_care", occurred: at, label: "assessment", body: &events.AssessmentStarted{Kind: "child_and_family", AssessmentRef: "A1"}}
}

func assessed(at time.Time) ev {
	return ev{typ: "assessment.completed", agency: "social_care", occurred: at, body: &events.AssessmentCompleted{Kind: "child_and_family", AssessmentRef: "A1", Outcome: "child_in_need_plan"}}
}

func planAt(at time.Time) ev { return named(cpPlan(at), "plan") }

func exploitationNotice(at time.Time) ev {
	return ev{typ: "police.notification", agency: "police", occurred: at, label: "notice",
		body: &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim", RiskLevel: "high"}}
}

func retraction(agency string, at time.Time, target, reason string) ev {
	return ev{typ: "record.retracted", agency: agency, occurred: at, received: at, retracts: target, body: &events.RecordRetracted{Reason: reason}}
}

// want is a flag as a practice reviewer expects to see it listed with
// includeCleared: nil means no flag of the code at all, not even a cleared
// one.
type want struct {
	active      bool
	raised      time.Time
	cleared     time.Time // zero when active
	reason      string
	clearReason string
	evidence    []string // labels, when the case is about which events count
}

type practiceCase struct {
	name   string
	source string // where the expectation comes from
	config string // a rules config over the defaults; empty for the defaults
	evs    []ev
	at     time.Time  // evaluation time
	known  *time.Time // history as known at; nil means as known at `at`
	code   string
	want   *want
}

// edge is both sides of a boundary: no flag at before, and w at after, a
// minute (or less) later.
func edge(name, source, code string, evs []ev, before, after time.Time, w want) []practiceCase {
	return []practiceCase{
		{name: name + ", the minute before", source: source, evs: evs, at: before, code: code},
		{name: name + ", the minute after", source: source, evs: evs, at: after, code: code, want: &w},
	}
}

// Cases the issue names, and both sides of every boundary they touch.
func practiceCases() []practiceCase {
	var cases []practiceCase
	add := func(c ...practiceCase) { cases = append(cases, c...) }
	utc := func(m time.Month, d, h int) time.Time { return time.Date(2025, m, d, h, 0, 0, 0, time.UTC) }

	// 1. Missing is not absent.
	teen := []ev{
		episode(lon(2025, 3, 1, 22, 0), "E1", "missing", "M"),
		episode(lon(2025, 3, 8, 19, 0), "E2", "absent", "A"), // at a parent's home: whereabouts known
		episode(lon(2025, 3, 15, 23, 0), "E3", "missing", "M"),
	}
	add(
		practiceCase{name: "absent/two missing episodes and an absence at a parent's home are not repeat missing",
			source: "Missing2014 definitions; SSDA903 M vs A", evs: teen, at: lon(2025, 3, 20, 12, 0), code: "REPEAT_MISSING"},
		practiceCase{name: "absent/a third missing episode makes three, the absence left out",
			source: "Missing2014; local trigger of 3 in 90 days", evs: append(slices.Clone(teen), episode(lon(2025, 3, 22, 21, 0), "E4", "missing", "M")),
			at: lon(2025, 3, 23, 12, 0), code: "REPEAT_MISSING", want: &want{active: true, raised: lon(2025, 3, 22, 22, 0),
				reason:   "3 missing episodes between 1 March 2025 and 22 March 2025 (at least 3 within 90 days)",
				evidence: []string{"E1", "E3", "E4"}}},
		practiceCase{name: "absent/a hub that counts absences locally",
			source: "local choice, by config", config: `{"rules": {"REPEAT_MISSING": {"count_absences": true}}}`, evs: teen,
			at: lon(2025, 3, 20, 12, 0), code: "REPEAT_MISSING", want: &want{active: true, raised: lon(2025, 3, 16, 0, 0),
				reason:   "2 missing episodes and 1 absence between 1 March 2025 and 15 March 2025 (at least 3 within 90 days, counting absences)",
				evidence: []string{"E1", "E2", "E3"}}},
		practiceCase{name: "absent/an absence raises no return home interview deadline",
			source: "Missing2014: the return interview follows a missing episode",
			evs:    []ev{episode(lon(2025, 3, 8, 19, 0), "E2", "absent", "A"), back(lon(2025, 3, 8, 23, 0), "E2")},
			at:     lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE"},
		practiceCase{name: "absent/a missing episode does",
			source: "Missing2014: independent return interview within 72 hours of return",
			evs:    []ev{episode(lon(2025, 3, 8, 19, 0), "E2", "missing", "M"), back(lon(2025, 3, 8, 23, 0), "E2")},
			at:     lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE", want: &want{active: true, raised: lon(2025, 3, 11, 23, 0),
				reason: "returned on 8 March 2025 23:00 GMT (episode E2) with no return home interview within 72 hours"}},
		practiceCase{name: "absent/police say missing though the carer's code is A: missing",
			source: "Missing2014: whereabouts not known is missing; an episode is an absence only if nobody says missing",
			evs:    []ev{episode(lon(2025, 3, 8, 19, 0), "E2", "missing", "A"), back(lon(2025, 3, 8, 23, 0), "E2")},
			at:     lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE", want: &want{active: true, raised: lon(2025, 3, 11, 23, 0),
				reason: "returned on 8 March 2025 23:00 GMT (episode E2) with no return home interview within 72 hours"}},
		practiceCase{name: "absent/police say absent but the carer's code is M (whereabouts unknown): missing",
			source: "SSDA903 M: not at the placement and whereabouts unknown",
			evs:    []ev{episode(lon(2025, 3, 8, 19, 0), "E2", "absent", "M"), back(lon(2025, 3, 8, 23, 0), "E2")},
			at:     lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE", want: &want{active: true, raised: lon(2025, 3, 11, 23, 0),
				reason: "returned on 8 March 2025 23:00 GMT (episode E2) with no return home interview within 72 hours"}},
		practiceCase{name: "absent/a hub that offers interviews after absences too",
			source: "local choice, by config", config: `{"rules": {"RHI_OVERDUE": {"count_absences": true}}}`,
			evs: []ev{episode(lon(2025, 3, 8, 19, 0), "E2", "absent", "A"), back(lon(2025, 3, 8, 23, 0), "E2")},
			at:  lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE", want: &want{active: true, raised: lon(2025, 3, 11, 23, 0),
				reason: "returned on 8 March 2025 23:00 GMT (episode E2) with no return home interview within 72 hours"}},
		practiceCase{name: "absent/the absence is recorded only after the 72 hours",
			source: "Missing2014; a flag is as known: the return was known, its classification not yet",
			evs: []ev{got(episode(lon(2025, 3, 8, 19, 0), "E2", "absent", "A"), lon(2025, 3, 13, 9, 0)),
				got(back(lon(2025, 3, 8, 23, 0), "E2"), lon(2025, 3, 8, 23, 0))},
			at: lon(2025, 3, 14, 12, 0), code: "RHI_OVERDUE", want: &want{raised: lon(2025, 3, 11, 23, 0), cleared: lon(2025, 3, 13, 9, 0),
				reason:      "returned on 8 March 2025 23:00 GMT (episode E2) with no return home interview within 72 hours",
				clearReason: "the episode was recorded as an absence (whereabouts known), which needs no return home interview"}},
		practiceCase{name: "absent/an absence and an exploitation concern are not missing with exploitation",
			source: "Missing2014 definitions",
			evs:    []ev{episode(lon(2025, 3, 1, 22, 0), "E1", "absent", "A"), exploitationNotice(lon(2025, 3, 3, 10, 0))},
			at:     lon(2025, 3, 4, 12, 0), code: "MISSING_AND_EXPLOITATION"},
		practiceCase{name: "absent/a missing episode and an exploitation concern are",
			source: "Missing2014: going missing is a warning sign of exploitation",
			evs:    []ev{episode(lon(2025, 3, 1, 22, 0), "E1", "missing", "M"), exploitationNotice(lon(2025, 3, 3, 10, 0))},
			at:     lon(2025, 3, 4, 12, 0), code: "MISSING_AND_EXPLOITATION", want: &want{active: true, raised: lon(2025, 3, 3, 11, 0),
				reason: "1 missing episode and 1 exploitation indicator between 1 March 2025 and 3 March 2025 (within 90 days of each other)"}},
	)

	// 2. Statutory deadlines are dates. ICPC: within 15 working days of
	// the strategy discussion (WT2023).
	sd := strategy(lon(2025, 2, 3, 14, 0)) // Monday; the 15th working day is Monday 24 February
	icpc := "strategy discussion on 3 February 2025 started a Section 47 enquiry; no initial conference within 15 working days (due 24 February 2025)"
	add(practiceCase{name: "deadline/ICPC held at 15:00 on its last permitted day: never flagged",
		source: "WT2023: within 15 working days is a date",
		evs:    []ev{sd, got(conference(lon(2025, 2, 24, 15, 0), "initial"), lon(2025, 2, 24, 16, 0))},
		at:     lon(2025, 3, 10, 12, 0), code: "ICPC_OVERDUE"})
	add(edge("deadline/ICPC overdue from 00:00 on the next working day", "WT2023", "ICPC_OVERDUE", []ev{sd},
		lon(2025, 2, 24, 23, 59), lon(2025, 2, 25, 0, 0), want{active: true, raised: utc(2, 25, 0), reason: icpc})...)
	add(
		practiceCase{name: "deadline/ICPC a late conference clears it, saying when",
			source: "WT2023", evs: []ev{sd, conference(lon(2025, 2, 25, 10, 0), "initial")}, at: lon(2025, 2, 26, 12, 0), code: "ICPC_OVERDUE",
			want: &want{raised: utc(2, 25, 0), cleared: lon(2025, 2, 25, 11, 0), reason: icpc, clearReason: "initial conference held on 25 February 2025"}},
		practiceCase{name: "deadline/ICPC not needed: the enquiry concluded after the deadline",
			source: "WT2023: no conference where concerns are not substantiated",
			evs:    []ev{sd, {typ: "section47.completed", agency: "social_care", occurred: lon(2025, 2, 27, 10, 0), body: &events.Section47Completed{Outcome: "not_substantiated"}}},
			at:     lon(2025, 3, 3, 12, 0), code: "ICPC_OVERDUE",
			want: &want{raised: utc(2, 25, 0), cleared: lon(2025, 2, 27, 11, 0), reason: icpc,
				clearReason: "the Section 47 enquiry concluded on 27 February 2025 that no conference is needed"}},
		practiceCase{name: "deadline/ICPC due on a Friday is overdue from Monday, not Saturday",
			source: "WT2023; flags start on a working day", evs: []ev{strategy(lon(2025, 2, 7, 10, 0))}, at: lon(2025, 3, 1, 12, 0), code: "ICPC_OVERDUE"},
		practiceCase{name: "deadline/ICPC due on a Friday, Monday 00:00",
			source: "WT2023", evs: []ev{strategy(lon(2025, 2, 7, 10, 0))}, at: lon(2025, 3, 3, 0, 0), code: "ICPC_OVERDUE",
			want: &want{active: true, raised: utc(3, 3, 0),
				reason: "strategy discussion on 7 February 2025 started a Section 47 enquiry; no initial conference within 15 working days (due 28 February 2025)"}},
		practiceCase{name: "deadline/ICPC across Easter, held late on the last day",
			source: "WT2023", evs: []ev{strategy(lon(2025, 4, 17, 10, 0)), got(conference(lon(2025, 5, 13, 16, 30), "initial"), lon(2025, 5, 13, 17, 0))},
			at: lon(2025, 5, 20, 12, 0), code: "ICPC_OVERDUE"},
		practiceCase{name: "deadline/ICPC read as a clock by a hub's choice",
			source: "local choice, by config", config: `{"rules": {"ICPC_OVERDUE": {"deadline": "clock"}}}`,
			evs: []ev{strategy(lon(2025, 3, 12, 16, 0))}, at: lon(2025, 4, 2, 16, 1), code: "ICPC_OVERDUE",
			want: &want{active: true, raised: lon(2025, 4, 2, 16, 0),
				reason: "strategy discussion on 12 March 2025 started a Section 47 enquiry; no initial conference within 15 working days (due 2 April 2025)"}},
	)
	// Across Good Friday, Easter Monday and the early May bank holiday: the
	// 15th working day from Thursday 17 April 2025 is Tuesday 13 May.
	add(edge("deadline/ICPC across Easter and May Day", "WT2023; England and Wales bank holidays", "ICPC_OVERDUE", []ev{strategy(lon(2025, 4, 17, 10, 0))},
		lon(2025, 5, 13, 23, 59), lon(2025, 5, 14, 0, 1), want{active: true, raised: utc(5, 13, 23),
			reason: "strategy discussion on 17 April 2025 started a Section 47 enquiry; no initial conference within 15 working days (due 13 May 2025)"})...)
	// Across the change to BST on Sunday 30 March 2025: 15 working days from
	// Wednesday 12 March is Wednesday 2 April.
	add(edge("deadline/ICPC across the clock change", "WT2023", "ICPC_OVERDUE", []ev{strategy(lon(2025, 3, 12, 16, 0))},
		lon(2025, 4, 2, 23, 59), lon(2025, 4, 3, 0, 0), want{active: true, raised: utc(4, 2, 23),
			reason: "strategy discussion on 12 March 2025 started a Section 47 enquiry; no initial conference within 15 working days (due 2 April 2025)"})...)

	// Assessment: within 45 working days from the point of referral (WT2023).
	referred := []ev{referral(lon(2025, 1, 6, 9, 0)), assessment(lon(2025, 1, 8, 10, 0))}
	add(edge("deadline/assessment counted from the referral", "WT2023: 45 working days from the point of referral", "ASSESSMENT_OVERDUE", referred,
		lon(2025, 3, 10, 23, 59), lon(2025, 3, 11, 0, 0), want{active: true, raised: utc(3, 11, 0), evidence: []string{"referral", "assessment"},
			reason: "child and family assessment following the referral on 6 January 2025, not completed within 45 working days of the referral (due 10 March 2025)"})...)
	add(edge("deadline/assessment across the clock change and Easter", "WT2023", "ASSESSMENT_OVERDUE",
		[]ev{referral(lon(2025, 2, 24, 10, 0)), assessment(lon(2025, 2, 26, 10, 0))}, lon(2025, 4, 30, 23, 59), lon(2025, 5, 1, 0, 0),
		want{active: true, raised: utc(4, 30, 23),
			reason: "child and family assessment following the referral on 24 February 2025, not completed within 45 working days of the referral (due 30 April 2025)"})...)
	add(
		practiceCase{name: "deadline/assessment completed at 17:30 on its last day",
			source: "WT2023", evs: append(slices.Clone(referred), got(assessed(lon(2025, 3, 10, 17, 30)), lon(2025, 3, 10, 17, 45))),
			at: lon(2025, 3, 20, 12, 0), code: "ASSESSMENT_OVERDUE"},
		practiceCase{name: "deadline/assessment with no referral on record counts from its start",
			source: "WT2023; the start is the earliest point Chronicle knows", evs: []ev{assessment(lon(2025, 1, 6, 9, 0))}, at: lon(2025, 3, 11, 0, 0), code: "ASSESSMENT_OVERDUE",
			want: &want{active: true, raised: utc(3, 11, 0),
				reason: "child and family assessment started on 6 January 2025, not completed within 45 working days (due 10 March 2025)"}},
		practiceCase{name: "deadline/an old referral closed with no further action does not start the clock",
			source: "WT2023: the referral the assessment answers",
			evs:    []ev{referral(lon(2024, 11, 1, 9, 0)), decision(lon(2024, 11, 1, 15, 0), "no_further_action"), assessment(lon(2025, 1, 6, 9, 0))},
			at:     lon(2025, 3, 10, 12, 0), code: "ASSESSMENT_OVERDUE"},
	)

	// Core group within 10 working days of the initial conference; first
	// review within 3 months of it (WT2023). The plan starts at that
	// conference.
	add(edge("deadline/core group across the clock change", "WT2023", "CORE_GROUP_OVERDUE", []ev{planAt(lon(2025, 3, 20, 11, 0))},
		lon(2025, 4, 3, 23, 59), lon(2025, 4, 4, 0, 0), want{active: true, raised: utc(4, 3, 23),
			reason: "child protection plan started on 20 March 2025; no core group within 10 working days (due 3 April 2025)"})...)
	add(edge("deadline/review across the clock change", "WT2023", "REVIEW_CONFERENCE_OVERDUE", []ev{planAt(lon(2025, 1, 2, 10, 0))},
		lon(2025, 4, 2, 23, 59), lon(2025, 4, 3, 0, 0), want{active: true, raised: utc(4, 2, 23),
			reason: "child protection plan started on 2 January 2025; no review conference within 3 months (due 2 April 2025)"})...)
	add(
		practiceCase{name: "deadline/core group held at 16:00 on the last day",
			source: "WT2023", evs: []ev{planAt(lon(2025, 3, 20, 11, 0)),
				got(ev{typ: "core_group.held", agency: "social_care", occurred: lon(2025, 4, 3, 16, 0), body: &events.CoreGroup{}}, lon(2025, 4, 3, 17, 0))},
			at: lon(2025, 4, 10, 12, 0), code: "CORE_GROUP_OVERDUE"},
		// 29 November plus 3 months is 28 February (there is no 29th in
		// 2025), a Friday: overdue from Monday 3 March.
		practiceCase{name: "deadline/review due on the last day of a short month, the weekend after",
			source: "WT2023: within 3 months", evs: []ev{planAt(lon(2024, 11, 29, 10, 0))}, at: lon(2025, 3, 2, 23, 59), code: "REVIEW_CONFERENCE_OVERDUE"},
		practiceCase{name: "deadline/review overdue from the next working day",
			source: "WT2023", evs: []ev{planAt(lon(2024, 11, 29, 10, 0))}, at: lon(2025, 3, 3, 0, 0), code: "REVIEW_CONFERENCE_OVERDUE",
			want: &want{active: true, raised: utc(3, 3, 0),
				reason: "child protection plan started on 29 November 2024; no review conference within 3 months (due 28 February 2025)"}},
		practiceCase{name: "deadline/review held at 15:00 on its last day",
			source: "WT2023", evs: []ev{planAt(lon(2024, 11, 29, 10, 0)), got(conference(lon(2025, 2, 28, 15, 0), "review"), lon(2025, 2, 28, 16, 0))},
			at: lon(2025, 3, 10, 12, 0), code: "REVIEW_CONFERENCE_OVERDUE"},
	)

	// A decision within one working day of the referral (WT2023).
	add(edge("deadline/referral on a Friday afternoon, due Monday, across the clock change", "WT2023", "REFERRAL_UNDECIDED", []ev{referral(lon(2025, 3, 28, 16, 0))},
		lon(2025, 3, 31, 23, 59), lon(2025, 4, 1, 0, 0), want{active: true, raised: utc(3, 31, 23),
			reason: "referral received on 28 March 2025 16:00 GMT with no decision within 1 working day (due 31 March 2025)"})...)
	add(edge("deadline/referral before Easter", "WT2023", "REFERRAL_UNDECIDED", []ev{referral(lon(2025, 4, 17, 15, 0))},
		lon(2025, 4, 22, 23, 59), lon(2025, 4, 23, 0, 1), want{active: true, raised: utc(4, 22, 23),
			reason: "referral received on 17 April 2025 15:00 BST with no decision within 1 working day (due 22 April 2025)"})...)
	add(practiceCase{name: "deadline/referral decided at 17:00 on the Monday",
		source: "WT2023", evs: []ev{referral(lon(2025, 3, 28, 16, 0)), got(decision(lon(2025, 3, 31, 17, 0), "assessment"), lon(2025, 3, 31, 17, 5))},
		at: lon(2025, 4, 7, 12, 0), code: "REFERRAL_UNDECIDED"})

	// The return home interview is 72 hours by the clock (Missing2014):
	// neither bank holidays nor the clock change move it.
	add(edge("hours/RHI across the clock change: 72 hours is 11:00 BST", "Missing2014: within 72 hours", "RHI_OVERDUE",
		[]ev{episode(lon(2025, 3, 29, 1, 0), "C1", "missing", ""), back(lon(2025, 3, 29, 10, 0), "C1")}, lon(2025, 4, 1, 10, 59), lon(2025, 4, 1, 11, 0),
		want{active: true, raised: utc(4, 1, 10), reason: "returned on 29 March 2025 10:00 GMT (episode C1) with no return home interview within 72 hours"})...)
	overEaster := []ev{episode(lon(2025, 4, 17, 1, 0), "C2", "missing", ""), back(lon(2025, 4, 17, 18, 0), "C2")}
	add(edge("hours/RHI over Easter: bank holidays do not stop the clock", "Missing2014", "RHI_OVERDUE", overEaster,
		lon(2025, 4, 20, 17, 59), lon(2025, 4, 20, 18, 1), want{active: true, raised: lon(2025, 4, 20, 18, 0),
			reason: "returned on 17 April 2025 18:00 BST (episode C2) with no return home interview within 72 hours"})...)
	add(practiceCase{name: "hours/RHI held a minute inside the 72 hours",
		source: "Missing2014", evs: append(slices.Clone(overEaster), got(interview(lon(2025, 4, 20, 17, 59), "C2"), lon(2025, 4, 20, 17, 59))),
		at: lon(2025, 4, 25, 12, 0), code: "RHI_OVERDUE"})

	// 3. Windows are London calendar dates, inclusive.
	window := []ev{
		episode(lon(2025, 2, 17, 9, 30), "W1", "missing", ""),
		episode(lon(2025, 4, 2, 20, 0), "W2", "missing", ""),
		episode(lon(2025, 5, 18, 21, 0), "W3", "missing", ""), // 90 days after 17 February by date, 90 days and 10½ hours by the clock
	}
	add(
		practiceCase{name: "window/17 February 09:30 GMT to 18 May 21:00 BST is within 90 days",
			source: "local trigger: 3 missing episodes within 90 days", evs: window, at: lon(2025, 5, 18, 23, 0), code: "REPEAT_MISSING",
			want: &want{active: true, raised: lon(2025, 5, 18, 22, 0), reason: "3 missing episodes between 17 February 2025 and 18 May 2025 (at least 3 within 90 days)"}},
		practiceCase{name: "window/00:30 BST on 19 May is the 91st day",
			source: "local trigger", evs: []ev{window[0], window[1], episode(lon(2025, 5, 19, 0, 30), "W3", "missing", "")},
			at: lon(2025, 5, 19, 12, 0), code: "REPEAT_MISSING"},
		practiceCase{name: "window/still within 90 days of the last at 23:59 on the 90th day",
			source: "local trigger", evs: []ev{episode(lon(2025, 3, 3, 20, 0), "A", "missing", ""), episode(lon(2025, 3, 10, 20, 0), "B", "missing", ""), episode(lon(2025, 3, 14, 20, 0), "C", "missing", "")},
			at: lon(2025, 6, 12, 23, 59), code: "REPEAT_MISSING",
			want: &want{active: true, raised: lon(2025, 3, 14, 21, 0), reason: "3 missing episodes between 3 March 2025 and 14 March 2025 (at least 3 within 90 days)"}},
		practiceCase{name: "window/clears at 00:00 BST on the 91st day",
			source: "local trigger", evs: []ev{episode(lon(2025, 3, 3, 20, 0), "A", "missing", ""), episode(lon(2025, 3, 10, 20, 0), "B", "missing", ""), episode(lon(2025, 3, 14, 20, 0), "C", "missing", "")},
			at: lon(2025, 6, 13, 0, 0), code: "REPEAT_MISSING",
			want: &want{raised: lon(2025, 3, 14, 21, 0), cleared: utc(6, 12, 23),
				reason:      "3 missing episodes between 3 March 2025 and 14 March 2025 (at least 3 within 90 days)",
				clearReason: "more than 90 days since the last of these episodes, on 14 March 2025"}},
		practiceCase{name: "window/concerns from three agencies across the clock change",
			source: "MASH pattern: concerns from 3 agencies within 90 days",
			evs: []ev{
				concern("education", "education.persistent_absence", lon(2025, 2, 17, 9, 30), &events.PersistentAbsence{Period: "2024/25 spring term"}),
				concern("health", "health.concern", lon(2025, 4, 2, 20, 0), &events.HealthConcern{Concern: "x"}),
				concern("police", "police.notification", lon(2025, 5, 18, 21, 0), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
			},
			at: lon(2025, 5, 18, 23, 0), code: "MULTI_AGENCY_CONCERNS",
			want: &want{active: true, raised: lon(2025, 5, 18, 22, 0),
				reason: "3 concerns from 3 agencies (education, health, police) between 17 February 2025 and 18 May 2025, and no assessment open or plan in place"}},
		// The education concern's 90 days end on 18 May (a London date);
		// from 00:00 BST on 19 May two agencies are left, so the flag
		// clears then, not 90 × 24 hours after 09:30 GMT on 17 February.
		practiceCase{name: "window/concerns from three agencies: cleared at the start of the day after the 90th",
			source: "MASH pattern: concerns from 3 agencies within 90 days (calendar dates, Europe/London)",
			evs: []ev{
				concern("education", "education.persistent_absence", lon(2025, 2, 17, 9, 30), &events.PersistentAbsence{Period: "2024/25 spring term"}),
				concern("health", "health.concern", lon(2025, 4, 2, 20, 0), &events.HealthConcern{Concern: "x"}),
				concern("police", "police.notification", lon(2025, 5, 18, 21, 0), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
			},
			at: lon(2025, 5, 20, 12, 0), code: "MULTI_AGENCY_CONCERNS",
			want: &want{raised: lon(2025, 5, 18, 22, 0), cleared: lon(2025, 5, 19, 0, 0),
				reason:      "3 concerns from 3 agencies (education, health, police) between 17 February 2025 and 18 May 2025, and no assessment open or plan in place",
				clearReason: "fewer than 3 agencies have raised a concern within the last 90 days"}},
		practiceCase{name: "window/missing and exploitation across the clock change",
			source: "Missing2014", evs: []ev{window[0], named(concern("social_care", "exploitation.screening", lon(2025, 5, 18, 21, 0), &events.ExploitationScreening{Kind: "criminal", RiskLevel: "high"}), "screen")},
			at: lon(2025, 5, 18, 23, 0), code: "MISSING_AND_EXPLOITATION",
			want: &want{active: true, raised: lon(2025, 5, 18, 22, 0),
				reason: "1 missing episode and 1 exploitation indicator between 17 February 2025 and 18 May 2025 (within 90 days of each other)"}},
		practiceCase{name: "window/12 months of domestic abuse by date: 1 March to 1 March at 22:30",
			source: "Domestic Abuse Act 2021; 2 notifications within 12 months", evs: []ev{da(lon(2024, 3, 1, 10, 0), "medium"), da(lon(2025, 3, 1, 22, 30), "medium")},
			at: lon(2025, 3, 2, 9, 0), code: "REPEAT_DOMESTIC_ABUSE",
			want: &want{active: true, raised: lon(2025, 3, 1, 23, 30),
				reason: "2 domestic abuse notifications between 1 March 2024 and 1 March 2025 (at least 2 within 365 days)"}},
		practiceCase{name: "window/12 months of domestic abuse by date: 2 March is a day too late",
			source: "Domestic Abuse Act 2021", evs: []ev{da(lon(2024, 3, 1, 10, 0), "medium"), da(lon(2025, 3, 2, 0, 30), "medium")},
			at: lon(2025, 3, 2, 9, 0), code: "REPEAT_DOMESTIC_ABUSE"},
	)

	// 4. A flag whose only evidence is retracted stays on the record,
	// cleared, with why.
	wrongChild := []ev{
		episode(lon(2025, 3, 1, 20, 0), "E1", "missing", ""),
		exploitationNotice(lon(2025, 3, 3, 10, 0)),
		retraction("police", lon(2025, 3, 10, 14, 0), "notice", "Wrong child: the notification concerned another child at the address"),
	}
	mae := "1 missing episode and 1 exploitation indicator between 1 March 2025 and 3 March 2025 (within 90 days of each other)"
	retracted := "evidence retracted by police on 10 March 2025: Wrong child: the notification concerned another child at the address"
	before, after := lon(2025, 3, 5, 12, 0), lon(2025, 3, 12, 12, 0)
	add(
		practiceCase{name: "retraction/as known after it: shown from 3 to 10 March, cleared with why",
			source: "a correction or retraction changes what is shown, never what is kept (DESIGN)", evs: wrongChild, at: after, code: "MISSING_AND_EXPLOITATION",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 10, 14, 0), reason: mae, clearReason: retracted}},
		practiceCase{name: "retraction/as known before it: active",
			source: "as known at T", evs: wrongChild, at: before, code: "MISSING_AND_EXPLOITATION",
			want: &want{active: true, raised: lon(2025, 3, 3, 11, 0), reason: mae}},
		practiceCase{name: "retraction/with hindsight, on a date before it was made: active then",
			source: "hindsight counts every record, the retraction too, from when it happened", evs: wrongChild, at: before, known: &after, code: "MISSING_AND_EXPLOITATION",
			want: &want{active: true, raised: lon(2025, 3, 3, 10, 0), reason: mae}},
		practiceCase{name: "retraction/the second of two domestic abuse notifications was another child's",
			source: "DESIGN", evs: []ev{da(lon(2025, 2, 1, 10, 0), "medium"), named(da(lon(2025, 2, 20, 10, 0), "medium"), "da2"),
				retraction("police", lon(2025, 2, 25, 9, 0), "da2", "Wrong child")},
			at: lon(2025, 3, 1, 12, 0), code: "REPEAT_DOMESTIC_ABUSE",
			want: &want{raised: lon(2025, 2, 20, 11, 0), cleared: lon(2025, 2, 25, 9, 0),
				reason:      "2 domestic abuse notifications between 1 February 2025 and 20 February 2025 (at least 2 within 365 days)",
				clearReason: "evidence retracted by police on 25 February 2025: Wrong child"}},
		practiceCase{name: "retraction/a plan recorded against the wrong child",
			source: "DESIGN; CP-IS status", evs: []ev{planAt(lon(2025, 2, 3, 10, 0)), retraction("social_care", lon(2025, 2, 4, 9, 0), "plan", "Recorded against the wrong child")},
			at: lon(2025, 2, 5, 12, 0), code: "CP_PLAN_ACTIVE",
			want: &want{raised: lon(2025, 2, 3, 11, 0), cleared: lon(2025, 2, 4, 9, 0),
				reason:      "child protection plan (category NEG: Neglect) since 3 February 2025",
				clearReason: "evidence retracted by social care on 4 February 2025: Recorded against the wrong child"}},
	)
	return cases
}

func TestPractice(t *testing.T) {
	cases := append(practiceCases(), concernCases()...)
	cases = append(cases, wordingCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, labels := evaluatePractice(t, tc)
			var mine []Flag
			for _, f := range fs {
				if f.Code == tc.code {
					mine = append(mine, f)
				}
			}
			if tc.want == nil {
				if len(mine) > 0 {
					t.Fatalf("%s: want no flag at all (not even a cleared one), got %s", tc.source, describe(mine))
				}
				return
			}
			if len(mine) != 1 {
				t.Fatalf("%s: want one %s flag, got %s", tc.source, tc.code, describe(mine))
			}
			f, w := mine[0], tc.want
			if f.Active() != w.active {
				t.Errorf("active %v, want %v (%s)", f.Active(), w.active, describe(mine))
			}
			if !f.RaisedAt.Equal(w.raised) {
				t.Errorf("raised %s, want %s", london8601(f.RaisedAt), london8601(w.raised))
			}
			switch {
			case w.cleared.IsZero() && f.ClearedAt != nil:
				t.Errorf("cleared %s, want active", london8601(*f.ClearedAt))
			case !w.cleared.IsZero() && (f.ClearedAt == nil || !f.ClearedAt.Equal(w.cleared)):
				t.Errorf("cleared %v, want %s", f.ClearedAt, london8601(w.cleared))
			}
			if f.Reason != w.reason {
				t.Errorf("reason\n got %q\nwant %q", f.Reason, w.reason)
			}
			if f.ClearReason != w.clearReason {
				t.Errorf("clear reason\n got %q\nwant %q", f.ClearReason, w.clearReason)
			}
			if w.evidence != nil {
				var want []string
				for _, l := range w.evidence {
					want = append(want, labels[l])
				}
				if !slices.Equal(f.Evidence, want) {
					t.Errorf("evidence %v, want %v (%v)", f.Evidence, want, w.evidence)
				}
			}
		})
	}
}

// evaluatePractice evaluates a case the way the gateway does: the child's
// history as known at the cut-off, retractions included, at the time asked.
func evaluatePractice(t *testing.T, tc practiceCase) ([]Flag, map[string]string) {
	t.Helper()
	cfg := DefaultConfig()
	if tc.config != "" {
		var err error
		if cfg, err = LoadConfig(strings.NewReader(tc.config)); err != nil {
			t.Fatalf("config: %v", err)
		}
	}
	m, labels := buildLabelled(t, tc.evs)
	c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, nil)
	if !ok {
		t.Fatal("no child")
	}
	known := tc.at
	if tc.known != nil {
		known = *tc.known
	}
	fs, ok := ForChild(m, c.ID, &known, tc.at, known.After(tc.at), cfg)
	if !ok {
		t.Fatalf("no child as known at %s", london8601(known))
	}
	return fs, labels
}

func london8601(t time.Time) string { return t.In(london).Format("Mon 2 Jan 2006 15:04 MST") }

func describe(fs []Flag) string {
	if len(fs) == 0 {
		return "none"
	}
	var parts []string
	for _, f := range fs {
		s := fmt.Sprintf("%s raised %s %q", f.Code, london8601(f.RaisedAt), f.Reason)
		if f.ClearedAt != nil {
			s += fmt.Sprintf(" cleared %s %q", london8601(*f.ClearedAt), f.ClearReason)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// 5. What counts as a concern, type by type. Each case has two concerns from
// two other agencies, then the one under test: the flag shows exactly when
// the type counts, for the agency it should count for.
func concernCases() []practiceCase {
	base := map[string]ev{
		"health":    concern("health", "health.concern", lon(2025, 2, 3, 10, 0), &events.HealthConcern{Concern: "Missed appointments"}),
		"education": concern("education", "education.concern", lon(2025, 2, 4, 10, 0), &events.EducationConcern{Concern: "Tired and hungry"}),
		"housing":   concern("housing", "housing.concern", lon(2025, 2, 5, 10, 0), &events.HousingConcern{Kind: "overcrowding"}),
	}
	pick := func(not string) []ev {
		var out []ev
		for _, a := range []string{"health", "education", "housing"} {
			if a != not && len(out) < 2 {
				out = append(out, base[a])
			}
		}
		return out
	}
	at := lon(2025, 2, 17, 10, 0)
	tests := []struct {
		name   string
		agency string // whom it counts for; "" when it does not count
		e      ev
		config string
		with   []ev // the two other agencies, when not the default pair
	}{
		{"education persistent absence", "education", concern("education", "education.persistent_absence", at, &events.PersistentAbsence{Period: "2024/25 spring term", AttendancePercent: new(81.5)}), "", nil},
		{"child missing education", "education", concern("education", "education.missing_education", at, &events.MissingEducation{Reason: "Removed from roll"}), "", nil},
		{"suspension", "education", concern("education", "education.exclusion", at, &events.Exclusion{Kind: "suspension", Days: 3}), "", nil},
		{"permanent exclusion", "education", concern("education", "education.exclusion", at, &events.Exclusion{Kind: "permanent"}), "", nil},
		{"school safeguarding concern", "education", concern("education", "education.concern", at, &events.EducationConcern{Concern: "Disclosure"}), "", nil},
		{"police domestic abuse notification", "police", da(at, "medium"), "", nil},
		{"police concern for welfare", "police", concern("police", "police.notification", at, &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}), "", nil},
		{"police incident, child a suspect", "police", concern("police", "police.incident", at, &events.PoliceReport{Category: "offence", ChildRole: "suspect"}), "", nil},
		{"missing episode", "police", episode(at, "M1", "missing", ""), "", nil},
		{"absence", "", episode(at, "M1", "absent", ""), "", nil},
		{"absence, counted by the hub's choice", "police", episode(at, "M1", "absent", ""), `{"rules": {"MULTI_AGENCY_CONCERNS": {"count_absences": true}}}`, nil},
		{"ED attendance with an injury", "health", concern("health", "health.ed_attendance", at, &events.EDAttendance{Reason: "Head injury", Injury: true}), "", pick("health")},
		{"ED attendance with a safeguarding concern", "health", concern("health", "health.ed_attendance", at, &events.EDAttendance{Reason: "Intoxicated", SafeguardingConcern: true}), "", pick("health")},
		{"ED attendance for a fever", "", concern("health", "health.ed_attendance", at, &events.EDAttendance{Reason: "Fever"}), "", pick("health")},
		{"injury seen by a health professional", "health", concern("health", "health.injury", at, &events.Injury{Description: "Bruising"}), "", pick("health")},
		{"health concern", "health", concern("health", "health.concern", at, &events.HealthConcern{Concern: "x"}), "", pick("health")},
		{"housing concern", "housing", concern("housing", "housing.concern", at, &events.HousingConcern{Kind: "eviction"}), "", pick("housing")},
		{"youth justice intervention", "youth_justice", concern("youth_justice", "youth_justice.intervention", at, &events.YouthJusticeIntervention{Kind: "referral_order"}), "", nil},
		{"Prevent referral", "voluntary", concern("voluntary", "prevent.referral", at, &events.PreventReferral{Concern: "x", Outcome: "pending"}), "", nil},
		{"exploitation screening, even graded low", "social_care", concern("social_care", "exploitation.screening", at, &events.ExploitationScreening{Kind: "criminal", RiskLevel: "low"}), "", nil},
		{"information shared by a voluntary partner", "voluntary", concern("voluntary", "information.shared", at, &events.InformationShared{Text: "x"}), "", nil},
		{"contact from a neighbour, at the front door", "social_care", concern("social_care", "contact.received", at, &events.ContactReceived{ReferralSource: "1B", Concern: "x"}), "", nil},
		{"contact from the police counts for the police", "police", concern("social_care", "contact.received", at, &events.ContactReceived{ReferralSource: "6", Concern: "x"}), "", nil},
		{"contact from a school counts for education, already counted", "", concern("social_care", "contact.received", at, &events.ContactReceived{ReferralSource: "2A", Concern: "x"}), "", []ev{base["health"], base["education"]}},
		{"referral from A&E counts for health", "health", concern("social_care", "referral.received", at, &events.ReferralReceived{Source: "3E"}), "", pick("health")},
		{"MASH decision: a response, not a concern", "", concern("hub", "mash.decision", at, &events.MASHDecision{RAG: "amber", Outcome: "early_help"}), "", nil},
		{"return from a missing episode: the report counted it", "", back(at, "M1"), "", nil},
		{"return home interview: a response", "", interview(at, "M1"), "", nil},
		{"serious incident notification: the local authority's own report", "", concern("social_care", "serious_incident.notified", at, &events.SeriousIncident{Kind: "serious_harm"}), "", nil},
		{"persistent absence not counted by a hub's choice", "", concern("education", "education.persistent_absence", at, &events.PersistentAbsence{Period: "2024/25 spring term"}),
			`{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": ["health.concern", "education.concern", "housing.concern", "police.notification"]}}}`, []ev{base["health"], base["housing"]}},
	}
	var out []practiceCase
	for _, tt := range tests {
		evs := tt.with
		switch {
		case evs != nil:
		case tt.agency != "":
			evs = pick(tt.agency)
		default:
			evs = pick(tt.e.agency)
		}
		evs = append(slices.Clone(evs), named(tt.e, "tested"))
		c := practiceCase{name: "concern/" + tt.name, source: "MASH: concerns from 3 agencies; the concerns table", config: tt.config,
			evs: evs, at: lon(2025, 2, 18, 12, 0), code: "MULTI_AGENCY_CONCERNS"}
		if tt.agency != "" {
			agencies := []string{tt.agency}
			for _, e := range evs[:2] {
				agencies = append(agencies, e.agency)
			}
			slices.Sort(agencies)
			c.want = &want{active: true, raised: lon(2025, 2, 17, 11, 0),
				reason: fmt.Sprintf("3 concerns from 3 agencies (%s) between %s and 17 February 2025, and no assessment open or plan in place",
					strings.ReplaceAll(strings.Join(agencies, ", "), "_", " "), day(evs[0].occurred))}
			c.evs[0].label, c.evs[1].label = "first", "second"
			c.want.evidence = []string{"first", "second", "tested"}
		}
		out = append(out, c)
	}
	// The child: known to education, police, health and housing
	// within weeks is four agencies, not three.
	out = append(out, practiceCase{name: "concern/known to education, police, health and housing within weeks",
		source: "MASH", code: "MULTI_AGENCY_CONCERNS", at: lon(2025, 2, 18, 12, 0),
		evs: []ev{
			concern("education", "education.persistent_absence", lon(2025, 2, 3, 10, 0), &events.PersistentAbsence{Period: "2024/25 spring term"}),
			concern("police", "police.notification", lon(2025, 2, 10, 10, 0), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
			concern("health", "health.ed_attendance", lon(2025, 2, 14, 10, 0), &events.EDAttendance{Reason: "Cut hand", Injury: true}),
			concern("housing", "housing.concern", lon(2025, 2, 17, 10, 0), &events.HousingConcern{Kind: "eviction"}),
		},
		want: &want{active: true, raised: lon(2025, 2, 14, 11, 0),
			reason: "4 concerns from 4 agencies (education, health, housing, police) between 3 February 2025 and 17 February 2025, and no assessment open or plan in place"}})
	return out
}

// 6. Wording: with every threshold at 1, each reason is singular; the
// defaults give the plurals (checked above, and by TestReasonsAgreeInNumber
// over every reason the suite produces).
func wordingCases() []practiceCase {
	ones := `{"rules": {"REPEAT_MISSING": {"count": 1, "window_days": 1}, "RHI_OVERDUE": {"hours": 1, "expire_days": 1},
		"ESCALATING_NEED": {"count": 1, "months": 1}, "ICPC_OVERDUE": {"working_days": 1}, "REVIEW_CONFERENCE_OVERDUE": {"months": 1},
		"MULTI_AGENCY_CONCERNS": {"count": 1, "window_days": 1}, "REPEAT_DOMESTIC_ABUSE": {"count": 1, "window_days": 1},
		"INJURY_UNDER_ONE": {"active_days": 1}, "CORE_GROUP_OVERDUE": {"working_days": 1}, "ASSESSMENT_OVERDUE": {"working_days": 1}}}`
	baby := events.Subject{Identifiers: events.Identifiers{NHSNumber: "9990000018"}, DateOfBirth: "2025-03-01"}
	injury := func(d int) ev {
		return ev{typ: "health.ed_attendance", agency: "health", occurred: lon(2025, 3, d, 10, 0), subject: &baby, body: &events.EDAttendance{Reason: "Bruise", Injury: true}}
	}
	rise := func(at time.Time, from, to int) ev {
		return ev{typ: "need_level.changed", agency: "social_care", occurred: at, body: &events.NeedLevelChanged{From: from, To: to}}
	}
	return []practiceCase{
		{name: "wording/one missing episode within one day", source: "plain English", config: ones,
			evs: []ev{episode(lon(2025, 3, 3, 20, 0), "S1", "missing", "")}, at: lon(2025, 3, 5, 12, 0), code: "REPEAT_MISSING",
			want: &want{raised: lon(2025, 3, 3, 21, 0), cleared: lon(2025, 3, 5, 0, 0), reason: "1 missing episode on 3 March 2025 (at least 1 within 1 day)",
				clearReason: "more than 1 day since the episode on 3 March 2025"}},
		{name: "wording/an interview within one hour, recorded 2 hours after", source: "plain English", config: ones,
			evs: []ev{episode(lon(2025, 3, 3, 1, 0), "S1", "missing", ""), back(lon(2025, 3, 3, 10, 0), "S1"), got(interview(lon(2025, 3, 3, 12, 0), "S1"), lon(2025, 3, 3, 12, 0))},
			at:  lon(2025, 3, 3, 13, 0), code: "RHI_OVERDUE",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 3, 12, 0),
				reason:      "returned on 3 March 2025 10:00 GMT (episode S1) with no return home interview within 1 hour",
				clearReason: "return home interview recorded on 3 March 2025, 2 hours after the return"}},
		{name: "wording/an interview recorded 1 hour after", source: "plain English", config: ones,
			evs: []ev{episode(lon(2025, 3, 3, 1, 0), "S1", "missing", ""), back(lon(2025, 3, 3, 10, 0), "S1"), got(interview(lon(2025, 3, 3, 11, 30), "S1"), lon(2025, 3, 3, 11, 30))},
			at:  lon(2025, 3, 3, 13, 0), code: "RHI_OVERDUE",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 3, 11, 30),
				reason:      "returned on 3 March 2025 10:00 GMT (episode S1) with no return home interview within 1 hour",
				clearReason: "return home interview recorded on 3 March 2025, 1 hour after the return"}},
		{name: "wording/the interview flag retires", source: "plain English", config: ones,
			evs: []ev{episode(lon(2025, 3, 3, 1, 0), "S1", "missing", ""), back(lon(2025, 3, 3, 10, 0), "S1")},
			at:  lon(2025, 3, 10, 12, 0), code: "RHI_OVERDUE",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 5, 0, 0),
				reason:      "returned on 3 March 2025 10:00 GMT (episode S1) with no return home interview within 1 hour",
				clearReason: "no return home interview recorded; the flag retired 1 day after it fell due"}},
		{name: "wording/one rise in need", source: "plain English", config: ones,
			evs: []ev{rise(lon(2025, 3, 3, 10, 0), 1, 2)}, at: lon(2025, 3, 4, 12, 0), code: "ESCALATING_NEED",
			want: &want{active: true, raised: lon(2025, 3, 3, 11, 0), reason: "level of need rose once on 3 March 2025 (at least once within 1 month)"}},
		{name: "wording/two rises in need", source: "plain English",
			evs: []ev{rise(lon(2025, 3, 3, 10, 0), 1, 2), rise(lon(2025, 5, 3, 10, 0), 2, 3)}, at: lon(2025, 12, 4, 12, 0), code: "ESCALATING_NEED",
			want: &want{raised: lon(2025, 5, 3, 11, 0), cleared: lon(2025, 11, 4, 0, 0),
				reason:      "level of need rose twice between 3 March 2025 and 3 May 2025 (at least twice within 6 months)",
				clearReason: "more than 6 months since the last rise, on 3 May 2025"}},
		{name: "wording/one working day to a conference", source: "plain English", config: ones,
			evs: []ev{strategy(lon(2025, 3, 3, 10, 0))}, at: lon(2025, 3, 5, 12, 0), code: "ICPC_OVERDUE",
			want: &want{active: true, raised: lon(2025, 3, 5, 0, 0),
				reason: "strategy discussion on 3 March 2025 started a Section 47 enquiry; no initial conference within 1 working day (due 4 March 2025)"}},
		{name: "wording/one month to a review", source: "plain English", config: ones,
			evs: []ev{planAt(lon(2025, 3, 3, 10, 0)), conference(lon(2025, 4, 8, 10, 0), "review")}, at: lon(2025, 4, 9, 12, 0), code: "REVIEW_CONFERENCE_OVERDUE",
			want: &want{raised: lon(2025, 4, 4, 0, 0), cleared: lon(2025, 4, 8, 11, 0),
				reason:      "child protection plan started on 3 March 2025; no review conference within 1 month (due 3 April 2025)",
				clearReason: "review conference held on 8 April 2025"}},
		{name: "wording/one concern from one agency", source: "plain English", config: ones,
			evs: []ev{concern("health", "health.concern", lon(2025, 3, 3, 10, 0), &events.HealthConcern{Concern: "x"})}, at: lon(2025, 3, 6, 12, 0), code: "MULTI_AGENCY_CONCERNS",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 5, 0, 0),
				reason:      "1 concern from 1 agency (health) on 3 March 2025, and no assessment open or plan in place",
				clearReason: "no agency has raised a concern within the last 1 day"}},
		{name: "wording/concerns from fewer agencies", source: "plain English",
			evs: []ev{
				concern("health", "health.concern", lon(2025, 3, 3, 10, 0), &events.HealthConcern{Concern: "x"}),
				concern("education", "education.concern", lon(2025, 3, 4, 10, 0), &events.EducationConcern{Concern: "x"}),
				concern("housing", "housing.concern", lon(2025, 3, 5, 10, 0), &events.HousingConcern{Kind: "eviction"}),
			}, at: lon(2025, 6, 5, 12, 0), code: "MULTI_AGENCY_CONCERNS",
			want: &want{raised: lon(2025, 3, 5, 11, 0), cleared: lon(2025, 6, 2, 0, 0),
				reason:      "3 concerns from 3 agencies (education, health, housing) between 3 March 2025 and 5 March 2025, and no assessment open or plan in place",
				clearReason: "fewer than 3 agencies have raised a concern within the last 90 days"}},
		{name: "wording/an assessment starts", source: "plain English",
			evs: []ev{
				concern("health", "health.concern", lon(2025, 3, 3, 10, 0), &events.HealthConcern{Concern: "x"}),
				concern("education", "education.concern", lon(2025, 3, 4, 10, 0), &events.EducationConcern{Concern: "x"}),
				concern("housing", "housing.concern", lon(2025, 3, 5, 10, 0), &events.HousingConcern{Kind: "eviction"}),
				{typ: "assessment.started", agency: "early_help", occurred: lon(2025, 3, 10, 10, 0), body: &events.AssessmentStarted{Kind: "early_help"}},
			}, at: lon(2025, 3, 11, 12, 0), code: "MULTI_AGENCY_CONCERNS",
			want: &want{raised: lon(2025, 3, 5, 11, 0), cleared: lon(2025, 3, 10, 11, 0),
				reason:      "3 concerns from 3 agencies (education, health, housing) between 3 March 2025 and 5 March 2025, and no assessment open or plan in place",
				clearReason: "an assessment started on 10 March 2025"}},
		{name: "wording/one domestic abuse notification within one day", source: "plain English", config: ones,
			evs: []ev{da(lon(2025, 3, 3, 10, 0), "medium")}, at: lon(2025, 3, 6, 12, 0), code: "REPEAT_DOMESTIC_ABUSE",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 5, 0, 0),
				reason:      "1 domestic abuse notification on 3 March 2025 (at least 1 within 1 day)",
				clearReason: "more than 1 day since the notification on 3 March 2025"}},
		{name: "wording/an injury at 3 days old", source: "plain English", config: ones,
			evs: []ev{injury(4)}, at: lon(2025, 3, 7, 12, 0), code: "INJURY_UNDER_ONE",
			want: &want{raised: lon(2025, 3, 4, 11, 0), cleared: lon(2025, 3, 6, 0, 0),
				reason:      "injury at 3 days old: emergency department attendance on 4 March 2025",
				clearReason: "more than 1 day since the hub learned of the injury, on 4 March 2025"}},
		{name: "wording/an injury at 1 day old", source: "plain English",
			evs: []ev{injury(2)}, at: lon(2025, 3, 7, 12, 0), code: "INJURY_UNDER_ONE",
			want: &want{active: true, raised: lon(2025, 3, 2, 11, 0), reason: "injury at 1 day old: emergency department attendance on 2 March 2025"}},
		{name: "wording/an injury at 1 week old", source: "plain English",
			evs: []ev{injury(8)}, at: lon(2025, 3, 9, 12, 0), code: "INJURY_UNDER_ONE",
			want: &want{active: true, raised: lon(2025, 3, 8, 11, 0), reason: "injury at 1 week old: emergency department attendance on 8 March 2025"}},
		{name: "wording/one working day to a core group", source: "plain English", config: ones,
			evs: []ev{planAt(lon(2025, 3, 3, 10, 0)), ev{typ: "plan.ended", agency: "social_care", occurred: lon(2025, 3, 6, 10, 0), body: &events.PlanEnded{Kind: "child_protection"}}},
			at:  lon(2025, 3, 7, 12, 0), code: "CORE_GROUP_OVERDUE",
			want: &want{raised: lon(2025, 3, 5, 0, 0), cleared: lon(2025, 3, 6, 11, 0),
				reason:      "child protection plan started on 3 March 2025; no core group within 1 working day (due 4 March 2025)",
				clearReason: "the plan ended on 6 March 2025"}},
		{name: "wording/looked after, and then not", source: "plain English",
			evs: []ev{{typ: "looked_after.started", agency: "social_care", occurred: lon(2025, 3, 3, 10, 0), body: &events.LookedAfterStarted{LegalStatus: "V2"}},
				{typ: "looked_after.ended", agency: "social_care", occurred: lon(2025, 3, 20, 10, 0), body: &events.LookedAfterEnded{Reason: "E13"}}},
			at: lon(2025, 3, 21, 12, 0), code: "LOOKED_AFTER",
			want: &want{raised: lon(2025, 3, 3, 11, 0), cleared: lon(2025, 3, 20, 11, 0),
				reason:      "looked after since 3 March 2025 (legal status V2: Single period of accommodation under section 20 (Children Act 1989))",
				clearReason: "ceased to be looked after on 20 March 2025"}},
		{name: "wording/one working day to an assessment", source: "plain English", config: ones,
			evs: []ev{assessment(lon(2025, 3, 3, 10, 0)), got(assessed(lon(2025, 3, 5, 10, 0)), lon(2025, 3, 5, 10, 0))},
			at:  lon(2025, 3, 6, 12, 0), code: "ASSESSMENT_OVERDUE",
			want: &want{raised: lon(2025, 3, 5, 0, 0), cleared: lon(2025, 3, 5, 10, 0),
				reason:      "child and family assessment started on 3 March 2025, not completed within 1 working day (due 4 March 2025)",
				clearReason: "assessment completed on 5 March 2025"}},
		{name: "wording/a referral decided late", source: "plain English",
			evs: []ev{referral(lon(2025, 3, 3, 10, 0)), got(decision(lon(2025, 3, 5, 9, 0), "assessment"), lon(2025, 3, 5, 9, 0))},
			at:  lon(2025, 3, 6, 12, 0), code: "REFERRAL_UNDECIDED",
			want: &want{raised: lon(2025, 3, 5, 0, 0), cleared: lon(2025, 3, 5, 9, 0),
				reason:      "referral received on 3 March 2025 10:00 GMT with no decision within 1 working day (due 4 March 2025)",
				clearReason: "referral decided on 5 March 2025"}},
	}
}

// Every reason and clear reason the suite produces agrees in number: no "1
// entries", no "3 day".
func TestReasonsAgreeInNumber(t *testing.T) {
	nouns := `(entr(y|ies)|episodes?|absences?|days?|hours?|agenc(y|ies)|months?|weeks?|notifications?|indicators?|concerns?|working days?|times)`
	one := regexp.MustCompile(`\b1 ` + nouns + `\b`)
	many := regexp.MustCompile(`\b([02-9]|\d\d+) ` + nouns + `\b`)
	singular := regexp.MustCompile(`^(entry|episode|absence|day|hour|agency|month|week|notification|indicator|concern|working day)$`)
	cases := append(practiceCases(), concernCases()...)
	cases = append(cases, wordingCases()...)
	seen := 0
	for _, tc := range cases {
		fs, _ := evaluatePractice(t, tc)
		for _, f := range fs {
			for _, s := range []string{f.Reason, f.ClearReason} {
				seen++
				for _, m := range one.FindAllStringSubmatch(s, -1) {
					if !singular.MatchString(m[1]) {
						t.Errorf("%s: %q says %q", tc.name, s, m[0])
					}
				}
				for _, m := range many.FindAllStringSubmatch(s, -1) {
					if singular.MatchString(m[2]) {
						t.Errorf("%s: %q says %q", tc.name, s, m[0])
					}
				}
				if strings.Contains(s, "rose 1 time") || strings.Contains(s, "rose 2 times") {
					t.Errorf("%s: %q: once or twice", tc.name, s)
				}
			}
		}
	}
	if seen < 100 {
		t.Fatalf("only %d reasons checked: the suite should produce many more", seen)
	}
}
