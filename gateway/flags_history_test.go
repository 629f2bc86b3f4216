package gateway_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// recent builds an event that happened d ago and was recorded then: ingest
// refuses events from the future, and the app's alerter runs on the real
// clock.
func recent(typ events.Type, agency, ref string, d time.Duration, ids events.Identifiers, body events.Payload) *events.Event {
	at := time.Now().UTC().Add(-d).Truncate(time.Second)
	e := ev(typ, agency, ref, at, ids)
	e.RecordedAt = at
	return withBody(e, body)
}

// alertsFor waits until the alerter has said n things about a rule's flags
// on the stream, and returns them, oldest first.
func alertsFor(t *testing.T, h *hub, code string, n int) []alerts.Alert {
	t.Helper()
	var got []alerts.Alert
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := alerts.List(context.Background(), h.app.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, a := range list {
			if a.Code == code {
				got = append(got, a)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d %s alerts; have %+v", n, code, got)
		}
		time.Sleep(50 * time.Millisecond) // the alerter sweeps every two seconds
	}
}

// When police retract the only exploitation evidence behind a flag (wrong
// child), the flag is not lost: riskFlags(includeCleared) lists it as raised
// and then cleared, "evidence retracted by police on <date>: <why>", with
// the same times and reasons as the alerts stream and a replay of the log.
// As known before the retraction, it was active. A role that may not read
// the retraction (restricted to police) sees that the evidence was
// retracted, by whom and when, but not why, here and in the chronology.
func TestRetractedFlagTellsOneStoryEverywhere(t *testing.T) {
	h := startHub(t, t.TempDir())
	ids := events.Identifiers{NHSNumber: "9990007004"}
	episode := recent("missing.reported", "police", "rs-m1", 72*time.Hour, ids, &events.MissingReported{EpisodeRef: "RS-1", Category: "missing"})
	notice := recent("police.notification", "police", "rs-n1", 48*time.Hour, ids, &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim", RiskLevel: "high"})
	h.publish(episode, notice)
	raised := alertsFor(t, h, "MISSING_AND_EXPLOITATION", 1)[0]

	why := "Wrong child: the notification concerned another child at the address"
	retract := ev("record.retracted", "police", "rs-r1", time.Now().UTC().Add(-time.Minute).Truncate(time.Second), ids)
	retract.RecordedAt, retract.Sensitivity = retract.OccurredAt, "restricted"
	retract = withBody(retract, &events.RecordRetracted{EventID: notice.ID, Reason: why})
	h.publish(retract)
	said := alertsFor(t, h, "MISSING_AND_EXPLOITATION", 2)
	cleared := said[1]
	if raised.Kind != "raised" || cleared.Kind != "cleared" || cleared.ClearedAt == nil {
		t.Fatalf("alerts: %+v", said)
	}
	london, _ := time.LoadLocation("Europe/London")
	want := "evidence retracted by police on " + cleared.ClearedAt.In(london).Format("2 January 2006") + ": " + why
	if cleared.ClearReason != want || !cleared.RaisedAt.Equal(raised.RaisedAt) {
		t.Fatalf("clearing alert %+v, want reason %q", cleared, want)
	}

	q := `query($known: DateTime, $cleared: Boolean) { child(identifier: {scheme: NHS_NUMBER, value: "9990007004"}) {
	  riskFlags(asKnownAt: $known, includeCleared: $cleared) { code active raisedAt clearedAt clearReason }
	  chronology(includeRetracted: true) { nodes { id retracted retractionReason } } } }`
	flagOf := func(r gqlResponse) map[string]any {
		for _, f := range get(r.Data, "child", "riskFlags").([]any) {
			if f := f.(map[string]any); f["code"] == "MISSING_AND_EXPLOITATION" {
				return f
			}
		}
		return nil
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	manager, teacher := h.tokenFor(auth.Manager, "hub"), h.tokenFor(auth.Practitioner, "education")

	r, body := h.as(manager, q, map[string]any{"cleared": true})
	f := flagOf(r)
	if f == nil {
		t.Fatalf("the cleared flag is not listed: %s", body)
	}
	if f["active"] != false || f["raisedAt"] != stamp(raised.RaisedAt) || f["clearedAt"] != stamp(*cleared.ClearedAt) || f["clearReason"] != want {
		t.Errorf("GraphQL %v; alerts raised %s, cleared %s %q", f, stamp(raised.RaisedAt), stamp(*cleared.ClearedAt), want)
	}
	if n := nodeByID(r.Data, notice.ID); n["retractionReason"] != why {
		t.Errorf("a manager should read why: %v", n)
	}

	// As known a moment before the retraction: active, raised the same.
	before := cleared.ClearedAt.Add(-time.Nanosecond)
	r, body = h.as(manager, q, map[string]any{"known": stamp(before), "cleared": false})
	if f := flagOf(r); f == nil || f["active"] != true || f["raisedAt"] != stamp(raised.RaisedAt) {
		t.Errorf("as known before the retraction: %s", body)
	}

	// A replay of the log tells the same.
	res, err := runner.Replay(context.Background(), h.app.JetStream(), eventlog.EventsStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := res.Model.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: ids.NHSNumber}, nil)
	fs, _ := flags.ForChild(res.Model, c.ID, nil, time.Now(), false, flags.DefaultConfig())
	i := slices.IndexFunc(fs, func(f flags.Flag) bool { return f.Code == "MISSING_AND_EXPLOITATION" })
	if i < 0 || !fs[i].RaisedAt.Equal(raised.RaisedAt) || fs[i].ClearedAt == nil || !fs[i].ClearedAt.Equal(*cleared.ClearedAt) || fs[i].ClearReason != want || fs[i].Key != cleared.FlagKey {
		t.Errorf("the replay's flags: %+v", fs)
	}

	// A practitioner from education may see the entries but not the
	// police's restricted retraction: who and when, not why.
	r, body = h.as(teacher, q, map[string]any{"cleared": true})
	f = flagOf(r)
	hidden := "evidence retracted by police on " + cleared.ClearedAt.In(london).Format("2 January 2006") + "; the reason is hidden from your role: ask the hub"
	if f == nil || f["clearReason"] != hidden || f["clearedAt"] != stamp(*cleared.ClearedAt) {
		t.Errorf("education's view of the flag: %s", body)
	}
	if strings.Contains(body, "another child at the address") {
		t.Errorf("the retraction's reason leaks: %s", body)
	}
	if n := nodeByID(r.Data, notice.ID); n["retracted"] != true || n["retractionReason"] != "hidden from your role: ask the hub" {
		t.Errorf("education's view of the retracted entry: %v", n)
	}
	// With hindsight (at before now), the retraction counts from when it
	// was made, and its reason stays hidden all the same.
	hq := `query($at: DateTime) { child(identifier: {scheme: NHS_NUMBER, value: "9990007004"}) {
	  riskFlags(at: $at, includeCleared: true) { code active clearReason } } }`
	r, body = h.as(teacher, hq, map[string]any{"at": stamp(time.Now().Add(-time.Second))})
	if f := flagOf(r); f == nil || f["active"] != false || !strings.HasSuffix(f["clearReason"].(string), "; the reason is hidden from your role: ask the hub") {
		t.Errorf("education's view with hindsight: %s", body)
	}
	if strings.Contains(body, "another child at the address") {
		t.Errorf("the retraction's reason leaks with hindsight: %s", body)
	}
}

// A flag resting on entries a role may not see says how many, in the
// singular or the plural: "Based on an entry", "Based on 2 entries".
func TestRedactedFlagsAgreeInNumber(t *testing.T) {
	h := startHub(t, t.TempDir())
	one := events.Identifiers{NHSNumber: "9990007012"}
	two := events.Identifiers{NHSNumber: "9990007020"}
	plan := recent("plan.started", "social_care", "rn-p1", 24*time.Hour, one, &events.PlanStarted{Kind: "child_protection", Category: "NEG"})
	first := recent("police.notification", "police", "rn-d1", 72*time.Hour, two, &events.PoliceReport{Category: "domestic_abuse", ChildRole: "household_member"})
	second := recent("police.notification", "police", "rn-d2", 24*time.Hour, two, &events.PoliceReport{Category: "domestic_abuse", ChildRole: "household_member"})
	for _, e := range []*events.Event{plan, first, second} {
		e.Sensitivity = "restricted"
		e.ID = events.DeriveID(e)
	}
	// The school's own records make each child visible to its practitioner.
	h.publish(plan, first, second,
		recent("education.concern", "education", "rn-e1", 96*time.Hour, one, &events.EducationConcern{Concern: "Tired"}),
		recent("education.concern", "education", "rn-e2", 96*time.Hour, two, &events.EducationConcern{Concern: "Tired"}))
	teacher := h.tokenFor(auth.Practitioner, "education")
	q := `query($v: String!) { child(identifier: {scheme: NHS_NUMBER, value: $v}) { riskFlags { code severity title reason } } }`
	tests := []struct {
		name, nhs, title, reason string
	}{
		{"one hidden entry", one.NHSNumber, "Flag based on an entry hidden from your role", "Based on an entry your role may not see (restricted from social care): ask the hub"},
		{"two hidden entries", two.NHSNumber, "Flag based on entries hidden from your role", "Based on 2 entries your role may not see (restricted from police): ask the hub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := h.as(teacher, q, map[string]any{"v": tt.nhs})
			list, _ := get(r.Data, "child", "riskFlags").([]any)
			if len(list) == 0 {
				t.Fatalf("no flags: %s", body)
			}
			for _, f := range list {
				f := f.(map[string]any)
				if f["code"] != "REDACTED" || f["title"] != tt.title || f["reason"] != tt.reason {
					t.Errorf("got %v, want title %q reason %q", f, tt.title, tt.reason)
				}
			}
		})
	}
}

// An absence stays in the chronology, titled as one; a missing episode is
// titled missing; both keep the type missing.reported. riskRules shows the
// readings in force.
func TestAbsenceShownAndReadingsListed(t *testing.T) {
	h := startHub(t, t.TempDir())
	ids := events.Identifiers{NHSNumber: "9990007039"}
	away := recent("missing.reported", "police", "ab-1", 72*time.Hour, ids, &events.MissingReported{EpisodeRef: "AB-1", Category: "absent", LookedAfterCode: "A"})
	gone := recent("missing.reported", "police", "ab-2", 48*time.Hour, ids, &events.MissingReported{EpisodeRef: "AB-2", Category: "missing", LookedAfterCode: "M"})
	h.publish(away, gone)
	r, body := h.as(h.token, `{ child(identifier: {scheme: NHS_NUMBER, value: "9990007039"}) { chronology(types: ["missing.reported"]) { nodes { id type title } } }
	  riskRules { code settings { name value } } }`, nil)
	if n := nodeByID(r.Data, away.ID); n["type"] != "missing.reported" || n["title"] != "Reported absent (whereabouts known)" {
		t.Errorf("the absence: %v", n)
	}
	if n := nodeByID(r.Data, gone.ID); n["type"] != "missing.reported" || n["title"] != "Reported missing" {
		t.Errorf("the missing episode: %v", n)
	}
	settings := map[string]map[string]string{}
	for _, rule := range get(r.Data, "riskRules").([]any) {
		rule := rule.(map[string]any)
		settings[rule["code"].(string)] = map[string]string{}
		for _, s := range rule["settings"].([]any) {
			s := s.(map[string]any)
			settings[rule["code"].(string)][s["name"].(string)] = s["value"].(string)
		}
	}
	switch {
	case settings["REPEAT_MISSING"]["count_absences"] != "false":
		t.Errorf("REPEAT_MISSING settings: %v", settings["REPEAT_MISSING"])
	case settings["ICPC_OVERDUE"]["deadline"] != "date":
		t.Errorf("ICPC_OVERDUE settings: %v", settings["ICPC_OVERDUE"])
	case !strings.Contains(settings["MULTI_AGENCY_CONCERNS"]["concerns"], "education.persistent_absence"):
		t.Errorf("MULTI_AGENCY_CONCERNS settings: %v (%s)", settings["MULTI_AGENCY_CONCERNS"], body)
	}
}
