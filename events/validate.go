package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what an event may carry. They keep a chronology readable and a
// hostile or broken sender from filling the log.
const (
	// ClockSkew is how far ahead of the hub's clock occurred_at and
	// recorded_at may be; agency systems' clocks drift.
	ClockSkew = 5 * time.Minute
	// MaxSummary caps the one-line chronology summary, in characters.
	MaxSummary = 300
	// MaxShortText caps names, references and short labels.
	MaxShortText = 200
	// MaxLongText caps free-text narrative fields.
	MaxLongText = 4000
	// MaxSubjects caps the people on one event (a large sibling group plus
	// adults fits comfortably).
	MaxSubjects = 20
)

// earliest is the oldest occurred_at or recorded_at accepted: older dates
// are typing errors (or a system's zero value).
var earliest = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// adultRoles are how an adult subject is connected to the child.
var adultRoles = codes("adult role", "Chronicle",
	"parent", "Parent", "carer", "Carer or guardian", "household_member", "Other member of the household",
	"alleged_perpetrator", "Alleged perpetrator", "other", "Other",
)

// Validate checks an event against every rule in the catalogue and returns
// all the problems found, each as a *FieldError with its field path, joined
// with errors.Join. It returns nil for a valid event. now is the reference
// for the future-time rules.
func Validate(e *Event, now time.Time) error {
	var p ProblemSet
	switch {
	case e.ID == "":
		p.Add("id", "is required")
	default:
		if err := checkUUIDv7(e.ID); err != nil {
			p.Add("id", "%s", err.Error())
		}
	}

	spec, known := Lookup(e.Type)
	switch {
	case e.Type == "":
		p.Add("type", "is required (see docs/events.md for the catalogue)")
	case !known:
		p.Add("type", "%s is not a known event type (see docs/events.md for the catalogue)", quote(string(e.Type)))
	case e.SchemaVersion < 0:
		p.Add("schema_version", "must not be negative")
	case e.SchemaVersion > spec.Version:
		p.Add("schema_version", "%d is newer than this hub knows for %s (latest %d)", e.SchemaVersion, e.Type, spec.Version)
	}

	Agencies.check(&p, "agency", e.Agency, true)
	if known && Agencies.Has(e.Agency) && !spec.Allows(e.Agency) {
		p.Add("agency", "%s may not publish %s (only %s)", quote(e.Agency), e.Type, strings.Join(spec.Agencies, ", "))
	}
	checkText(&p, "source_system", e.SourceSystem, MaxShortText, false, true)
	checkText(&p, "source_ref", e.SourceRef, MaxShortText, false, true)

	validateSubjects(&p, e.Subjects, now)
	validateTimes(&p, e, now)

	Sensitivities.check(&p, "sensitivity", e.Sensitivity, true)
	Reliabilities.check(&p, "reliability", e.Reliability, true)
	checkText(&p, "summary", e.Summary, MaxSummary, true, true)

	if known {
		switch {
		case e.Body != nil:
			p.Nest("payload", e.Body.Validate())
		case len(e.Payload) == 0:
			p.Add("payload", "is required for %s", e.Type)
		}
	}
	return p.Err()
}

func validateTimes(p *ProblemSet, e *Event, now time.Time) {
	limit := now.Add(ClockSkew)
	for _, t := range []struct {
		field string
		at    time.Time
	}{{"occurred_at", e.OccurredAt}, {"recorded_at", e.RecordedAt}} {
		switch {
		case t.at.IsZero():
			p.Add(t.field, "is required (RFC 3339, for example 2024-03-02T14:05:00Z)")
		case t.at.Before(earliest):
			p.Add(t.field, "%s is before 1900", t.at.Format(time.RFC3339))
		case t.at.After(limit):
			p.Add(t.field, "%s is in the future", t.at.Format(time.RFC3339))
		}
	}
	if !e.OccurredAt.IsZero() && !e.RecordedAt.IsZero() && e.OccurredAt.After(e.RecordedAt) {
		p.Add("occurred_at", "%s is after recorded_at (%s): an agency cannot record something before it happened",
			e.OccurredAt.Format(time.RFC3339), e.RecordedAt.Format(time.RFC3339))
	}
}

func validateSubjects(p *ProblemSet, subjects []Subject, now time.Time) {
	if len(subjects) > MaxSubjects {
		p.Add("subjects", "has %d people; the limit is %d", len(subjects), MaxSubjects)
	}
	children := 0
	for i, s := range subjects {
		field := fmt.Sprintf("subjects[%d]", i)
		SubjectKinds.check(p, field+".kind", s.Kind, false)
		p.Nest(field+".identifiers", s.Identifiers.validate())
		checkText(p, field+".name", s.Name, MaxShortText, false, true)
		dob := checkDate(p, field+".date_of_birth", s.DateOfBirth)
		if !dob.IsZero() && dob.After(now.Add(24*time.Hour)) {
			p.Add(field+".date_of_birth", "%s is in the future (use kind \"unborn\" with expected_delivery_date)", s.DateOfBirth)
		}
		switch s.Kind {
		case "unborn":
			if s.ExpectedDeliveryDate == "" {
				p.Add(field+".expected_delivery_date", "is required for an unborn child")
			}
			checkDate(p, field+".expected_delivery_date", s.ExpectedDeliveryDate)
			if s.DateOfBirth != "" {
				p.Add(field+".date_of_birth", "must be empty for an unborn child")
			}
			switch {
			case s.Mother == nil || s.Mother.IsZero():
				p.Add(field+".mother", "at least one of the mother's identifiers is required for an unborn child")
			default:
				p.Nest(field+".mother", s.Mother.validate())
			}
		default:
			if s.ExpectedDeliveryDate != "" {
				p.Add(field+".expected_delivery_date", "is only for kind \"unborn\"")
			}
			if s.Mother != nil {
				p.Add(field+".mother", "is only for kind \"unborn\"")
			}
		}
		if s.Kind == "adult" {
			adultRoles.check(p, field+".role", s.Role, false)
			continue
		}
		if s.Role != "" {
			p.Add(field+".role", "is only for kind \"adult\"")
		}
		if len(s.Keys()) == 0 && s.Kind != "unborn" {
			p.Add(field+".identifiers", "at least one identifier is required for a child (%s)", joinQuoted(Schemes))
		}
		children++
	}
	if children == 0 {
		p.Add("subjects", "at least one child or unborn child is required")
	}
}

// checkText enforces required-ness, a length cap in characters and, for
// one-line fields, the absence of line breaks.
func checkText(p *ProblemSet, field, s string, max int, required, oneLine bool) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			p.Add(field, "is required")
		} else if s != "" {
			p.Add(field, "must not be only spaces")
		}
		return
	case utf8.RuneCountInString(s) > max:
		p.Add(field, "is %d characters; the limit is %d", utf8.RuneCountInString(s), max)
	}
	if oneLine && strings.ContainsAny(s, "\r\n") {
		p.Add(field, "must be a single line")
	}
}

// checkDate reports a malformed date and returns the parsed value (zero when
// empty or malformed).
func checkDate(p *ProblemSet, field string, d Date) time.Time {
	if d == "" {
		return time.Time{}
	}
	t, ok := d.Time()
	if !ok {
		p.Add(field, "%s is not a date like 2015-06-30", quote(string(d)))
	}
	return t
}

// checkRef validates a reference to another event's id.
func checkRef(p *ProblemSet, field, id string, required bool) {
	switch {
	case id == "" && required:
		p.Add(field, "is required (the id of the event it refers to)")
	case id != "":
		if err := checkUUIDv7(id); err != nil {
			p.Add(field, "%s", err.Error())
		}
	}
}

// checkLevel validates a level of need (1 to 4).
func checkLevel(p *ProblemSet, field string, level int, required bool) {
	switch {
	case level == 0 && required:
		p.Add(field, "is required (1 to 4)")
	case level != 0 && !LevelsOfNeed.Has(strconv.Itoa(level)):
		p.Add(field, "%d is not a level of need (1 universal, 2 additional, 3 increasing concerns, 4 safeguarding)", level)
	}
}

func joinQuoted[S ~string](vals []S) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}
