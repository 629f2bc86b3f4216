package flags

import (
	"slices"
	"testing"
	"time"
)

// Published by GOV.UK (https://www.gov.uk/bank-holidays) for England and Wales.
var publishedBankHolidays = map[int][]string{
	2015: {"2015-01-01", "2015-04-03", "2015-04-06", "2015-05-04", "2015-05-25", "2015-08-31", "2015-12-25", "2015-12-28"},
	2016: {"2016-01-01", "2016-03-25", "2016-03-28", "2016-05-02", "2016-05-30", "2016-08-29", "2016-12-26", "2016-12-27"},
	2017: {"2017-01-02", "2017-04-14", "2017-04-17", "2017-05-01", "2017-05-29", "2017-08-28", "2017-12-25", "2017-12-26"},
	2018: {"2018-01-01", "2018-03-30", "2018-04-02", "2018-05-07", "2018-05-28", "2018-08-27", "2018-12-25", "2018-12-26"},
	2019: {"2019-01-01", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-08-26", "2019-12-25", "2019-12-26"},
	2020: {"2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31", "2020-12-25", "2020-12-28"},
	2021: {"2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30", "2021-12-27", "2021-12-28"},
	2022: {"2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"},
	2023: {"2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-28", "2023-12-25", "2023-12-26"},
	2024: {"2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26", "2024-12-25", "2024-12-26"},
	2025: {"2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26"},
	2026: {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"},
	2027: {"2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"},
}

// Not yet published: worked out by hand from the regular rules (Easter
// Sunday 16 April 2028, 1 April 2029, 21 April 2030; early May the first
// Monday, spring the last Monday of May, summer the last Monday of August;
// New Year's Day, Christmas and Boxing Day moved to the next free weekday
// from a weekend), so that the calendar is checked against something other
// than itself. A proclamation changing any of these belongs in
// bankHolidayChanges, and here.
var expectedBankHolidays = map[int][]string{
	2028: {"2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26"}, // 1 January a Saturday
	2029: {"2029-01-01", "2029-03-30", "2029-04-02", "2029-05-07", "2029-05-28", "2029-08-27", "2029-12-25", "2029-12-26"},
	2030: {"2030-01-01", "2030-04-19", "2030-04-22", "2030-05-06", "2030-05-27", "2030-08-26", "2030-12-25", "2030-12-26"},
}

// Every year the calendar vouches for is checked date for date.
func TestBankHolidaysMatchPublishedDates(t *testing.T) {
	for y := FirstCalendarYear; y <= LastCalendarYear; y++ {
		want, ok := publishedBankHolidays[y]
		if !ok {
			want, ok = expectedBankHolidays[y]
		}
		if !ok {
			t.Errorf("%d: no dates to check the calendar against", y)
			continue
		}
		if got := dates(BankHolidays(y)); !slices.Equal(got, want) {
			t.Errorf("%d: got %v, want %v", y, got, want)
		}
	}
}

func dates(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.DateOnly)
	}
	return out
}

func TestAddWorkingDays(t *testing.T) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{"Monday plus 1", "2024-03-04T10:00:00Z", 1, "2024-03-05T10:00:00Z"},
		{"Friday plus 1 skips the weekend", "2024-03-08T10:00:00Z", 1, "2024-03-11T10:00:00Z"},
		// BST starts on Easter Sunday: 09:00 in England is 08:00 UTC after it.
		{"across Easter 2024 (Good Friday 29 March, Easter Monday 1 April)", "2024-03-28T09:00:00Z", 1, "2024-04-02T08:00:00Z"},
		{"15 working days from a strategy discussion before the early May holiday", "2024-04-22T14:00:00Z", 15, "2024-05-14T14:00:00Z"},
		{"45 working days across Christmas 2024", "2024-11-01T09:00:00Z", 45, "2025-01-08T09:00:00Z"},
		{"from a Saturday", "2024-03-09T12:00:00Z", 1, "2024-03-11T12:00:00Z"},
		{"coronation Monday 2023", "2023-05-05T09:00:00Z", 1, "2023-05-09T09:00:00Z"},
		{"zero", "2024-03-09T12:00:00Z", 0, "2024-03-09T12:00:00Z"},

		// Working days are English dates. 00:30 BST is 23:30 UTC the day before.
		{"00:30 BST Monday is a Monday", "2024-06-02T23:30:00Z", 5, "2024-06-09T23:30:00Z"},            // Monday 3 June to Monday 10 June, 00:30 BST
		{"00:30 BST Saturday is a Saturday", "2024-06-07T23:30:00Z", 1, "2024-06-09T23:30:00Z"},        // to Monday 10 June, not Tuesday
		{"23:30 BST Friday is still Friday", "2024-06-07T22:30:00Z", 1, "2024-06-10T22:30:00Z"},        // to Monday 23:30 BST
		{"00:30 BST on the early May bank holiday", "2024-05-05T23:30:00Z", 1, "2024-05-06T23:30:00Z"}, // Monday 6 May is a holiday: day one is Tuesday
		{"same time in England as BST ends", "2024-10-24T23:30:00Z", 1, "2024-10-28T00:30:00Z"},        // Friday 25 October 00:30 BST to Monday 28 October 00:30 GMT
	}
	var c Calendar
	for _, tt := range tests {
		if got := c.AddWorkingDays(at(tt.from), tt.n); !got.Equal(at(tt.want)) {
			t.Errorf("%s: got %s, want %s", tt.name, got.Format(time.RFC3339), tt.want)
		}
	}
}

// The date that counts is the date in England, either side of midnight BST.
func TestIsWorkingDayAtBSTMidnight(t *testing.T) {
	tests := []struct {
		name string
		at   string
		want bool
	}{
		{"Sunday 23:59 BST", "2024-06-02T23:59:00+01:00", false},
		{"Monday 00:00 BST, still Sunday in UTC", "2024-06-03T00:00:00+01:00", true},
		{"Monday 00:30 BST, still Sunday in UTC", "2024-06-02T23:30:00Z", true},
		{"Saturday 00:30 BST, still Friday in UTC", "2024-06-07T23:30:00Z", false},
		{"Friday 23:59 BST", "2024-06-07T22:59:00Z", true},
		{"Tuesday 00:30 BST after the spring bank holiday, Monday in UTC", "2024-05-27T23:30:00Z", true},
		{"spring bank holiday 00:30 BST, Sunday in UTC", "2024-05-26T23:30:00Z", false},
		{"Monday 00:30 GMT in winter", "2024-12-02T00:30:00Z", true},
	}
	var c Calendar
	for _, tt := range tests {
		at, err := time.Parse(time.RFC3339, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.IsWorkingDay(at); got != tt.want {
			t.Errorf("%s (%s): got %v, want %v", tt.name, tt.at, got, tt.want)
		}
	}
}

// How late a missed deadline is, as a worklist says it: working days for
// deadlines in working days (bank holidays and weekends not counted; the
// first working day after the last permitted one is the first day late),
// the clock for the return home interview's hours.
func TestOverdueBy(t *testing.T) {
	// Thursday 28 March 2024 was the last permitted day; Good Friday and
	// Easter Monday follow, so it is missed from 00:00 on Tuesday 2 April.
	missed := time.Date(2024, 4, 1, 23, 0, 0, 0, time.UTC) // Tuesday 2 April, 00:00 BST
	rhi := time.Date(2024, 3, 8, 16, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		d    Deadline
		at   time.Time
		want string
	}{
		{"not yet missed", Deadline{Missed: missed}, missed.Add(-time.Minute), ""},
		{"the first working day", Deadline{Missed: missed}, missed.Add(9 * time.Hour), "1 working day"},
		{"Thursday", Deadline{Missed: missed}, missed.AddDate(0, 0, 2).Add(10 * time.Hour), "3 working days"},
		{"the weekend adds nothing", Deadline{Missed: missed}, missed.AddDate(0, 0, 5).Add(10 * time.Hour), "4 working days"},
		{"the next Monday", Deadline{Missed: missed}, missed.AddDate(0, 0, 6).Add(10 * time.Hour), "5 working days"},
		{"in hours: minutes", Deadline{Missed: rhi, InHours: true}, rhi.Add(20 * time.Minute), "less than an hour"},
		{"in hours: hours", Deadline{Missed: rhi, InHours: true}, rhi.Add(5*time.Hour + 59*time.Minute), "5 hours"},
		{"in hours: over a weekend", Deadline{Missed: rhi, InHours: true}, rhi.Add(50 * time.Hour), "2 days"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.OverdueBy(tt.at); got != tt.want {
				t.Errorf("OverdueBy(%v) = %q, want %q", tt.at, got, tt.want)
			}
		})
	}
}
