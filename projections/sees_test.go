package projections

import (
	"testing"
	"time"
)

// Sees answers as ChildByID does (found or not), for every child, through
// every kind of lens and as known at dates before and after the log: the
// worklist decides by it who is listed, and gathers names only for the
// page shown.
func TestSeesAgreesWithChildByID(t *testing.T) {
	m, _, mid, before := demoModel(t)
	lenses := map[string]childFinder{
		"everything":       m.Through(nil),
		"health only":      m.Through(func(e Entry) bool { return e.Agency == "health" }),
		"nothing":          m.Through(func(Entry) bool { return false }),
		"not restricted":   m.Through(func(e Entry) bool { return e.Sensitivity != "restricted" }),
		"police as of mid": m.Through(func(e Entry) bool { return e.Agency == "police" }),
	}
	ids := map[string]bool{"no-such-child": true}
	for _, c := range m.Children(ChildFilter{}, nil) {
		ids[c.ID] = true
		for _, k := range c.Identifiers {
			if c2, ok := m.FindChild(k.Identifier, &mid); ok {
				ids[c2.ID] = true
			}
		}
	}
	checked, seen := 0, 0
	for name, l := range lenses {
		for id := range ids {
			for _, at := range []*time.Time{nil, &mid, &before} {
				_, found := l.ChildByID(id, at)
				if sees := l.Sees(id, at); sees != found {
					t.Fatalf("%s: Sees(%s, %v) = %v, ChildByID found %v", name, id, at, sees, found)
				}
				checked++
				if found {
					seen++
				}
			}
		}
	}
	if seen == 0 || seen == checked {
		t.Fatalf("%d of %d found: the cases do not tell found from not", seen, checked)
	}
}

// childFinder is what the lenses in the test answer.
type childFinder interface {
	ChildByID(id string, asOf *time.Time) (Child, bool)
	Sees(id string, asOf *time.Time) bool
}

// Marking answers as Event does (its sensitivity and agency, found or
// not) for every event, corrected ones included, as known now, midway and
// before the log: redaction of the worklist's flags decides by it.
func TestMarkingAgreesWithEvent(t *testing.T) {
	m, log, mid, before := demoModel(t)
	amended, found := 0, 0
	for _, d := range log {
		for _, at := range []*time.Time{nil, &mid, &before} {
			e, _, ok := m.Event(d.Event.ID, at)
			sensitivity, agency, mok := m.Marking(d.Event.ID, at)
			if mok != ok || sensitivity != e.Sensitivity || agency != e.Agency {
				t.Fatalf("Marking(%s, %v) = %q %q %v; Event gives %q %q %v", d.Event.ID, at, sensitivity, agency, mok, e.Sensitivity, e.Agency, ok)
			}
			if ok {
				found++
				if e.Version > 1 {
					amended++
				}
			}
		}
	}
	if _, _, ok := m.Marking("no-such-event", nil); ok {
		t.Fatal("Marking found an event that does not exist")
	}
	if amended == 0 || found == 0 {
		t.Fatalf("%d found, %d amended: the log does not test corrected events", found, amended)
	}
}

// demoModel is a model of the demo log of 200 children, the log, a time
// midway through it and one before it.
func demoModel(t *testing.T) (m *Model, log []Delivered, mid, before time.Time) {
	t.Helper()
	m = NewModel()
	log = demoLog(t, 200)
	mustApply(t, m, log...)
	return m, log, log[len(log)/2].Received, log[0].Received.Add(-time.Hour)
}
