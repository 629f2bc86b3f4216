package flags

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// about puts a scenario's events on the child with the given NHS number.
func about(nhs string, evs ...ev) []ev {
	s := events.Subject{Identifiers: events.Identifiers{NHSNumber: nhs}}
	for i := range evs {
		evs[i].subject = &s
	}
	return evs
}

// missingFrom is three missing episodes a day apart from day d: a high
// REPEAT_MISSING flag raised when the third is received, d+2 days and an hour.
func missingFrom(nhs string, d int) []ev {
	return about(nhs, missing(days(d), "a"), missing(days(d+1), "b"), missing(days(d+2), "c"))
}

// lookedAfterFrom is a child looked after from day d: a medium LOOKED_AFTER
// flag raised when it is received, an hour later.
func lookedAfterFrom(nhs string, d int) []ev {
	return about(nhs, ev{typ: "looked_after.started", agency: "social_care", occurred: days(d), body: &events.LookedAfterStarted{LegalStatus: "C2"}})
}

// nhsOf returns the NHS number of each worklist child, in order.
func nhsOf(list []ChildFlags) []string {
	var out []string
	for _, c := range list {
		for _, k := range c.Child.Identifiers {
			if k.Scheme == events.SchemeNHSNumber {
				out = append(out, k.Value)
			}
		}
	}
	return out
}

// The worklist puts the children with the most severe active flag first,
// then those whose latest active flag was raised most recently; a child
// whose flags have all cleared is not on it.
func TestWorklistOrder(t *testing.T) {
	const (
		a, b, c, d = "9990000026", "9990000034", "9990000042", "9990000050"
		e, f       = "9990000069", "9990000077"
	)
	at := days(40)
	tests := []struct {
		name string
		evs  [][]ev
		want []string // NHS numbers, in worklist order
	}{
		{"severity before recency",
			[][]ev{lookedAfterFrom(a, 10), missingFrom(b, 0)},
			[]string{b, a}},
		{"most recent first within a severity",
			[][]ev{missingFrom(a, 0), lookedAfterFrom(b, 3), missingFrom(c, 5), lookedAfterFrom(d, 10)},
			[]string{c, a, d, b}},
		{"the order events arrive in does not matter",
			[][]ev{lookedAfterFrom(d, 10), missingFrom(c, 5), lookedAfterFrom(b, 3), missingFrom(a, 0)},
			[]string{c, a, d, b}},
		{"children with nothing active are left out",
			[][]ev{
				about(a, returned(days(0), "r"), rhi(days(4), "r")), // raised at 72 hours, cleared by the interview
				about(b, concern("health", "health.concern", days(1), &events.HealthConcern{Concern: "x"})),
				lookedAfterFrom(c, 3),
			},
			[]string{c}},
		{"a recent lower flag makes a child recent",
			// e's high flag (day 2) is older than f's (day 7), but e was
			// also taken into care on day 20: its latest active flag counts.
			[][]ev{missingFrom(f, 5), append(missingFrom(e, 0), lookedAfterFrom(e, 20)...)},
			[]string{e, f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := buildModel(t, slices.Concat(tt.evs...))
			list, _ := Sweep(m, nil, at, DefaultConfig())
			if got := nhsOf(list); !slices.Equal(got, tt.want) {
				t.Fatalf("worklist %v, want %v", got, tt.want)
			}
		})
	}

	// With the same severity and raise time, the child id decides, so the
	// order is the same on every replica.
	m := buildModel(t, slices.Concat(lookedAfterFrom(a, 3), lookedAfterFrom(b, 3), lookedAfterFrom(c, 3)))
	list, _ := Sweep(m, nil, at, DefaultConfig())
	if len(list) != 3 || !slices.IsSortedFunc(list, func(x, y ChildFlags) int { return strings.Compare(x.Child.ID, y.Child.ID) }) {
		t.Fatalf("ties not in child id order: %v", list)
	}
	if !list[0].Latest().Equal(days(3).Add(time.Hour)) {
		t.Fatalf("latest %v, want the receipt of the looked after record", list[0].Latest())
	}
}
