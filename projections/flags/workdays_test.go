package flags

import (
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

func TestBankHolidaysMatchPublishedDates(t *testing.T) {
	for year, want := range publishedBankHolidays {
		got := BankHolidays(year)
		if len(got) != len(want) {
			t.Errorf("%d: got %v, want %v", year, dates(got), want)
			continue
		}
		for i := range want {
			if got[i].Format(time.DateOnly) != want[i] {
				t.Errorf("%d: got %v, want %v", year, dates(got), want)
				break
			}
		}
	}
	// Every year the calendar covers has the regular eight, plus changes.
	for y := FirstCalendarYear; y <= LastCalendarYear; y++ {
		if n := len(BankHolidays(y)); n < 8 {
			t.Errorf("%d has %d bank holidays", y, n)
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
		{"across Easter 2024 (Good Friday 29 March, Easter Monday 1 April)", "2024-03-28T09:00:00Z", 1, "2024-04-02T09:00:00Z"},
		{"15 working days from a strategy discussion before the early May holiday", "2024-04-22T14:00:00Z", 15, "2024-05-14T14:00:00Z"},
		{"45 working days across Christmas 2024", "2024-11-01T09:00:00Z", 45, "2025-01-08T09:00:00Z"},
		{"from a Saturday", "2024-03-09T12:00:00Z", 1, "2024-03-11T12:00:00Z"},
		{"coronation Monday 2023", "2023-05-05T09:00:00Z", 1, "2023-05-09T09:00:00Z"},
		{"zero", "2024-03-09T12:00:00Z", 0, "2024-03-09T12:00:00Z"},
	}
	var c Calendar
	for _, tt := range tests {
		if got := c.AddWorkingDays(at(tt.from), tt.n); !got.Equal(at(tt.want)) {
			t.Errorf("%s: got %s, want %s", tt.name, got.Format(time.RFC3339), tt.want)
		}
	}
}
