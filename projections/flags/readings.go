package flags

import (
	"time"
)

// How the rules read the guidance's timescales. There are three kinds, and
// each rule's rationale says which it uses and why:
//
//   - Statutory deadlines in working days or months are dates. "Within 15
//     working days of the strategy discussion" is met by a conference held
//     at any hour of the 15th working day; the deadline is missed, and the
//     flag raised, from 00:00 in England on the next working day (the
//     first moment anyone at work could act on it). Working Together to
//     Safeguard Children 2023 states these timescales in days, not hours.
//     A hub may read a rule's deadline as a clock instead (the same time
//     of day n working days later) with "deadline": "clock".
//   - Windows ("3 missing episodes within 90 days") count calendar dates in
//     England, inclusive: an episode on 18 May is within 90 days of one on
//     17 February 2025 (18 May is 17 February plus 90 days) whatever the
//     hours, and a flag resting on it holds to the end of the 90th day
//     after the last of them. A practitioner counts days on a calendar, not
//     in 24-hour blocks, and GMT and BST days are the same days.
//   - Durations the statute gives in hours are clock durations: the return
//     home interview within 72 hours of return (statutory guidance on
//     children who run away or go missing from home or care, 2014) falls
//     due 72 hours later to the minute, weekends, bank holidays and clock
//     changes included.

// window is "within n days" or "within n months" as calendar dates in
// England, inclusive of the last.
type window struct{ days, months int }

func daysWindow(n int) window   { return window{days: n} }
func monthsWindow(n int) window { return window{months: n} }

// last is the last date (a date label) within the window opened at a.
func (w window) last(a time.Time) time.Time {
	return addMonths(dateOf(a), w.months).AddDate(0, 0, w.days)
}

// closes is the first instant no longer within the window opened at a:
// 00:00 in England the day after its last date.
func (w window) closes(a time.Time) time.Time { return startOf(w.last(a).AddDate(0, 0, 1)) }

// within reports whether b (not before a) falls within the window opened
// at a.
func (w window) within(a, b time.Time) bool { return b.Before(w.closes(a)) }

func (w window) String() string {
	if w.months > 0 {
		return plural(w.months, "month", "months")
	}
	return plural(w.days, "day", "days")
}

// Deadline readings, per rule in the rules config ("deadline").
const (
	// DeadlineDate reads "within n working days" (or months) as a date: met
	// at any hour of the last day, missed from 00:00 on the next working day.
	DeadlineDate = "date"
	// DeadlineClock reads it as a clock: missed at the trigger's time of day
	// on the last day.
	DeadlineClock = "clock"
)

// due is a deadline: its last permitted date, for the reason, and the first
// instant it is missed, when the flag is raised.
type due struct {
	date   time.Time // a date label
	missed time.Time
}

// workingDaysDue is the deadline n working days after t, read as reading
// says.
func (e *evaluation) workingDaysDue(t time.Time, n int, reading string) due {
	if reading == DeadlineClock {
		at := e.cal.AddWorkingDays(t, n)
		return due{date: dateOf(at), missed: at}
	}
	d := e.cal.WorkingDate(t, n)
	return due{date: d, missed: e.cal.NextWorkingStart(d)}
}

// monthsDue is the deadline n calendar months after t, read as reading
// says.
func (e *evaluation) monthsDue(t time.Time, n int, reading string) due {
	d := addMonths(dateOf(t), n)
	if reading == DeadlineClock {
		l := t.In(london)
		return due{date: d, missed: time.Date(d.Year(), d.Month(), d.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), london)}
	}
	return due{date: d, missed: e.cal.NextWorkingStart(d)}
}
