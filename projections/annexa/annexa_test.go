package annexa

import (
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		name, from, to, wantField string
	}{
		{"a year", "2023-04-01", "2024-03-31", ""},
		{"one day", "2024-03-31", "2024-03-31", ""},
		{"from missing", "", "2024-03-31", "from"},
		{"to in UK order", "2023-04-01", "31/03/2024", "to"},
		{"backwards", "2024-04-01", "2024-03-31", "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePeriod(tt.from, tt.to)
			probs := events.Problems(err)
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantField != "" && (len(probs) == 0 || probs[0].Field != tt.wantField):
				t.Fatalf("want a problem at %s, got %v", tt.wantField, err)
			case tt.wantField == "" && p.To.In(london).Hour() != 23:
				t.Fatalf("to %s does not cover its whole day", p.To)
			}
		})
	}
}

func entry(typ events.Type, at time.Time, body events.Payload) projections.Entry {
	return projections.Entry{EventID: string(typ) + at.String(), Type: typ, OccurredAt: at, Agency: "social_care"}.WithBody(body)
}

// A referral on the period's last day is in it and one the day after is
// not; a plan that ended the day before the period is not, one that ended
// on its first day is.
func TestPeriodBoundaries(t *testing.T) {
	p, err := ParsePeriod("2023-04-01", "2024-03-31")
	if err != nil {
		t.Fatal(err)
	}
	d := func(s string) time.Time { t, _ := time.ParseInLocation(time.DateOnly, s, london); return t }
	child := Child{ID: "C1", Entries: []projections.Entry{
		entry("plan.started", d("2022-01-10"), &events.PlanStarted{Kind: "child_protection", Category: "NEG"}),
		entry("plan.ended", d("2023-03-31"), &events.PlanEnded{Kind: "child_protection"}),
		entry("plan.started", d("2023-03-01"), &events.PlanStarted{Kind: "child_protection", Category: "PHY"}),
		entry("plan.ended", d("2023-04-01"), &events.PlanEnded{Kind: "child_protection"}),
		entry("referral.received", d("2024-03-31"), &events.ReferralReceived{Source: "6"}),
		entry("referral.received", d("2024-04-01"), &events.ReferralReceived{Source: "2A"}),
		entry("missing.reported", d("2023-05-01"), &events.MissingReported{EpisodeRef: "m1", Category: "absent", LookedAfterCode: "A"}),
	}}
	// Two plans in time order: the first pairs with the first end.
	lists := Build([]Child{child}, p)
	if got := len(lists[2].Rows); got != 1 || lists[2].Rows[0][5] != "31/03/2024" {
		t.Errorf("referrals %q", lists[2].Rows)
	}
	if got := lists[6].Rows; len(got) != 1 || got[0][6] != "01/03/2023" {
		t.Errorf("child protection %q", got)
	}
}

// Types names every type the lists read, so that a caller who passes only
// those entries loses no row.
func TestTypesCoverWhatTheListsRead(t *testing.T) {
	src, err := os.ReadFile("annexa.go")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`byType\["([a-z_.0-9]+)"\]|e\.Type != "([a-z_.0-9]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(read) < 10 {
		t.Fatalf("found only %d reads of a type in annexa.go", len(read))
	}
	for _, m := range read {
		typ := events.Type(m[1] + m[2])
		if !slices.Contains(Types, typ) {
			t.Errorf("the lists read %s, which Types leaves out", typ)
		}
		if _, ok := events.Lookup(typ); !ok {
			t.Errorf("%s is not in the catalogue", typ)
		}
	}
}
