package demodata

import (
	"bytes"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

func TestEveryEventIsValidAndRoundTrips(t *testing.T) {
	cfg := Config{Seed: 7, Children: 300}
	evs := Generate(cfg)
	ids := map[string]bool{}
	for i, e := range evs {
		if err := events.Validate(e, DefaultEnd.Add(time.Hour)); err != nil {
			t.Fatalf("event %d (%s): %v", i, e.Type, err)
		}
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.Check(data, DefaultEnd.Add(time.Hour)); err != nil {
			t.Fatalf("event %d (%s) does not decode: %v", i, e.Type, err)
		}
		if ids[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		ids[e.ID] = true
		if spec, _ := events.Lookup(e.Type); !spec.Allows(e.Agency) {
			t.Fatalf("%s may not publish %s", e.Agency, e.Type)
		}
		if e.RecordedAt.After(DefaultEnd) || e.OccurredAt.Before(DefaultEnd.AddDate(-3, 0, -2)) {
			t.Fatalf("event %d outside the history: %v %v", i, e.OccurredAt, e.RecordedAt)
		}
		if i > 0 && e.RecordedAt.Before(evs[i-1].RecordedAt) {
			t.Fatal("not sorted by recorded_at")
		}
	}
}

func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	WriteNDJSON(&a, Generate(Config{Seed: 3, Children: 200}))
	WriteNDJSON(&b, Generate(Config{Seed: 3, Children: 200}))
	WriteNDJSON(&c, Generate(Config{Seed: 4, Children: 200}))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different output")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seed, same output")
	}
}

// The default data set has the scale and shape the demo promises.
func TestDefaultScaleAndShape(t *testing.T) {
	evs := Generate(Config{Seed: 1})
	perChild := map[string]int{}
	byType := map[events.Type]int{}
	siblingsShare, unborn := 0, 0
	for _, e := range evs {
		byType[e.Type]++
		kids := 0
		for _, s := range e.Subjects {
			if s.Kind == "unborn" {
				unborn++
			}
			if s.IsChild() {
				kids++
			}
		}
		if kids > 1 && (e.Type == "police.notification" || e.Type == "housing.concern") {
			siblingsShare++
		}
	}
	// Count per child through the NHS number the hub knows them by: MASH
	// decisions and social care events always carry it.
	nhsOf := map[string]string{} // LA id -> NHS number
	for _, e := range evs {
		for _, s := range e.Subjects {
			if s.Identifiers.LAPersonID != "" && s.Identifiers.NHSNumber != "" {
				nhsOf[s.Identifiers.LAPersonID] = s.Identifiers.NHSNumber
			}
		}
	}
	for _, e := range evs {
		seen := map[string]bool{}
		for _, s := range e.Subjects {
			n := s.Identifiers.NHSNumber
			if n == "" {
				n = nhsOf[s.Identifiers.LAPersonID]
			}
			if s.IsChild() && n != "" && !seen[n] {
				seen[n] = true
				perChild[n]++
			}
		}
	}
	t.Logf("%d events, %d children; by type: %v", len(evs), len(perChild), byType)
	if len(evs) < 40000 || len(evs) > 60000 {
		t.Errorf("%d events, want about 50,000", len(evs))
	}
	if len(perChild) < 1800 || len(perChild) > 2200 {
		t.Errorf("%d children, want about 2,000", len(perChild))
	}
	few := 0
	for _, n := range perChild {
		if n <= 3 {
			few++
		}
	}
	if few*2 < len(perChild) {
		t.Errorf("only %d of %d children have 3 or fewer events", few, len(perChild))
	}
	for _, typ := range []events.Type{"missing.reported", "plan.started", "strategy_discussion.held", "record.corrected", "record.retracted", "subjects.linked", "looked_after.started", "exploitation.screening"} {
		if byType[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
	if siblingsShare == 0 || unborn == 0 {
		t.Errorf("siblings sharing events: %d, unborn subjects: %d", siblingsShare, unborn)
	}
}

// An escalating child: repeat missing within 90 days, then a strategy
// discussion and a child protection plan.
func TestSomeHistoriesEscalate(t *testing.T) {
	evs := Generate(Config{Seed: 1, Children: 400})
	type hist struct {
		missing []time.Time
		sd, cp  time.Time
	}
	by := map[string]*hist{}
	get := func(id string) *hist {
		if by[id] == nil {
			by[id] = &hist{}
		}
		return by[id]
	}
	// Police know the child by police id, social care by LA id: join them
	// through the hub's decisions, which carry both.
	la := map[string]string{}
	for _, e := range evs {
		for _, s := range e.Subjects {
			if s.Identifiers.PolicePersonID != "" && s.Identifiers.LAPersonID != "" {
				la[s.Identifiers.PolicePersonID] = s.Identifiers.LAPersonID
			}
		}
	}
	for _, e := range evs {
		s := e.Subjects[0]
		switch e.Type {
		case "missing.reported":
			if id := la[s.Identifiers.PolicePersonID]; id != "" {
				get(id).missing = append(get(id).missing, e.OccurredAt)
			}
		case "strategy_discussion.held":
			get(s.Identifiers.LAPersonID).sd = e.OccurredAt
		case "plan.started":
			if e.Body.(*events.PlanStarted).Kind == "child_protection" {
				get(s.Identifiers.LAPersonID).cp = e.OccurredAt
			}
		}
	}
	for _, h := range by {
		for i := 0; i+2 < len(h.missing); i++ {
			if h.missing[i+2].Sub(h.missing[i]) <= 90*24*time.Hour && !h.sd.IsZero() && h.sd.After(h.missing[i+2]) && h.cp.After(h.sd) {
				return
			}
		}
	}
	t.Fatal("no child has 3 missing episodes in 90 days followed by a strategy discussion and a plan")
}

func BenchmarkGenerate(b *testing.B) {
	n := 0
	for b.Loop() {
		n += len(Generate(Config{Seed: 1}))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
