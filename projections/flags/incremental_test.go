package flags

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// The worklist kept up incrementally is, at every moment, the worklist a
// full sweep gives: while the demo log is applied (contacts, plans,
// missing episodes, corrections, retractions, links that merge children),
// after an unlink that splits one, and as the clock passes deadlines with
// no new event.
func TestIncrementalWorklistEqualsAFullSweep(t *testing.T) {
	evs := demodata.Generate(demodata.Config{Seed: 3, Children: 150})
	m := projections.NewModel()
	w := NewWorklist(m, DefaultConfig())
	cfg := DefaultConfig()
	// Two followers of the changes at different paces, as two alerters
	// would be: each keeps what it was told, and must at every moment
	// hold every child's active flags, and hold nothing else active.
	type reader struct {
		f     *Follower
		flags map[string][]Flag
	}
	readers := []*reader{{f: w.Follow(), flags: map[string][]Flag{}}, {f: w.Follow(), flags: map[string][]Flag{}}}
	compares := 0
	compare := func(at time.Time, where string) {
		t.Helper()
		compares++
		got := w.At(at)
		want, _ := Sweep(m, nil, at, cfg)
		if a, b := render(got), render(want); a != b {
			t.Fatalf("%s: incremental worklist\n%s\nfull sweep\n%s", where, a, b)
		}
		for i, r := range readers {
			if i == 1 && compares%3 != 0 {
				continue // the slower follower looks every third time
			}
			changed, mark, _ := r.f.Changed(context.Background(), at)
			for id, fs := range changed {
				if fs == nil {
					delete(r.flags, id)
				} else {
					r.flags[id] = fs
				}
			}
			r.f.Done(mark)
			if a, b := renderActive(r.flags), render(want); a != b {
				t.Fatalf("%s: follower %d was told\n%s\nthe active flags are\n%s", where, i, a, b)
			}
		}
	}
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var linked *events.SubjectsLinked
	for i, e := range evs {
		if err := m.Apply(projections.Delivered{Event: e, Seq: uint64(i + 1), Received: e.RecordedAt}); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if l, ok := e.Body.(*events.SubjectsLinked); ok && linked == nil {
			linked = l
		}
		if i%500 == 0 {
			compare(e.RecordedAt, fmt.Sprintf("after event %d", i))
		}
	}
	compare(base, "after the whole log")
	if linked == nil {
		t.Fatal("the demo log has no link to undo")
	}
	unlink := events.Event{ID: "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e00", Type: "subjects.unlinked", SchemaVersion: 1, Agency: "hub",
		SourceSystem: "test", SourceRef: "unlink-1", OccurredAt: base, RecordedAt: base, Sensitivity: "standard", Reliability: "direct",
		Summary: "Not the same child", Body: &events.SubjectsUnlinked{A: linked.A, B: linked.B, Reason: "different children"}}
	if err := m.Apply(projections.Delivered{Event: &unlink, Seq: uint64(len(evs) + 1), Received: base}); err != nil {
		t.Fatal(err)
	}
	compare(base.Add(time.Minute), "after an unlink")
	for d := range 40 {
		compare(base.Add(time.Duration(d)*100*time.Hour), fmt.Sprintf("hour %d with no new event", d*100))
	}
	// What every follower has dealt with is not kept: the flags retained
	// for them are the changes still unread, not the hub's history.
	end := base.Add(4000 * time.Hour)
	for _, r := range readers {
		_, mark, _ := r.f.Changed(context.Background(), end)
		r.f.Done(mark)
	}
	if len(w.recent) != 0 || len(w.changed) != 0 {
		t.Fatalf("after every follower read everything, %d children's flags are still kept", len(w.recent))
	}
}

// renderActive renders the active flags among those a follower was told,
// in worklist order, as render does.
func renderActive(byChild map[string][]Flag) string {
	var list []ChildFlags
	for id, fs := range byChild {
		if cf := activeOf(projections.Child{ID: id}, fs); len(cf.Flags) > 0 {
			list = append(list, cf)
		}
	}
	sortWorklist(list)
	return render(list)
}

// Two readers sharing the worklist take the time just before they queue
// for it, so the second may ask for a moment earlier than the first: it is
// answered at the later time, not by evaluating every child again. A clock
// set well back does evaluate everyone.
func TestRacingReadersDoNotRebuild(t *testing.T) {
	m := projections.NewModel()
	spec, _ := events.Lookup("missing.reported")
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	seq := uint64(0)
	for _, nhs := range []string{"9990000018", "9990000026"} {
		for k := range 3 { // missing three times in three weeks
			e := spec.ExampleEvent()
			e.Agency, e.SourceRef = "police", fmt.Sprintf("%s-%d", nhs, k)
			e.Subjects = []events.Subject{{Identifiers: events.Identifiers{NHSNumber: nhs}}}
			e.OccurredAt = at.AddDate(0, 0, 7*k)
			e.RecordedAt = e.OccurredAt.Add(time.Hour)
			e.ID = events.DeriveID(e)
			seq++
			if err := m.Apply(projections.Delivered{Event: e, Seq: seq, Received: e.RecordedAt}); err != nil {
				t.Fatal(err)
			}
		}
	}
	w := NewWorklist(m, DefaultConfig())
	f := w.Follow()
	now := at.AddDate(0, 0, 20)
	first, mark, _ := f.Changed(context.Background(), now)
	if len(first) != 2 {
		t.Fatalf("the first look sees %d children, want both", len(first))
	}
	f.Done(mark)
	if again, _, _ := f.Changed(context.Background(), now.Add(-time.Second)); len(again) != 0 {
		t.Fatalf("a reader a second behind re-evaluated %d children", len(again))
	}
	if back, _, _ := f.Changed(context.Background(), now.Add(-time.Hour)); len(back) != 2 {
		t.Fatalf("a clock an hour back re-evaluated %d children, want every one", len(back))
	}
	// A follower stopped part way (a shutdown during the first look)
	// gets an error, and the next look starts again and tells everyone.
	late := w.Follow()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := late.Changed(ctx, now); err == nil {
		t.Fatal("a cancelled look at every child did not say so")
	}
	if all, _, err := late.Changed(context.Background(), now); err != nil || len(all) != 2 {
		t.Fatalf("after a cancelled look the next told %d children (err %v), want both", len(all), err)
	}
}

func render(list []ChildFlags) string {
	out := ""
	for _, c := range list {
		out += c.Child.ID + ":"
		for _, f := range c.Flags {
			out += " " + f.Key + "@" + f.RaisedAt.Format(time.RFC3339)
		}
		out += "\n"
	}
	return out
}

// Two flagged children linked into one leave one line on the worklist,
// under the survivor's id, not a stale line under the other's.
func TestIncrementalWorklistAfterAMerge(t *testing.T) {
	m := projections.NewModel()
	w := NewWorklist(m, DefaultConfig())
	spec, _ := events.Lookup("missing.reported")
	seq := uint64(0)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	apply := func(e *events.Event) {
		t.Helper()
		seq++
		if err := m.Apply(projections.Delivered{Event: e, Seq: seq, Received: e.RecordedAt}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ids := range []events.Identifiers{{NHSNumber: "9990000018"}, {LAPersonID: "LA-MERGE-2"}} {
		for k := range 3 {
			e := spec.ExampleEvent()
			e.Agency, e.SourceRef = "police", fmt.Sprintf("%v-%d", ids, k)
			e.Subjects = []events.Subject{{Identifiers: ids}}
			e.OccurredAt = at.AddDate(0, 0, 7*k)
			e.RecordedAt = e.OccurredAt.Add(time.Hour)
			e.ID = events.DeriveID(e)
			apply(e)
		}
	}
	now := at.AddDate(0, 0, 20)
	if n := len(w.At(now)); n != 2 {
		t.Fatalf("%d children on the worklist before the link, want 2:\n%s", n, render(w.At(now)))
	}
	link := &events.Event{ID: "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e01", Type: "subjects.linked", SchemaVersion: 1, Agency: "hub",
		SourceSystem: "test", SourceRef: "link-1", OccurredAt: now, RecordedAt: now, Sensitivity: "standard", Reliability: "direct",
		Summary: "Same child", Body: &events.SubjectsLinked{A: events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"},
			B: events.Identifier{Scheme: events.SchemeLAPersonID, Value: "LA-MERGE-2"}, Reason: "same child"}}
	apply(link)
	got := w.At(now.Add(time.Minute))
	want, _ := Sweep(m, nil, now.Add(time.Minute), DefaultConfig())
	if len(got) != 1 || render(got) != render(want) {
		t.Fatalf("after the link:\n%s\nwant\n%s", render(got), render(want))
	}
}
