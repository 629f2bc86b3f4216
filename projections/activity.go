package projections

import (
	"time"
)

// Activity counters: how many entries (not retracted) occurred on each
// Europe/London date, per agency and event type, kept as events arrive so
// that statistics cost the number of counters, not the number of events. A
// correction that moves an entry's date moves its count; a retraction
// removes it.

// london is the zone statistics count dates in, as the rules count working
// days; tzdata is embedded by the binary.
var london = mustLondon()

func mustLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC // without tzdata: counts by UTC date, still consistent
	}
	return loc
}

// activityKey is one counter: a London date (days since 1970-01-01) and the
// agency and type as indexes in the model's strings.
type activityKey struct {
	day         int32
	agency, typ uint32
}

// DayOf is the London date of t as days since 1970-01-01.
func DayOf(t time.Time) int32 {
	y, m, d := t.In(london).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DateOfDay is the London date a DayOf value names, at midnight UTC (for
// its year, month and day).
func DateOfDay(day int32) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// count adds n to the counter of the entry e shows.
func (m *Model) count(e Entry, rec *Record, n int32) {
	if e.Retracted {
		return
	}
	m.countDay(DayOf(e.OccurredAt), rec, n)
}

func (m *Model) countDay(day int32, rec *Record, n int32) {
	k := activityKey{day: day, agency: rec.agency, typ: rec.typ}
	m.activity[k] += n
	if m.activity[k] == 0 {
		delete(m.activity, k)
	}
}

// recount counts rec as it stands now, without building its entry (which
// decodes the payload) unless it has been amended.
func (m *Model) recount(rec *Record) {
	if rec.amends == nil {
		m.countDay(DayOf(fromNanos(rec.occurred)), rec, 1)
		return
	}
	e, _ := rec.At(nil)
	m.count(e, rec, 1)
}

// Activity calls fn with every non-zero counter: a London date (as
// DayOf), an agency, an event type and how many entries not retracted
// occurred then, as the model stands now.
func (m *Model) Activity(fn func(day int32, agency, typ string, n int)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k, n := range m.activity {
		fn(k.day, m.tab.str(k.agency), m.tab.str(k.typ), int(n))
	}
}
