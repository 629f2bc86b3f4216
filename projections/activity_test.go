package projections

import (
	"fmt"
	"sort"
	"testing"
)

// The activity counters kept as events arrive say what counting every
// entry shown says: per London date, agency and type, corrections that
// move an entry's date and retractions that hide it included.
func TestActivityCountersEqualACount(t *testing.T) {
	m := NewModel()
	mustApply(t, m, demoLog(t, 200)...)
	if m.corrections == 0 || m.retractions == 0 {
		t.Fatal("the demo log should hold corrections and retractions")
	}
	var kept []string
	m.Activity(func(day int32, agency, typ string, n int) {
		kept = append(kept, fmt.Sprintf("%d %s %s %d", day, agency, typ, n))
	})
	counted := map[string]int{}
	entries, _ := m.Entries(nil)
	for _, e := range entries {
		counted[fmt.Sprintf("%d %s %s", DayOf(e.OccurredAt), e.Agency, e.Type)]++
	}
	var want []string
	for k, n := range counted {
		want = append(want, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kept)
	sort.Strings(want)
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Fatalf("%d counters kept, %d counted", len(kept), len(want))
	}
}
