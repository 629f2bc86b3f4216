package flags

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// ev is one event of a scenario: what happened when, and when the hub got it
// (an hour later unless received is set).
type ev struct {
	typ      events.Type
	agency   string
	occurred time.Time
	received time.Time
	body     events.Payload
	subject  *events.Subject
	// label names the event, for a retraction's target and for evidence
	// checks; retracts is, on a record.retracted, the label of its target.
	label       string
	retracts    string
	sensitivity string
}

var child = events.Subject{Identifiers: events.Identifiers{NHSNumber: "9990000018"}, Name: "Robin Test", DateOfBirth: "2012-05-01"}

// build applies a scenario to a real Model, returning it and the child's id.
func build(t testing.TB, evs []ev) (*projections.Model, string) {
	t.Helper()
	m := buildModel(t, evs)
	c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, nil)
	if !ok {
		t.Fatal("no child")
	}
	return m, c.ID
}

// buildModel applies a scenario, about one child or several, to a real
// Model.
func buildModel(t testing.TB, evs []ev) *projections.Model {
	t.Helper()
	m, _ := buildLabelled(t, evs)
	return m
}

// buildLabelled applies a scenario to a real Model and returns the event
// ids by label.
func buildLabelled(t testing.TB, evs []ev) (*projections.Model, map[string]string) {
	t.Helper()
	m := projections.NewModel()
	labels := map[string]string{}
	for i, x := range evs {
		spec, ok := events.Lookup(x.typ)
		if !ok {
			t.Fatalf("unknown type %s", x.typ)
		}
		e := spec.ExampleEvent()
		e.Agency, e.SourceRef = x.agency, fmt.Sprintf("s-%d", i)
		e.Subjects = []events.Subject{child}
		if x.subject != nil {
			e.Subjects = []events.Subject{*x.subject}
		}
		e.OccurredAt, e.RecordedAt = x.occurred, x.occurred
		if r, ok := x.body.(*events.RecordRetracted); ok && x.retracts != "" {
			target, ok := labels[x.retracts]
			if !ok {
				t.Fatalf("scenario event %d retracts %q, which is not an earlier label", i, x.retracts)
			}
			r.EventID = target
		}
		if x.body != nil {
			raw, _ := json.Marshal(x.body)
			e.Payload, e.Body = raw, x.body
		}
		if x.sensitivity != "" {
			e.Sensitivity = x.sensitivity
		}
		e.ID = events.DeriveID(e)
		if x.label != "" {
			labels[x.label] = e.ID
		}
		if err := events.Validate(e, x.occurred.AddDate(1, 0, 0)); err != nil {
			t.Fatalf("scenario event %d (%s) invalid: %v", i, x.typ, err)
		}
		rec := x.received
		if rec.IsZero() {
			rec = x.occurred.Add(time.Hour)
		}
		if err := m.Apply(projections.Delivered{Event: e, Seq: uint64(i + 1), Received: rec}); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	return m, labels
}

// flagsAt evaluates the child's flags at t, from the history as known at t.
func flagsAt(t testing.TB, m *projections.Model, id string, at time.Time) []Flag {
	t.Helper()
	entries, _ := m.Chronology(id, &at, false)
	c, _ := m.ChildByID(id, &at)
	h := History{Entries: entries}
	if len(c.DatesOfBirth) > 0 {
		if d, ok := events.Date(c.DatesOfBirth[0]).Time(); ok {
			h.DateOfBirth = &d
		}
	}
	fs, _ := Evaluate(h, at, DefaultConfig())
	return fs
}

func find(fs []Flag, code string) (Flag, bool) {
	for _, f := range fs {
		if f.Code == code {
			return f, true
		}
	}
	return Flag{}, false
}

// Monday 4 March 2024, 10:00.
var d0 = time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)

func days(n int) time.Time  { return d0.AddDate(0, 0, n) }
func hours(n int) time.Time { return d0.Add(time.Duration(n) * time.Hour) }

func missing(at time.Time, ref string) ev {
	return ev{typ: "missing.reported", agency: "police", occurred: at, body: &events.MissingReported{EpisodeRef: ref, Category: "missing", RiskLevel: "medium"}}
}

func returned(at time.Time, ref string) ev {
	return ev{typ: "missing.returned", agency: "police", occurred: at, body: &events.MissingReturned{EpisodeRef: ref}}
}

func rhi(at time.Time, ref string) ev {
	return ev{typ: "return_interview.completed", agency: "early_help", occurred: at, body: &events.ReturnInterview{EpisodeRef: ref, Accepted: new(true)}}
}

func concern(agency string, typ events.Type, at time.Time, body events.Payload) ev {
	return ev{typ: typ, agency: agency, occurred: at, body: body}
}

func da(at time.Time, risk string) ev {
	return ev{typ: "police.notification", agency: "police", occurred: at, body: &events.PoliceReport{Category: "domestic_abuse", ChildRole: "household_member", RiskLevel: risk}}
}

func cpPlan(at time.Time) ev {
	return ev{typ: "plan.started", agency: "social_care", occurred: at, body: &events.PlanStarted{Kind: "child_protection", Category: "NEG"}}
}

func TestRules(t *testing.T) {
	var cal Calendar
	// Monday 25 March 2024: Good Friday and Easter Monday fall in the window.
	easterStart := time.Date(2024, 3, 25, 9, 0, 0, 0, time.UTC)
	due45 := cal.AddWorkingDays(easterStart, 45)
	sd := time.Date(2024, 4, 22, 14, 0, 0, 0, time.UTC) // before the early May bank holiday
	due15 := cal.AddWorkingDays(sd, 15)
	bstMonday := time.Date(2024, 6, 2, 23, 30, 0, 0, time.UTC)    // Monday 3 June 2024, 00:30 BST
	bstDue15 := time.Date(2024, 6, 23, 23, 30, 0, 0, time.UTC)    // Monday 24 June, 00:30 BST
	bstOverdue := time.Date(2024, 6, 24, 23, 0, 0, 0, time.UTC)   // Tuesday 25 June, 00:00 BST
	mondayAfter45 := time.Date(2024, 6, 2, 23, 0, 0, 0, time.UTC) // Monday 3 June, 00:00 BST
	dayAfter15 := cal.NextWorkingStart(cal.WorkingDate(sd, 15))
	fri := time.Date(2024, 3, 8, 16, 0, 0, 0, time.UTC)
	baby := events.Subject{Identifiers: events.Identifiers{NHSNumber: "9990000018"}, DateOfBirth: "2024-01-01"}

	tests := []struct {
		name   string
		evs    []ev
		at     time.Time
		code   string
		active bool
		check  func(t *testing.T, f Flag)
	}{
		// Repeat missing: 3 in 90 days, inclusive.
		{"missing: 3 exactly 90 days apart", []ev{missing(days(0), "a"), missing(days(45), "b"), missing(days(90), "c")}, days(90).Add(2 * time.Hour), "REPEAT_MISSING", true,
			func(t *testing.T, f Flag) {
				if len(f.Evidence) != 3 || !strings.Contains(f.Reason, "3 missing episodes between 4 March 2024 and 2 June 2024") {
					t.Errorf("reason %q evidence %v", f.Reason, f.Evidence)
				}
			}},
		// Windows are calendar dates: later on the 90th day is still within 90 days; the 91st day is not.
		{"missing: the 90th day, a minute later in the day", []ev{missing(days(0), "a"), missing(days(45), "b"), missing(days(90).Add(time.Minute), "c")}, days(91), "REPEAT_MISSING", true, nil},
		{"missing: the 91st day", []ev{missing(days(0), "a"), missing(days(45), "b"), missing(days(91), "c")}, days(92), "REPEAT_MISSING", false, nil},
		{"missing: 2 episodes", []ev{missing(days(0), "a"), missing(days(10), "b")}, days(11), "REPEAT_MISSING", false, nil},
		{"missing: cleared at the start of the 91st day after the last", []ev{missing(days(0), "a"), missing(days(5), "b"), missing(days(10), "c")}, days(200), "REPEAT_MISSING", false,
			func(t *testing.T, f Flag) {
				// 14 March 2024 plus 90 days is 12 June; cleared at 00:00 BST on 13 June.
				if want := time.Date(2024, 6, 12, 23, 0, 0, 0, time.UTC); f.ClearedAt == nil || !f.ClearedAt.Equal(want) {
					t.Errorf("cleared at %v, want %v", f.ClearedAt, want)
				}
			}},
		{"missing: raised only when the late third report arrived", []ev{missing(days(0), "a"), missing(days(5), "b"), {typ: "missing.reported", agency: "police", occurred: days(10), received: days(30), body: &events.MissingReported{EpisodeRef: "c", Category: "missing"}}},
			days(31), "REPEAT_MISSING", true, func(t *testing.T, f Flag) {
				if !f.RaisedAt.Equal(days(30)) {
					t.Errorf("raised at %v, want the receipt %v", f.RaisedAt, days(30))
				}
			}},

		// Return home interview within 72 hours.
		{"rhi: none at 72 hours exactly", []ev{returned(hours(0), "r")}, hours(72).Add(time.Hour), "RHI_OVERDUE", true, func(t *testing.T, f Flag) {
			if !f.RaisedAt.Equal(hours(72)) {
				t.Errorf("raised at %v, want 72 hours after return", f.RaisedAt)
			}
			if !f.Deadline.InHours || f.Deadline.OverdueBy(hours(72).Add(time.Hour)) != "1 hour" {
				t.Errorf("deadline %+v", f.Deadline)
			}
		}},
		{"rhi: not yet due at 71 hours", []ev{returned(hours(0), "r")}, hours(71), "RHI_OVERDUE", false, nil},
		{"rhi: held at 71h59m", []ev{returned(hours(0), "r"), {typ: "return_interview.completed", agency: "early_help", occurred: hours(72).Add(-time.Minute), received: hours(72).Add(-time.Minute), body: &events.ReturnInterview{EpisodeRef: "r", Accepted: new(true)}}},
			hours(100), "RHI_OVERDUE", false, func(t *testing.T, f Flag) { t.Errorf("flag raised although the interview was in time: %+v", f) }},
		{"rhi: late interview clears it", []ev{returned(hours(0), "r"), rhi(hours(80), "r")}, hours(100), "RHI_OVERDUE", false, func(t *testing.T, f Flag) {
			if f.ClearedAt == nil || !strings.Contains(f.ClearReason, "80 hours after the return") {
				t.Errorf("clear: %v %q", f.ClearedAt, f.ClearReason)
			}
		}},
		{"rhi: another episode's interview does not count", []ev{returned(hours(0), "r"), rhi(hours(10), "other")}, hours(100), "RHI_OVERDUE", true, nil},

		// Concerns from 3 agencies within 90 days, no assessment open.
		{"multi-agency: three agencies", []ev{
			concern("health", "health.concern", days(0), &events.HealthConcern{Concern: "x"}),
			concern("education", "education.concern", days(30), &events.EducationConcern{Concern: "x"}),
			concern("police", "police.notification", days(60), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
		}, days(61), "MULTI_AGENCY_CONCERNS", true, func(t *testing.T, f Flag) {
			if !strings.Contains(f.Reason, "3 agencies (education, health, police)") {
				t.Errorf("reason %q", f.Reason)
			}
		}},
		{"multi-agency: assessment open", []ev{
			concern("health", "health.concern", days(0), &events.HealthConcern{Concern: "x"}),
			concern("education", "education.concern", days(30), &events.EducationConcern{Concern: "x"}),
			{typ: "assessment.started", agency: "early_help", occurred: days(40), body: &events.AssessmentStarted{Kind: "early_help"}},
			concern("police", "police.notification", days(60), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
		}, days(61), "MULTI_AGENCY_CONCERNS", false, nil},
		{"multi-agency: spread over more than 90 days", []ev{
			concern("health", "health.concern", days(0), &events.HealthConcern{Concern: "x"}),
			concern("education", "education.concern", days(50), &events.EducationConcern{Concern: "x"}),
			concern("police", "police.notification", days(91), &events.PoliceReport{Category: "concern_for_welfare", ChildRole: "subject"}),
		}, days(92), "MULTI_AGENCY_CONCERNS", false, nil},

		// Domestic abuse: 2 in 12 months.
		{"domestic abuse: 365 days apart", []ev{da(days(0), "medium"), da(days(365), "medium")}, days(366), "REPEAT_DOMESTIC_ABUSE", true, nil},
		{"domestic abuse: 366 days apart", []ev{da(days(0), "medium"), da(days(366), "medium")}, days(367), "REPEAT_DOMESTIC_ABUSE", false, nil},
		{"domestic abuse: high risk raises severity", []ev{da(days(0), "high"), da(days(20), "medium")}, days(21), "REPEAT_DOMESTIC_ABUSE", true, func(t *testing.T, f Flag) {
			if f.Severity != High {
				t.Errorf("severity %s", f.Severity)
			}
		}},

		// Missing with exploitation indicators.
		{"missing + high screening", []ev{missing(days(0), "a"), concern("social_care", "exploitation.screening", days(40), &events.ExploitationScreening{Kind: "criminal", RiskLevel: "high"})}, days(41), "MISSING_AND_EXPLOITATION", true, nil},
		{"missing + low screening", []ev{missing(days(0), "a"), concern("social_care", "exploitation.screening", days(40), &events.ExploitationScreening{Kind: "criminal", RiskLevel: "low"})}, days(41), "MISSING_AND_EXPLOITATION", false, nil},
		{"missing + police exploitation concern 91 days later", []ev{missing(days(0), "a"), concern("police", "police.notification", days(91), &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim"})}, days(92), "MISSING_AND_EXPLOITATION", false, nil},

		// Injury to a baby under one.
		{"injury at 5 months", []ev{{typ: "health.ed_attendance", agency: "health", occurred: time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC), body: &events.EDAttendance{Reason: "bruise", Injury: true}, subject: &baby}},
			time.Date(2024, 6, 4, 0, 0, 0, 0, time.UTC), "INJURY_UNDER_ONE", true, func(t *testing.T, f Flag) {
				if !strings.Contains(f.Reason, "5 months old") {
					t.Errorf("reason %q", f.Reason)
				}
			}},
		{"injury at 13 months", []ev{{typ: "health.injury", agency: "health", occurred: time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC), body: &events.Injury{Description: "bruise"}, subject: &baby}},
			time.Date(2025, 2, 4, 0, 0, 0, 0, time.UTC), "INJURY_UNDER_ONE", false, nil},
		{"injury reported a year late still raises the flag", []ev{{typ: "health.injury", agency: "health", occurred: time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC), received: time.Date(2025, 6, 3, 10, 0, 0, 0, time.UTC), body: &events.Injury{Description: "bruise"}, subject: &baby}},
			time.Date(2025, 6, 4, 0, 0, 0, 0, time.UTC), "INJURY_UNDER_ONE", true, nil},
		{"attendance without injury", []ev{{typ: "health.ed_attendance", agency: "health", occurred: time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC), body: &events.EDAttendance{Reason: "fever"}, subject: &baby}},
			time.Date(2024, 6, 4, 0, 0, 0, 0, time.UTC), "INJURY_UNDER_ONE", false, nil},

		// Assessment past 45 working days, across Easter.
		{"assessment: overdue from the working day after the 45th, across Easter", []ev{{typ: "assessment.started", agency: "social_care", occurred: easterStart, body: &events.AssessmentStarted{Kind: "child_and_family"}}},
			mondayAfter45, "ASSESSMENT_OVERDUE", true, func(t *testing.T, f Flag) {
				// The 45th working day, skipping Good Friday, Easter Monday and
				// the two May bank holidays, is Friday 31 May: in time all that
				// day, overdue from 00:00 BST on Monday 3 June.
				if !f.RaisedAt.Equal(mondayAfter45) || !strings.Contains(f.Reason, "(due 31 May 2024)") {
					t.Errorf("raised %v (%q), want %v", f.RaisedAt, f.Reason, mondayAfter45)
				}
				// Missed from Monday 3 June: 1 working day overdue that day.
				if !f.Deadline.Missed.Equal(mondayAfter45) || f.Deadline.InHours || f.Deadline.OverdueBy(mondayAfter45) != "1 working day" {
					t.Errorf("deadline %+v", f.Deadline)
				}
			}},
		{"assessment: at the 45th working day's hour, still in time", []ev{{typ: "assessment.started", agency: "social_care", occurred: easterStart, body: &events.AssessmentStarted{Kind: "child_and_family"}}},
			due45.Add(time.Minute), "ASSESSMENT_OVERDUE", false, nil},
		{"assessment: completed in time", []ev{
			{typ: "assessment.started", agency: "social_care", occurred: easterStart, body: &events.AssessmentStarted{Kind: "child_and_family", AssessmentRef: "A1"}},
			{typ: "assessment.completed", agency: "social_care", occurred: easterStart.AddDate(0, 1, 0), body: &events.AssessmentCompleted{Kind: "child_and_family", AssessmentRef: "A1", Outcome: "child_in_need_plan"}},
		}, due45.AddDate(0, 0, 5), "ASSESSMENT_OVERDUE", false, nil},

		// Initial conference within 15 working days of the strategy discussion.
		{"icpc: none by the end of the 15th working day", []ev{{typ: "strategy_discussion.held", agency: "social_care", occurred: sd, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}}},
			dayAfter15, "ICPC_OVERDUE", true, nil},
		{"icpc: the 15th working day after the discussion's hour is still in time", []ev{{typ: "strategy_discussion.held", agency: "social_care", occurred: sd, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}}},
			due15.Add(time.Minute), "ICPC_OVERDUE", false, nil},
		{"icpc: held on the 14th working day", []ev{
			{typ: "strategy_discussion.held", agency: "social_care", occurred: sd, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}},
			{typ: "conference.held", agency: "social_care", occurred: cal.AddWorkingDays(sd, 14), body: &events.Conference{Kind: "initial", Outcome: "plan_started", Category: "NEG"}},
		}, due15.AddDate(0, 0, 3), "ICPC_OVERDUE", false, nil},
		{"icpc: counted in English working days from 00:30 BST on a Monday", []ev{{typ: "strategy_discussion.held", agency: "social_care", occurred: bstMonday, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}}},
			bstOverdue, "ICPC_OVERDUE", true, func(t *testing.T, f Flag) {
				// Still Sunday 2 June in UTC; the 15th working day from Monday 3
				// June is Monday 24 June, overdue from 00:00 BST on the 25th.
				if !f.RaisedAt.Equal(bstOverdue) || !strings.Contains(f.Reason, "strategy discussion on 3 June 2024") || !strings.Contains(f.Reason, "(due 24 June 2024)") {
					t.Errorf("raised %v, reason %q", f.RaisedAt, f.Reason)
				}
			}},
		{"icpc: a minute before the deadline from 00:30 BST", []ev{{typ: "strategy_discussion.held", agency: "social_care", occurred: bstMonday, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}}},
			bstDue15.Add(-time.Minute), "ICPC_OVERDUE", false, nil},
		{"icpc: enquiry found no need", []ev{
			{typ: "strategy_discussion.held", agency: "social_care", occurred: sd, body: &events.StrategyDiscussion{Decision: "section47_enquiry"}},
			{typ: "section47.completed", agency: "social_care", occurred: sd.AddDate(0, 0, 5), body: &events.Section47Completed{Outcome: "not_substantiated"}},
		}, due15.AddDate(0, 0, 3), "ICPC_OVERDUE", false, nil},

		// Escalating need: two rises in 6 months.
		{"need rose twice in 4 months", []ev{
			{typ: "need_level.changed", agency: "early_help", occurred: days(0), body: &events.NeedLevelChanged{From: 1, To: 2}},
			{typ: "need_level.changed", agency: "social_care", occurred: days(120), body: &events.NeedLevelChanged{From: 2, To: 3}},
		}, days(121), "ESCALATING_NEED", true, nil},
		{"need rose twice 7 months apart", []ev{
			{typ: "need_level.changed", agency: "early_help", occurred: days(0), body: &events.NeedLevelChanged{From: 1, To: 2}},
			{typ: "need_level.changed", agency: "social_care", occurred: days(213), body: &events.NeedLevelChanged{From: 2, To: 3}},
		}, days(214), "ESCALATING_NEED", false, nil},

		// Status flags.
		{"cp plan active", []ev{cpPlan(days(0))}, days(10), "CP_PLAN_ACTIVE", true, func(t *testing.T, f Flag) {
			if !strings.Contains(f.Reason, "NEG: Neglect") {
				t.Errorf("reason %q", f.Reason)
			}
		}},
		{"cp plan ended", []ev{cpPlan(days(0)), {typ: "plan.ended", agency: "social_care", occurred: days(200), body: &events.PlanEnded{Kind: "child_protection"}}}, days(210), "CP_PLAN_ACTIVE", false, func(t *testing.T, f Flag) {
			if f.ClearedAt == nil {
				t.Error("not cleared")
			}
		}},
		{"looked after", []ev{{typ: "looked_after.started", agency: "social_care", occurred: days(0), body: &events.LookedAfterStarted{LegalStatus: "C2"}}}, days(5), "LOOKED_AFTER", true, func(t *testing.T, f Flag) {
			if !strings.Contains(f.Reason, "C2: Full care order") {
				t.Errorf("reason %q", f.Reason)
			}
		}},

		// Next statutory steps once a plan starts.
		{"core group: none in 10 working days", []ev{cpPlan(days(0))}, cal.NextWorkingStart(cal.WorkingDate(days(0), 10)), "CORE_GROUP_OVERDUE", true, nil},
		{"core group: the 10th working day is still in time", []ev{cpPlan(days(0))}, cal.AddWorkingDays(days(0), 10), "CORE_GROUP_OVERDUE", false, nil},
		{"core group: held on day 9", []ev{cpPlan(days(0)), {typ: "core_group.held", agency: "social_care", occurred: cal.AddWorkingDays(days(0), 9), body: &events.CoreGroup{}}}, days(30), "CORE_GROUP_OVERDUE", false, nil},
		{"review conference: none in 3 months", []ev{cpPlan(days(0))}, days(0).AddDate(0, 3, 1), "REVIEW_CONFERENCE_OVERDUE", true, nil},
		{"review conference: held", []ev{cpPlan(days(0)), {typ: "conference.held", agency: "social_care", occurred: days(80), body: &events.Conference{Kind: "review", Outcome: "plan_continued", Category: "NEG"}}}, days(0).AddDate(0, 4, 0), "REVIEW_CONFERENCE_OVERDUE", false, nil},

		// A referral needs a decision within one working day.
		{"referral: Friday afternoon, no decision by the end of Monday", []ev{{typ: "referral.received", agency: "social_care", occurred: fri, body: &events.ReferralReceived{Source: "2A"}}},
			time.Date(2024, 3, 12, 0, 0, 0, 0, time.UTC), "REFERRAL_UNDECIDED", true, nil},
		{"referral: Friday afternoon, Monday afternoon is still in time", []ev{{typ: "referral.received", agency: "social_care", occurred: fri, body: &events.ReferralReceived{Source: "2A"}}},
			fri.AddDate(0, 0, 3).Add(time.Minute), "REFERRAL_UNDECIDED", false, nil},
		{"referral: decided on Monday", []ev{
			{typ: "referral.received", agency: "social_care", occurred: fri, body: &events.ReferralReceived{Source: "2A"}},
			{typ: "referral.decided", agency: "social_care", occurred: fri.AddDate(0, 0, 3).Add(-time.Hour), body: &events.ReferralDecided{Decision: "assessment"}},
		}, fri.AddDate(0, 0, 4), "REFERRAL_UNDECIDED", false, nil},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.code] = true
		t.Run(tt.name, func(t *testing.T) {
			m, id := build(t, tt.evs)
			f, found := find(flagsAt(t, m, id, tt.at), tt.code)
			if tt.active && (!found || !f.Active()) {
				t.Fatalf("%s not active at %v: %+v", tt.code, tt.at, f)
			}
			if !tt.active && found && f.Active() {
				t.Fatalf("%s active at %v: %+v", tt.code, tt.at, f)
			}
			if found && tt.check != nil {
				tt.check(t, f)
			}
			if found && (f.Reason == "" || len(f.Evidence) == 0) {
				t.Fatalf("flag without reason or evidence: %+v", f)
			}
		})
	}
	for _, r := range DefaultConfig().Rules() {
		if !covered[r.Code] && r.Code != "UNBORN_CP_PLAN" {
			t.Errorf("no table test for %s", r.Code)
		}
	}
}

// An unborn child protection plan is its own status flag until the birth,
// then continues as a child protection plan on the baby, once a
// practitioner links the unborn record to the baby's NHS number.
func TestUnbornPlanBecomesChildProtectionPlan(t *testing.T) {
	mother := events.Identifiers{NHSNumber: "9990000026"}
	unborn := events.Subject{Kind: "unborn", ExpectedDeliveryDate: "2024-06-10", Mother: &mother}
	born := events.Subject{Identifiers: events.Identifiers{NHSNumber: "9990000018"}, DateOfBirth: "2024-06-08"}
	m, id := build(t, []ev{
		{typ: "plan.started", agency: "social_care", occurred: days(0), body: &events.PlanStarted{Kind: "child_protection", Category: "NEG"}, subject: &unborn},
		{typ: "health.concern", agency: "health", occurred: time.Date(2024, 6, 9, 9, 0, 0, 0, time.UTC), body: &events.HealthConcern{Concern: "x"}, subject: &born},
		{typ: "subjects.linked", agency: "hub", occurred: time.Date(2024, 6, 10, 9, 0, 0, 0, time.UTC), subject: &born,
			body: &events.SubjectsLinked{A: events.Identifier{Scheme: events.SchemeUnbornOf, Value: "nhs_number:9990000026"}, B: events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, Reason: "born"}},
	})
	before := days(30)
	unbornID := ""
	if c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeUnbornOf, Value: "nhs_number:9990000026"}, &before); ok {
		unbornID = c.ID
	}
	fs := flagsAt(t, m, unbornID, before)
	if f, ok := find(fs, "UNBORN_CP_PLAN"); !ok || !f.Active() {
		t.Fatalf("before the birth: %+v", fs)
	}
	if f, ok := find(fs, "CP_PLAN_ACTIVE"); ok && f.Active() {
		t.Fatalf("CP plan flag before the birth: %+v", f)
	}
	after := time.Date(2024, 6, 12, 0, 0, 0, 0, time.UTC)
	fs = flagsAt(t, m, id, after)
	if f, ok := find(fs, "CP_PLAN_ACTIVE"); !ok || !f.Active() {
		t.Fatalf("after the birth: %+v", fs)
	}
	if f, ok := find(fs, "UNBORN_CP_PLAN"); !ok || f.Active() {
		t.Fatalf("unborn flag should be cleared after the birth: %+v", fs)
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(strings.NewReader(`{"rules": {"REPEAT_MISSING": {"count": 4, "window_days": 60, "severity": "medium"}, "RHI_OVERDUE": {"enabled": false}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rules := cfg.Rules()
	rm := rules[slices.IndexFunc(rules, func(r Rule) bool { return r.Code == "REPEAT_MISSING" })]
	if rm.Thresholds.Count != 4 || rm.Thresholds.WindowDays != 60 || rm.Severity != Medium {
		t.Fatalf("override not applied: %+v", rm)
	}
	// The changed threshold changes the verdict.
	m, id := build(t, []ev{missing(days(0), "a"), missing(days(10), "b"), missing(days(20), "c")})
	entries, _ := m.Chronology(id, nil, false)
	fs, _ := Evaluate(History{Entries: entries}, days(21), cfg)
	if _, ok := find(fs, "REPEAT_MISSING"); ok {
		t.Fatal("3 episodes raised a flag with count 4")
	}
	if _, ok := find(fs, "RHI_OVERDUE"); ok {
		t.Fatal("a disabled rule ran")
	}

	bad := []struct{ config, want string }{
		{`{"rules": {"REPEAT_MISSNG": {"count": 4}}}`, "REPEAT_MISSNG: no such rule"},
		{`{"rules": {"REPEAT_MISSING": {"count": -1}}}`, "REPEAT_MISSING.count: must be a positive whole number"},
		{`{"rules": {"REPEAT_MISSING": {"count": 0}}}`, "REPEAT_MISSING.count: must be a positive whole number"},
		{`{"rules": {"REPEAT_MISSING": {"hours": 72}}}`, "REPEAT_MISSING.hours: not used by this rule (it uses count, window_days, count_absences)"},
		{`{"rules": {"REPEAT_MISSING": {"severity": "urgent"}}}`, "REPEAT_MISSING.severity"},
		{`{"rules": {"REPEAT_MISSING": {"windows": 3}}}`, `REPEAT_MISSING: json: unknown field "windows"`},
		{`{"rules": {"RHI_OVERDUE": {"hours": "72"}}}`, "RHI_OVERDUE"},
		{`{"rule": {}}`, "unknown field"},
	}
	for _, b := range bad {
		if _, err := LoadConfig(strings.NewReader(b.config)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: got %v, want %q", b.config, err, b.want)
		}
	}
}

// Evaluate reports when the next deadline falls, so a timer can re-check
// without any new event.
func TestNextChangeIsTheDeadline(t *testing.T) {
	m, id := build(t, []ev{returned(hours(0), "r")})
	entries, _ := m.Chronology(id, nil, false)
	_, next := Evaluate(History{Entries: entries}, hours(10), DefaultConfig())
	if !next.Equal(hours(72)) {
		t.Fatalf("next change %v, want the 72-hour deadline %v", next, hours(72))
	}
}
