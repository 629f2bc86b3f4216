package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// statutoryKept lists the statutory counters the model keeps, sorted.
func statutoryKept(m *Model) []string {
	var out []string
	m.StatutoryCounts(func(day int32, measure string, n int) {
		out = append(out, fmt.Sprintf("%d %s %d", day, measure, n))
	})
	sort.Strings(out)
	return out
}

// statutoryCounted counts the same from scratch: every entry shown now,
// by its London date and the measure its payload gives.
func statutoryCounted(m *Model) []string {
	counted := map[string]int{}
	entries, _ := m.Entries(nil)
	for _, e := range entries {
		if ms := StatutoryMeasure(e.Body()); ms != "" {
			counted[fmt.Sprintf("%d %s", DayOf(e.OccurredAt), ms)]++
		}
	}
	var out []string
	for k, n := range counted {
		out = append(out, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(out)
	return out
}

func compareStatutory(t *testing.T, m *Model, where string) {
	t.Helper()
	kept, counted := statutoryKept(m), statutoryCounted(m)
	if fmt.Sprint(kept) != fmt.Sprint(counted) {
		t.Fatalf("%s: the statutory counters kept differ from a count of the entries\nkept    %v\ncounted %v", where, kept, counted)
	}
}

// randomMeasured is an event of a type statutoryStatistics counts (or, one
// time in ten, of one it does not), with a payload chosen at random among
// those that give different measures.
func randomMeasured(r *rand.Rand) (events.Type, events.Payload) {
	switch r.IntN(10) {
	case 0:
		return "contact.received", &events.ContactReceived{Concern: "synthetic concern"}
	case 1:
		return "assessment.started", &events.AssessmentStarted{Kind: []string{"early_help", "child_and_family"}[r.IntN(2)]}
	case 2:
		return "referral.received", nil
	case 3:
		return "section47.started", nil
	case 4:
		if r.IntN(2) == 0 {
			return "plan.started", &events.PlanStarted{Kind: "child_protection", Category: "NEG"}
		}
		return "plan.started", &events.PlanStarted{Kind: "child_in_need"}
	case 5:
		return "looked_after.started", nil
	case 6:
		return "missing.reported", randomMissing(r)
	case 7:
		return "need_level.changed", &events.NeedLevelChanged{To: 1 + r.IntN(4)}
	case 8:
		return "assessment.completed", &events.AssessmentCompleted{Kind: "child_and_family", Outcome: "other", LevelOfNeed: r.IntN(5)}
	}
	return "case.closed", nil
}

func randomMissing(r *rand.Rand) *events.MissingReported {
	return &events.MissingReported{EpisodeRef: "MP-1", Category: []string{"missing", "absent"}[r.IntN(2)], LookedAfterCode: []string{"", "M", "A"}[r.IntN(3)]}
}

// allowedAgency is an agency that may publish typ.
func allowedAgency(t *testing.T, typ events.Type) string {
	t.Helper()
	spec, _ := events.Lookup(typ)
	for _, a := range []string{"social_care", "police", "health", "education"} {
		if spec.Allows(a) {
			return a
		}
	}
	t.Fatalf("no agency may publish %s", typ)
	return ""
}

// correctedPayload is a complete payload for a correction of an event of
// type typ that changes what it counts as, or nil to leave the payload.
func correctedPayload(r *rand.Rand, typ events.Type) json.RawMessage {
	var p events.Payload
	switch typ {
	case "assessment.started":
		p = &events.AssessmentStarted{Kind: []string{"early_help", "child_and_family"}[r.IntN(2)]}
	case "missing.reported":
		p = randomMissing(r)
	case "need_level.changed":
		p = &events.NeedLevelChanged{To: 1 + r.IntN(4)}
	case "assessment.completed":
		p = &events.AssessmentCompleted{Kind: "child_and_family", Outcome: "other", LevelOfNeed: r.IntN(5)}
	case "plan.started":
		p = &events.PlanStarted{Kind: "child_in_need"}
	default:
		return nil
	}
	b, _ := json.Marshal(p)
	return b
}

// The statutory counters kept as events arrive say what counting every
// entry shown says, after any mix of events, retractions (some of events
// already retracted or corrected) and corrections that move an entry's
// date, change what its payload counts as, or both; a snapshot carries
// them, and a model restored from it goes on counting exactly.
func TestStatutoryCountersEqualACount(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 15))
			f := newFeed(t)
			m := NewModel()
			subjects := child(events.Identifiers{LAPersonID: "LA-STAT"})
			// Dates across a month boundary and a clock change, near
			// midnight, so that London dates differ from UTC ones.
			occurred := func() time.Time {
				return time.Date(2024, 3, 28, 22, 30, 0, 0, time.UTC).Add(time.Duration(r.IntN(6*24*4)) * 15 * time.Minute)
			}
			var applied []Delivered
			var log []Delivered
			for i := 0; i < 300; i++ {
				var d Delivered
				switch k := r.IntN(10); {
				case k < 6 || len(applied) == 0:
					typ, body := randomMeasured(r)
					d = f.event(typ, allowedAgency(t, typ), occurred(), subjects, body)
					applied = append(applied, d)
				case k < 8:
					target := applied[r.IntN(len(applied))].Event
					d = f.event("record.retracted", "hub", occurred(), subjects, &events.RecordRetracted{EventID: target.ID, Reason: "synthetic retraction"})
				default:
					target := applied[r.IntN(len(applied))].Event
					c := &events.RecordCorrected{EventID: target.ID, Reason: "synthetic correction"}
					if r.IntN(2) == 0 {
						c.OccurredAt = occurred().Format(time.RFC3339)
					}
					if c.Payload = correctedPayload(r, target.Type); c.Payload == nil || r.IntN(3) == 0 {
						c.OccurredAt = occurred().Format(time.RFC3339)
					}
					d = f.event("record.corrected", target.Agency, occurred(), subjects, c)
				}
				mustApply(t, m, d)
				log = append(log, d)
				if r.IntN(4) == 0 { // a re-delivery changes nothing
					d.Seq = 0
					mustApply(t, m, d)
				}
				if i%25 == 0 {
					compareStatutory(t, m, fmt.Sprintf("after %d events", i+1))
				}
			}
			compareStatutory(t, m, "at the end")
			if len(statutoryKept(m)) == 0 || m.retractions == 0 || m.corrections == 0 {
				t.Fatalf("the log should count something and hold retractions and corrections: %d counters, %d retractions, %d corrections", len(statutoryKept(m)), m.retractions, m.corrections)
			}

			// A snapshot taken half way, restored, and fed the rest counts
			// what the model that never stopped counts.
			half := NewModel()
			mustApply(t, half, log[:len(log)/2]...)
			snap := snapshotOf(t, half)
			restored := NewModel()
			if err := restored.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(statutoryKept(restored)) != fmt.Sprint(statutoryKept(half)) {
				t.Fatal("a restored model's statutory counters differ from the snapshotted model's")
			}
			mustApply(t, restored, log[len(log)/2:]...)
			compareStatutory(t, restored, "restored and fed the rest")
			if fmt.Sprint(statutoryKept(restored)) != fmt.Sprint(statutoryKept(m)) {
				t.Fatal("a restored model that goes on counting differs from one that never stopped")
			}
		})
	}
}

// Every type whose example payload gives a measure is one whose
// corrections are recounted (measuredType), so no correction can leave a
// count behind.
func TestMeasuredTypesCoverTheMeasures(t *testing.T) {
	for _, spec := range events.Catalogue() {
		if StatutoryMeasure(spec.Example) != "" && !measuredType(spec.Type) {
			t.Errorf("%s gives %s but measuredType leaves it out", spec.Type, StatutoryMeasure(spec.Example))
		}
	}
}

// Annex A counts an episode as the local authority recorded it: its
// SSDA903 code when it has one, else the police category. Police "absent"
// with code M (whereabouts unknown) is a missing episode, as the flags
// also count it; police "missing" with code A is an absence here, while
// the flags, erring towards the child, count it as missing.
func TestAnnexAReadsTheSSDA903CodeFirst(t *testing.T) {
	tests := []struct {
		category, code string
		absence, flags bool // Annex A's reading, and the flags' (Entry.Absence)
	}{
		{"absent", "", true, true},
		{"absent", "A", true, true},
		{"absent", "M", false, false},
		{"missing", "A", true, false},
		{"missing", "M", false, false},
		{"missing", "", false, false},
	}
	for _, tt := range tests {
		m := &events.MissingReported{EpisodeRef: "E1", Category: tt.category, LookedAfterCode: tt.code}
		if got := AnnexAAbsence(m); got != tt.absence {
			t.Errorf("category %q code %q: Annex A absence %v, want %v", tt.category, tt.code, got, tt.absence)
		}
		if got := (Entry{Type: "missing.reported"}).WithBody(m).Absence(); got != tt.flags {
			t.Errorf("category %q code %q: flags' absence %v, want %v", tt.category, tt.code, got, tt.flags)
		}
	}
}
