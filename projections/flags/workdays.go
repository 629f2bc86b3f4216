package flags

import (
	"slices"
	"time"
	_ "time/tzdata" // Europe/London must resolve on a machine without a zoneinfo database
)

// Statutory timescales in safeguarding count working days: Monday to Friday
// excluding bank holidays in England and Wales. The calendar below computes
// the regular holidays by rule and lists the one-off changes announced by
// proclamation; it is tested against the published dates.
//
// A working day is a date in England, not in UTC: a strategy discussion at
// 00:30 BST on a Monday was held on the Monday, although it was still Sunday
// in UTC. So the calendar reads every time in Europe/London.

// london is the zone whose dates the calendar counts in. Embedding tzdata
// means loading it cannot fail.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic("flags: Europe/London: " + err.Error())
	}
	return loc
}()

// bankHolidayChanges are the proclaimed exceptions: days added, and regular
// days moved (the regular date removed, the new one added).
var bankHolidayChanges = map[int]struct{ add, remove []string }{
	2020: {add: []string{"2020-05-08"}, remove: []string{"2020-05-04"}},                             // VE Day 75: early May bank holiday moved to Friday
	2022: {add: []string{"2022-06-02", "2022-06-03", "2022-09-19"}, remove: []string{"2022-05-30"}}, // Platinum Jubilee; State Funeral of Queen Elizabeth II
	2023: {add: []string{"2023-05-08"}},                                                             // Coronation of King Charles III
}

// FirstCalendarYear and LastCalendarYear bound the years the calendar is
// known to be right for; outside them the regular rules still apply, but
// one-off changes may be missing.
const (
	FirstCalendarYear = 2015
	LastCalendarYear  = 2030
)

// BankHolidays returns the bank holidays in England and Wales in year, in
// date order, as midnight UTC.
func BankHolidays(year int) []time.Time {
	d := func(m time.Month, day int) time.Time { return time.Date(year, m, day, 0, 0, 0, 0, time.UTC) }
	easter := easterSunday(year)
	days := []time.Time{
		substitute(d(time.January, 1), nil),
		easter.AddDate(0, 0, -2), // Good Friday
		easter.AddDate(0, 0, 1),  // Easter Monday
		firstMonday(year, time.May),
		lastMonday(year, time.May),
		lastMonday(year, time.August),
	}
	christmas := substitute(d(time.December, 25), nil)
	boxing := substitute(d(time.December, 26), &christmas)
	days = append(days, christmas, boxing)
	if ch, ok := bankHolidayChanges[year]; ok {
		for _, r := range ch.remove {
			t, _ := time.Parse(time.DateOnly, r)
			for i := range days {
				if days[i].Equal(t) {
					days = append(days[:i], days[i+1:]...)
					break
				}
			}
		}
		for _, a := range ch.add {
			t, _ := time.Parse(time.DateOnly, a)
			days = append(days, t)
		}
	}
	sortTimes(days)
	return days
}

// substitute moves a holiday falling at a weekend to the next weekday that is
// not taken (Boxing Day after a weekend Christmas goes to the Tuesday).
func substitute(t time.Time, taken *time.Time) time.Time {
	for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday || (taken != nil && t.Equal(*taken)) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

func firstMonday(year int, m time.Month) time.Time {
	t := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
	for t.Weekday() != time.Monday {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

func lastMonday(year int, m time.Month) time.Time {
	t := time.Date(year, m+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	for t.Weekday() != time.Monday {
		t = t.AddDate(0, 0, -1)
	}
	return t
}

// easterSunday is the Gregorian computus (Anonymous, or Meeus/Jones/Butcher).
func easterSunday(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

func sortTimes(ts []time.Time) { slices.SortFunc(ts, time.Time.Compare) }

// Calendar answers working-day questions. It caches holidays per year; the
// zero value is ready to use but is not safe for concurrent use, so each
// evaluation makes its own.
type Calendar struct {
	years map[int]map[time.Time]bool
}

// IsWorkingDay reports whether the date of t in England (Europe/London) is
// a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	y, m, d := t.In(london).Date()
	return c.isWorkingDate(y, m, d)
}

// isWorkingDate reports whether a calendar date (normalised, so d may run
// past the end of the month) is a working day.
func (c *Calendar) isWorkingDate(y int, m time.Month, d int) bool {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // a date label, as BankHolidays returns them
	if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		return false
	}
	if c.years == nil {
		c.years = map[int]map[time.Time]bool{}
	}
	hs, ok := c.years[day.Year()]
	if !ok {
		hs = map[time.Time]bool{}
		for _, h := range BankHolidays(day.Year()) {
			hs[h] = true
		}
		c.years[day.Year()] = hs
	}
	return !hs[day]
}

// AddWorkingDays returns the time n working days after t, at the same time
// of day in England (so the same wall-clock time either side of a change
// between GMT and BST): the clock reading of "within n working days", which
// a rules config may choose (deadline "clock"); the default reads the
// deadline as a date (see WorkingDate). Day zero is the English date of t
// itself, whether or not it is a working day. The result is in t's location.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	if n <= 0 {
		return t
	}
	d := c.WorkingDate(t, n)
	l := t.In(london)
	// Clocks change on Sundays, so a working day's wall-clock time always
	// exists and is never ambiguous.
	return time.Date(d.Year(), d.Month(), d.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), london).In(t.Location())
}

// WorkingDate returns the date of the nth working day after t's date in
// England, as a date label (midnight UTC): the last permitted day of
// "within n working days of t". Day zero is t's own date, whether or not it
// is a working day, so n = 0 gives t's date.
func (c *Calendar) WorkingDate(t time.Time, n int) time.Time {
	d := dateOf(t)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.isWorkingDate(d.Year(), d.Month(), d.Day()) {
			n--
		}
	}
	return d
}

// NextWorkingStart returns 00:00 in England on the first working day after
// the date labelled d: when a deadline that fell on d is first missed, read
// as a practitioner's working day. A flag raised then is waiting for the
// first person at work, not for the weekend.
func (c *Calendar) NextWorkingStart(d time.Time) time.Time {
	for {
		d = d.AddDate(0, 0, 1)
		if c.isWorkingDate(d.Year(), d.Month(), d.Day()) {
			return startOf(d)
		}
	}
}

// dateOf returns t's calendar date in England as a date label (midnight
// UTC), the form BankHolidays and date arithmetic use.
func dateOf(t time.Time) time.Time {
	y, m, d := t.In(london).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// startOf returns 00:00 in England on the date labelled d. The clocks
// change at 01:00, so midnight always exists, once.
func startOf(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, london)
}

// addMonths adds calendar months to a date label the way a practitioner
// counts them: the same day of the month, or the month's last day when it
// is shorter (29 November plus 3 months is 28 February, not 1 March).
func addMonths(d time.Time, n int) time.Time {
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d.Day(), last), 0, 0, 0, 0, time.UTC)
}
