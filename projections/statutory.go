package projections

import (
	"github.com/chronicle-hub/chronicle/events"
)

// Statutory counters: how many entries (not retracted) that start a row of
// an Annex A list, or that record a level of need, occurred on each London
// date, kept as events arrive beside the activity counters, so that
// statutoryStatistics sums buckets (dates times measures, a few thousand a
// year) rather than reading every entry and decoding its payload. A
// correction that moves an entry's date or changes what its payload says
// (an assessment's kind, a missing episode's category) moves its count; a
// retraction removes it. Snapshots carry them: rebuilding them would decode
// the payload of every record.

// measure is one statutory count, an index into measureNames.
type measure uint8

// measureNames are the statutory measures by their index; 0 is none.
var measureNames = [...]string{"",
	"annex_a_contacts", "annex_a_early_help_assessments", "annex_a_referrals", "annex_a_assessments",
	"annex_a_section47_enquiries", "annex_a_child_protection_plans_started", "annex_a_started_to_be_looked_after",
	"missing_episodes", "absences", "level_of_need_1", "level_of_need_2", "level_of_need_3", "level_of_need_4",
}

// measureByName finds a measure by its name, for a snapshot's counters.
func measureByName(name string) (measure, bool) {
	for i, n := range measureNames {
		if i > 0 && n == name {
			return measure(i), true
		}
	}
	return 0, false
}

// AnnexAAbsence reports whether a missing episode counts as an absence in
// Ofsted's Annex A (and statutoryStatistics) rather than as a missing
// episode. The template counts the two apart, from the local authority's
// records: the SSDA903 code when the episode has one (A, away from
// placement without authorisation, is an absence; M, whereabouts unknown,
// is missing, whatever the police category), else the police category.
// The flags (Entry.Absence) differ on purpose in one case: police
// "missing" with code A is a missing episode for them, erring towards the
// child, and an absence here, as the authority recorded it.
func AnnexAAbsence(m *events.MissingReported) bool {
	if m.LookedAfterCode != "" {
		return m.LookedAfterCode == "A"
	}
	return m.Category == "absent"
}

// StatutoryMeasure names the Annex A count or level of need an event with
// this payload adds to ("" for none): the events that start a row of an
// Annex A list, missing episodes and absences apart, and the level of need
// a change or an assessment found.
func StatutoryMeasure(body events.Payload) string { return measureNames[measureOf(body)] }

func measureOf(body events.Payload) measure {
	switch b := body.(type) {
	case *events.ContactReceived:
		return 1
	case *events.AssessmentStarted:
		if b.Kind == "early_help" {
			return 2
		}
		return 4
	case *events.ReferralReceived:
		return 3
	case *events.Section47Started:
		return 5
	case *events.PlanStarted:
		if b.Kind == "child_protection" {
			return 6
		}
	case *events.LookedAfterStarted:
		return 7
	case *events.MissingReported:
		if AnnexAAbsence(b) {
			return 9
		}
		return 8
	case *events.NeedLevelChanged:
		return levelMeasure(b.To)
	case *events.AssessmentCompleted:
		return levelMeasure(b.LevelOfNeed)
	}
	return 0
}

// levelMeasure is level_of_need_N for a level from 1 to 4, none otherwise
// (0: not recorded; the catalogue refuses others).
func levelMeasure(level int) measure {
	if level < 1 || level > 4 {
		return 0
	}
	return measure(9 + level)
}

// statKey is one statutory counter: a London date (as DayOf) and a measure.
type statKey struct {
	day     int32
	measure measure
}

// countStatutory adds n to the counter of the measure entry e shows, on its
// date. Only the kinds of events that can be measures have their payload
// decoded.
func (m *Model) countStatutory(e Entry, n int32) {
	if e.Retracted || !measuredType(e.Type) {
		return
	}
	m.countMeasure(DayOf(e.OccurredAt), measureOf(e.Body()), n)
}

func (m *Model) countMeasure(day int32, ms measure, n int32) {
	if ms == 0 {
		return
	}
	k := statKey{day: day, measure: ms}
	m.statutory[k] += n
	if m.statutory[k] == 0 {
		delete(m.statutory, k)
	}
}

// measuredType reports whether events of type t can add to a measure (so
// that a correction of any other event decodes no payload).
func measuredType(t events.Type) bool {
	switch t {
	case "contact.received", "assessment.started", "referral.received", "section47.started", "plan.started",
		"looked_after.started", "missing.reported", "need_level.changed", "assessment.completed":
		return true
	}
	return false
}

// StatutoryCounts calls fn with every non-zero statutory counter: a London
// date (as DayOf), a measure (as StatutoryMeasure names it) and how many
// entries not retracted show it, as the model stands now.
func (m *Model) StatutoryCounts(fn func(day int32, measure string, n int)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k, n := range m.statutory {
		fn(k.day, measureNames[k.measure], int(n))
	}
}
