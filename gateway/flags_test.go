package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

func withBody(e *events.Event, body events.Payload) *events.Event {
	raw, _ := json.Marshal(body)
	e.Payload, e.Body = raw, body
	e.ID = events.DeriveID(e)
	return e
}

// A synthetic child whose history escalates over months: school concerns,
// then missing episodes with an exploitation concern, then a strategy
// discussion, a late conference and a plan. The flags at several dates are
// checked through GraphQL, and a full replay of the stream gives the same.
func TestEscalatingChildFlagsOverTime(t *testing.T) {
	h := startHub(t, t.TempDir())
	ids := events.Identifiers{NHSNumber: "9990000018", LAPersonID: "LA-5", PolicePersonID: "PP-5"}
	d := func(m, day, hour int) time.Time { return time.Date(2024, time.Month(m), day, hour, 0, 0, 0, time.UTC) }
	var evs []*events.Event
	add := func(typ events.Type, agency string, at time.Time, body events.Payload) *events.Event {
		e := withBody(ev(typ, agency, fmt.Sprintf("%s-%d", agency, len(evs)), at, ids), body)
		evs = append(evs, e)
		return e
	}
	add("education.concern", "education", d(1, 10, 10), &events.EducationConcern{Concern: "Tired and hungry"})
	add("health.concern", "health", d(1, 24, 10), &events.HealthConcern{Concern: "Missed appointments"})
	add("contact.received", "social_care", d(2, 5, 10), &events.ContactReceived{Concern: "Neighbour worried"})
	add("assessment.started", "early_help", d(2, 20, 10), &events.AssessmentStarted{Kind: "early_help"})
	add("missing.reported", "police", d(3, 1, 22), &events.MissingReported{EpisodeRef: "M1", Category: "missing"})
	add("missing.returned", "police", d(3, 2, 9), &events.MissingReturned{EpisodeRef: "M1"})
	add("return_interview.completed", "early_help", d(3, 3, 15), &events.ReturnInterview{EpisodeRef: "M1", Accepted: new(true)})
	add("missing.reported", "police", d(3, 20, 22), &events.MissingReported{EpisodeRef: "M2", Category: "missing"})
	add("missing.returned", "police", d(3, 21, 9), &events.MissingReturned{EpisodeRef: "M2"}) // no interview for M2
	add("police.notification", "police", d(3, 25, 10), &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim", RiskLevel: "high"})
	add("missing.reported", "police", d(4, 10, 22), &events.MissingReported{EpisodeRef: "M3", Category: "missing"})
	add("missing.returned", "police", d(4, 11, 9), &events.MissingReturned{EpisodeRef: "M3"})
	add("return_interview.completed", "early_help", d(4, 12, 15), &events.ReturnInterview{EpisodeRef: "M3", Accepted: new(true)})
	add("strategy_discussion.held", "social_care", d(4, 15, 14), &events.StrategyDiscussion{Decision: "section47_enquiry"})
	add("conference.held", "social_care", d(5, 20, 10), &events.Conference{Kind: "initial", Outcome: "plan_started", Category: "EMO"})
	add("plan.started", "social_care", d(5, 20, 11), &events.PlanStarted{Kind: "child_protection", Category: "EMO"})
	add("core_group.held", "social_care", d(5, 28, 10), &events.CoreGroup{})
	h.publish(evs...)

	q := `query($at: DateTime) { child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) {
	  riskFlags(at: $at, includeCleared: false) { code severity reason raisedAt evidence { id type } }
	} }`
	codesAt := func(at time.Time) []string {
		data := h.ok(q, map[string]any{"at": at.Format(time.RFC3339)})
		var codes []string
		for _, f := range get(data, "child", "riskFlags").([]any) {
			f := f.(map[string]any)
			if len(f["evidence"].([]any)) == 0 || f["reason"] == "" {
				t.Fatalf("flag without evidence or reason: %v", f)
			}
			codes = append(codes, f["code"].(string))
		}
		sort.Strings(codes)
		return codes
	}
	tests := []struct {
		at   time.Time
		want []string
	}{
		{d(2, 10, 12), []string{"MULTI_AGENCY_CONCERNS"}}, // three agencies, no assessment yet
		{d(3, 10, 12), nil}, // assessment open; one episode
		{d(3, 27, 12), []string{"MISSING_AND_EXPLOITATION", "RHI_OVERDUE"}}, // M2 returned 21 March, no interview
		{d(4, 12, 12), []string{"MISSING_AND_EXPLOITATION", "REPEAT_MISSING", "RHI_OVERDUE"}},
		{d(5, 10, 12), []string{"ICPC_OVERDUE", "MISSING_AND_EXPLOITATION", "REPEAT_MISSING", "RHI_OVERDUE"}}, // 15 working days from 15 April
		{d(6, 1, 12), []string{"CP_PLAN_ACTIVE", "MISSING_AND_EXPLOITATION", "REPEAT_MISSING", "RHI_OVERDUE"}},
	}
	for _, tt := range tests {
		if got := codesAt(tt.at); !slices.Equal(got, tt.want) {
			t.Errorf("at %s: flags %v, want %v", tt.at.Format(time.DateOnly), got, tt.want)
		}
	}

	// The same flags from a full replay of the stream.
	res, err := runner.Replay(context.Background(), h.app.JetStream(), eventlog.EventsStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	live, replayed := h.app.Model(), res.Model
	c, _ := live.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, nil)
	for _, tt := range tests {
		a, _ := flags.ForChild(live, c.ID, nil, tt.at, true, flags.DefaultConfig())
		b, _ := flags.ForChild(replayed, c.ID, nil, tt.at, true, flags.DefaultConfig())
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("at %s the replayed model's flags differ:\n%v\n%v", tt.at, a, b)
		}
	}

	// The worklist lists the child with the plan's high severity first.
	wl := h.ok(`{ flaggedChildren(first: 5) { totalCount nodes { highestSeverity child { id } flags { code } } } riskRules { code thresholds { name value } rationale } }`, nil)
	if n := get(wl, "flaggedChildren", "totalCount"); n != 1.0 {
		t.Fatalf("worklist: %v", wl)
	}
	if get(wl, "flaggedChildren", "nodes", 0, "highestSeverity") != "high" {
		t.Fatalf("worklist severity: %v", wl)
	}
	if len(get(wl, "riskRules").([]any)) != len(flags.DefaultConfig().Rules()) {
		t.Fatal("riskRules incomplete")
	}
}
