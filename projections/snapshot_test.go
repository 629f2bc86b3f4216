package projections

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// demoLog is the demo data set delivered one event a second, as the
// projector would see it.
func demoLog(t testing.TB, children int) []Delivered {
	t.Helper()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // after every demo event
	var out []Delivered
	for i, e := range demodata.Generate(demodata.Config{Seed: 1, Children: children}) {
		raw, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Second)
		d, err := events.CheckDelivered(events.SubjectFor(e.Agency, e.Type), raw, at)
		if err != nil {
			t.Fatalf("demo event %d: %v", i, err)
		}
		out = append(out, Delivered{Event: d, Seq: uint64(i + 1), Received: at})
	}
	return out
}

func snapshotOf(t testing.TB, m *Model) []byte {
	t.Helper()
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A model restored from a snapshot is the model that was snapshotted (the
// same digest: children, identifiers, names, entries with every version,
// conflicts and matches, as now and as known at a past time), and it goes
// on applying the log to the same state as a model that never stopped.
func TestSnapshotRestoresTheState(t *testing.T) {
	log := demoLog(t, 300)
	half := len(log) / 2
	live := NewModel()
	mustApply(t, live, log[:half]...)
	snap := snapshotOf(t, live)
	// The live model goes on while the snapshot is written elsewhere.
	mustApply(t, live, log[half:]...)

	restored := NewModel()
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	fresh := NewModel()
	mustApply(t, fresh, log[:half]...)
	if restored.Digest() != fresh.Digest() || restored.LastSeq() != fresh.LastSeq() || restored.Stats() != fresh.Stats() {
		t.Fatalf("restored %+v\nwant     %+v", restored.Stats(), fresh.Stats())
	}
	past := log[half/2].Received
	if a, b := restored.digestAt(&past), fresh.digestAt(&past); a != b {
		t.Fatal("as known at a past time, the restored model differs")
	}
	mustApply(t, restored, log[half:]...)
	if restored.Digest() != live.Digest() {
		t.Fatal("a restored model that goes on applying differs from one that never stopped")
	}
	if restored.ChangedSince(0) == nil || len(restored.ChangedSince(0)) != len(live.ChangedSince(0)) {
		t.Fatal("changes since the start differ")
	}
}

// A restored model says which children changed since any position exactly
// as the model that was snapshotted does, corrections and retractions of
// older records included: a saved worklist re-evaluates what changed after
// its own position, which may be before the snapshot's.
func TestSnapshotKeepsWhatChangedWhen(t *testing.T) {
	f := newFeed(t)
	first := f.event("police.notification", "police", day(1), child(events.Identifiers{NHSNumber: nhsA.Value}), &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim"})
	second := f.event("health.concern", "health", day(2), child(events.Identifiers{NHSNumber: nhsA.Value}), &events.HealthConcern{Concern: "x"})
	log := []Delivered{
		first, second,
		f.event("health.concern", "health", day(3), child(events.Identifiers{NHSNumber: nhsB.Value}), &events.HealthConcern{Concern: "y"}),
		f.event("record.corrected", "police", day(4), child(events.Identifiers{NHSNumber: nhsA.Value}), &events.RecordCorrected{EventID: first.Event.ID, Reason: "Wrong date keyed", OccurredAt: day(1).Add(time.Hour).Format(time.RFC3339)}),
		f.event("health.concern", "health", day(5), child(events.Identifiers{NHSNumber: nhsB.Value}), &events.HealthConcern{Concern: "z"}),
		f.event("record.retracted", "health", day(6), child(events.Identifiers{NHSNumber: nhsA.Value}), &events.RecordRetracted{EventID: second.Event.ID, Reason: "Wrong child"}),
		f.event("health.concern", "health", day(7), child(events.Identifiers{NHSNumber: nhsB.Value}), &events.HealthConcern{Concern: "w"}),
	}
	live := NewModel()
	mustApply(t, live, log...)
	restored := NewModel()
	if err := restored.Restore(bytes.NewReader(snapshotOf(t, live))); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(0); seq <= uint64(len(log)); seq++ {
		got, want := restored.ChangedSince(seq), live.ChangedSince(seq)
		if !slices.Equal(got, want) {
			t.Fatalf("changed since %d: restored says %v, the live model %v", seq, got, want)
		}
	}
	if n := len(live.ChangedSince(5)); n != 2 {
		t.Fatalf("after the retraction at 6 and the event at 7, %d children changed, want 2", n)
	}
}

// digestAt summarises what the model shows as known at asOf.
func (m *Model) digestAt(asOf *time.Time) string {
	var b bytes.Buffer
	for _, c := range m.Children(ChildFilter{}, asOf) {
		b.WriteString(c.ID)
		for _, n := range c.Names {
			b.WriteString(n)
		}
		entries, _ := m.Chronology(c.ID, asOf, true)
		for _, e := range entries {
			b.WriteString(e.EventID + e.Summary + e.RetractReason)
		}
	}
	for _, c := range m.Conflicts(asOf) {
		b.WriteString(c.Kind + c.Reason)
	}
	return b.String()
}

// A snapshot that is damaged, cut short, of another version or not a
// snapshot at all is refused whole, and the model is left as it was.
func TestSnapshotRefusesWhatItCannotTrust(t *testing.T) {
	m := NewModel()
	mustApply(t, m, demoLog(t, 40)...)
	good := snapshotOf(t, m)
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	version := append([]byte(nil), good...)
	version[len(snapshotMagic)] = SnapshotVersion + 1
	tests := []struct {
		name string
		data []byte
	}{
		{"a flipped bit", flip},
		{"cut short", good[:len(good)*2/3]},
		{"another version", version},
		{"not a snapshot", []byte("{\"applied\": []}")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := NewModel()
			mustApply(t, target, demoLog(t, 5)...)
			before := target.Digest()
			err := target.Restore(bytes.NewReader(tt.data))
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("restore: %v, want ErrSnapshot", err)
			}
			if target.Digest() != before {
				t.Fatal("a refused snapshot changed the model")
			}
		})
	}
}
