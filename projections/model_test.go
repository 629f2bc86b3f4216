package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// feed builds Delivered events with increasing sequence and receipt times
// one minute apart, starting at base.
type feed struct {
	t    testing.TB
	seq  uint64
	base time.Time
}

func newFeed(t testing.TB) *feed {
	return &feed{t: t, base: time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)}
}

// at is the receipt time of sequence n.
func (f *feed) at(n uint64) time.Time { return f.base.Add(time.Duration(n) * time.Minute) }

// event makes a valid event of typ from the catalogue example with the
// given agency, subjects, occurred time and payload, and delivers it next.
func (f *feed) event(typ events.Type, agency string, occurred time.Time, subjects []events.Subject, body events.Payload) Delivered {
	f.t.Helper()
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	f.seq++
	e.Agency, e.Subjects, e.OccurredAt, e.RecordedAt = agency, subjects, occurred, occurred.Add(time.Hour)
	e.SourceRef = fmt.Sprintf("ref-%d", f.seq)
	if body != nil {
		raw, _ := json.Marshal(body)
		e.Payload, e.Body = raw, body
	}
	e.ID = events.DeriveID(e)
	if err := events.Validate(e, f.at(f.seq).Add(time.Hour*24*365*5)); err != nil {
		f.t.Fatalf("test event invalid: %v", err)
	}
	return Delivered{Event: e, Seq: f.seq, Received: f.at(f.seq)}
}

func child(ids events.Identifiers) []events.Subject {
	return []events.Subject{{Identifiers: ids}}
}

func mustApply(t testing.TB, m *Model, ds ...Delivered) {
	t.Helper()
	for _, d := range ds {
		if err := m.Apply(d); err != nil {
			t.Fatalf("apply %s: %v", d.Event.Type, err)
		}
	}
}

var (
	nhsA = events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}
	nhsB = events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000026"}
	upnA = events.Identifier{Scheme: events.SchemeUPN, Value: "B801200005001"}
	laA  = events.Identifier{Scheme: events.SchemeLAPersonID, Value: "LA-1"}
	polA = events.Identifier{Scheme: events.SchemePolicePersonID, Value: "PP-1"}
)

func day(d int) time.Time { return time.Date(2024, 3, d, 10, 0, 0, 0, time.UTC) }

func TestChronologyOrderIdempotenceAndLookup(t *testing.T) {
	f := newFeed(t)
	m := NewModel()
	d1 := f.event("police.notification", "police", day(20), child(events.Identifiers{PolicePersonID: "PP-1", NHSNumber: "9990000018"}), nil)
	d2 := f.event("health.concern", "health", day(5), child(events.Identifiers{NHSNumber: "9990000018"}), nil)
	d3 := f.event("education.concern", "education", day(12), child(events.Identifiers{UPN: "B801200005001", NHSNumber: "9990000018"}), nil)
	d4 := f.event("contact.received", "social_care", day(12), child(events.Identifiers{LAPersonID: "LA-1", UPN: "B801200005001"}), nil)
	mustApply(t, m, d1, d2, d3, d4)
	// A re-send beyond the duplicate window, with a new sequence.
	again := d2
	again.Seq, again.Received = 99, f.at(99)
	mustApply(t, m, again)

	var ids []string
	for _, k := range []events.Identifier{nhsA, upnA, laA, polA} {
		c, ok := m.FindChild(k, nil)
		if !ok {
			t.Fatalf("%v finds no child", k)
		}
		ids = append(ids, c.ID)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("identifiers found different children: %v", ids)
		}
	}
	entries, ok := m.Chronology(ids[0], nil, false)
	if !ok || len(entries) != 4 {
		t.Fatalf("got %d entries", len(entries))
	}
	want := []string{d2.Event.ID, d3.Event.ID, d4.Event.ID, d1.Event.ID} // by occurred_at, ties by seq
	for i, e := range entries {
		if e.EventID != want[i] {
			t.Fatalf("entry %d is %s (%s), want %s", i, e.EventID, e.Type, want[i])
		}
	}
	if m.Stats().Duplicates != 1 {
		t.Fatalf("duplicate not counted: %+v", m.Stats())
	}
}

func TestCorrectionsRetractionsAndAsKnownAt(t *testing.T) {
	f := newFeed(t)
	m := NewModel()
	orig := f.event("education.concern", "education", day(13), child(events.Identifiers{NHSNumber: "9990000018"}), nil)
	other := f.event("health.concern", "health", day(1), child(events.Identifiers{NHSNumber: "9990000018"}), nil)
	mustApply(t, m, orig, other)
	corr := f.event("record.corrected", "education", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
		&events.RecordCorrected{EventID: orig.Event.ID, Reason: "wrong day", OccurredAt: day(3).Format(time.RFC3339), Summary: "Corrected summary"})
	mustApply(t, m, corr)
	retr := f.event("record.retracted", "hub", day(15), child(events.Identifiers{NHSNumber: "9990000018"}),
		&events.RecordRetracted{EventID: other.Event.ID, Reason: "wrong child"})
	mustApply(t, m, retr)

	c, _ := m.FindChild(nhsA, nil)
	now, _ := m.Chronology(c.ID, nil, false)
	if len(now) != 1 || now[0].Summary != "Corrected summary" || !now[0].OccurredAt.Equal(day(3)) || now[0].Version != 2 {
		t.Fatalf("present: %+v", now)
	}
	all, _ := m.Chronology(c.ID, nil, true)
	if len(all) != 2 || !all[0].Retracted || all[0].RetractReason != "wrong child" {
		t.Fatalf("with retracted: %+v", all)
	}
	versions := now[0].Record().Versions(nil)
	if len(versions) != 2 || versions[0].Summary == "Corrected summary" || versions[1].AmendReason != "wrong day" {
		t.Fatalf("history: %+v", versions)
	}
	// As known before the correction and retraction arrived.
	before := f.at(corr.Seq).Add(-time.Second)
	then, _ := m.Chronology(c.ID, &before, false)
	if len(then) != 2 || then[1].Summary == "Corrected summary" || then[0].Retracted {
		t.Fatalf("as known at %v: %+v", before, then)
	}
	// As known before the original arrived.
	early := f.at(orig.Seq).Add(-time.Second)
	if _, ok := m.FindChild(nhsA, &early); ok {
		t.Fatal("child known before any event arrived")
	}
}

func TestAmendmentsOfUnknownOrForeignEventsAreRejected(t *testing.T) {
	f := newFeed(t)
	m := NewModel()
	orig := f.event("education.concern", "education", day(13), child(events.Identifiers{NHSNumber: "9990000018"}), nil)
	a, b := events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, events.Identifier{Scheme: events.SchemeUPN, Value: "B801200005001"}
	link := f.event("subjects.linked", "hub", day(13), child(events.Identifiers{NHSNumber: "9990000018"}), &events.SubjectsLinked{A: a, B: b, Reason: "same child"})
	mustApply(t, m, orig, link)
	tests := []struct {
		name string
		d    Delivered
		want error
	}{
		{"unknown", f.event("record.retracted", "education", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
			&events.RecordRetracted{EventID: "0190f3c4-0000-7000-8000-000000000009", Reason: "x"}), ErrUnknownTarget},
		{"foreign", f.event("record.corrected", "police", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
			&events.RecordCorrected{EventID: orig.Event.ID, Reason: "x", Summary: "y"}), ErrForeignTarget},
		// Retracting a link would show it retracted while the records stay
		// joined: a link is undone by an unlink.
		{"retract a link", f.event("record.retracted", "hub", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
			&events.RecordRetracted{EventID: link.Event.ID, Reason: "linked in error"}), ErrIdentityTarget},
		{"correct a link", f.event("record.corrected", "hub", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
			&events.RecordCorrected{EventID: link.Event.ID, Reason: "x", Summary: "y"}), ErrIdentityTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Apply(tt.d)
			if !errors.Is(err, tt.want) || events.KindOf(err) != events.KindInvalid {
				t.Fatalf("got %v", err)
			}
			if err := m.CheckAmendment(tt.d.Event); !errors.Is(err, tt.want) {
				t.Fatalf("CheckAmendment: %v", err)
			}
		})
	}
	bad := f.event("record.corrected", "education", day(14), child(events.Identifiers{NHSNumber: "9990000018"}),
		&events.RecordCorrected{EventID: orig.Event.ID, Reason: "x", Payload: json.RawMessage(`{"concern": 5}`)})
	if err := m.Apply(bad); err == nil || events.Problems(err)[0].Field != "payload.payload.concern" {
		t.Fatalf("bad corrected payload: %v", err)
	}
}
