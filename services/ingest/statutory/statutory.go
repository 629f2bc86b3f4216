// Package statutory holds what the statutory return formats (the Children
// in Need census, SSDA903) share when they become events: where a date
// without a time is placed, and how a fact's event is keyed so that the
// same fact in any year's return is the same event. Standard library only.
package statutory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
	_ "time/tzdata" // returns' dates are London days on any machine

	"github.com/chronicle-hub/chronicle/events"
)

// London is where the returns' dates are placed. The embedded zone
// database means loading it cannot fail.
var London, _ = time.LoadLocation("Europe/London")

// StartOfDay places a date (only its year, month and day are read) at the
// start of that day in zone, or in London when zone is nil. A statutory
// return records dates, not times: the start of the day is the earliest the
// thing can have happened, so a deadline counted from it is never later
// than the real one, and a deadline met on its last day is met.
func StartOfDay(t time.Time, zone *time.Location) time.Time {
	if zone == nil {
		zone = London
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, zone)
}

// Day renders a date as YYYY-MM-DD.
func Day(t time.Time) string { return t.Format(time.DateOnly) }

// NewEvent builds one social care event of a return. Its id is derived from
// system and ref (see events.DeriveID), and recorded_at is occurred_at: a
// return does not say when each fact was recorded, and a time that does
// not depend on the return keeps the id the same in every year's return
// that repeats the fact.
func NewEvent(t events.Type, at time.Time, system, ref string, subject events.Subject, summary string, body events.Payload) *events.Event {
	spec, _ := events.Lookup(t)
	e := &events.Event{
		Type: t, SchemaVersion: spec.Version, Agency: "social_care", SourceSystem: system, SourceRef: RefText(ref),
		Subjects: []events.Subject{subject}, OccurredAt: at, RecordedAt: at,
		Sensitivity: "standard", Reliability: "direct", Summary: summary, Body: body, Payload: JSON(body),
	}
	e.ID = events.DeriveID(e)
	return e
}

// RefText keeps a derived reference within the catalogue's limit; a longer
// one (a very long child id) is shortened with a hash of the whole, which
// stays unique and deterministic.
func RefText(s string) string {
	if len(s) <= events.MaxShortText {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:events.MaxShortText-17] + "#" + hex.EncodeToString(sum[:8])
}

// ContentRef is a short hash of v's JSON: the key of facts that have no key
// of their own in a return (a child's details), so that the same details
// are one event and changed details a new one.
func ContentRef(v any) string {
	sum := sha256.Sum256(JSON(v))
	return hex.EncodeToString(sum[:6])
}

// JSON encodes a payload. Payload structs hold strings, dates, numbers and
// slices, which always encode.
func JSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// ValidChildID reports whether id can key a child's events: present, at
// most events.MaxShortText characters, without / or line breaks (it is part
// of source_ref paths).
func ValidChildID(id string) bool {
	if id == "" || len(id) > events.MaxShortText {
		return false
	}
	for _, c := range id {
		if c == '/' || c == '\r' || c == '\n' {
			return false
		}
	}
	return true
}
