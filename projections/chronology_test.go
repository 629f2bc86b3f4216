package projections

import (
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// A missing episode and an absence both stay in the chronology; the title
// says which, by the guidance's test (whereabouts known or not), while the
// type stays missing.reported for filters.
func TestAbsencesAreMarkedInTheChronology(t *testing.T) {
	tests := []struct {
		name     string
		category string
		code     string
		absence  bool
		title    string
	}{
		{"police: absent", "absent", "", true, "Reported absent (whereabouts known)"},
		{"police absent, carer SSDA903 A", "absent", "A", true, "Reported absent (whereabouts known)"},
		{"police absent, carer SSDA903 M: whereabouts unknown", "absent", "M", false, "Reported missing"},
		{"police missing, carer SSDA903 A: police could not find them", "missing", "A", false, "Reported missing"},
		{"police: missing", "missing", "", false, "Reported missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t)
			m := NewModel()
			nhs := events.Identifiers{NHSNumber: "9990000018"}
			mustApply(t, m,
				f.event("missing.reported", "police", f.base, child(nhs), &events.MissingReported{EpisodeRef: "E1", Category: tt.category, LookedAfterCode: tt.code}),
				f.event("health.concern", "health", f.base, child(nhs), &events.HealthConcern{Concern: "x"}))
			c, _ := m.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: nhs.NHSNumber}, nil)
			entries, _ := m.Chronology(c.ID, nil, false)
			if len(entries) != 2 {
				t.Fatalf("the episode should stay in the chronology: %d entries", len(entries))
			}
			ep := entries[0]
			if ep.Type != "missing.reported" || ep.Absence() != tt.absence || ep.Title() != tt.title {
				t.Errorf("type %s absence %v title %q; want absence %v title %q", ep.Type, ep.Absence(), ep.Title(), tt.absence, tt.title)
			}
			if other := entries[1]; other.Absence() || other.Title() != "Health concern" {
				t.Errorf("another type: absence %v title %q", other.Absence(), other.Title())
			}
		})
	}
}

// An entry names the retraction in force, with the retraction's own agency
// and sensitivity, as known at the time asked.
func TestEntryRetraction(t *testing.T) {
	f := newFeed(t)
	m := NewModel()
	nhs := events.Identifiers{NHSNumber: "9990000018"}
	note := f.event("police.notification", "police", f.base, child(nhs), &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim"})
	retract := f.event("record.retracted", "police", f.base.Add(time.Hour), child(nhs), &events.RecordRetracted{EventID: note.Event.ID, Reason: "Wrong child"})
	retract.Event.Sensitivity = "restricted"
	mustApply(t, m, note, retract)
	before := f.at(1)
	if e, _, _ := m.Event(note.Event.ID, &before); e.Retracted {
		t.Fatal("retracted before the retraction arrived")
	} else if _, ok := e.Retraction(); ok {
		t.Fatal("a retraction before it arrived")
	}
	e, _, _ := m.Event(note.Event.ID, nil)
	x, ok := e.Retraction()
	if !ok || x.Reason != "Wrong child" || x.Event.Agency != "police" || x.Event.Sensitivity != "restricted" || !x.Received.Equal(e.RetractedAt) {
		t.Fatalf("retraction %+v %v", x, ok)
	}
}
