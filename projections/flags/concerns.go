package flags

import (
	"slices"
	"strings"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// What counts as an agency's concern for MULTI_AGENCY_CONCERNS, event type
// by event type. The rule exists because serious case reviews keep finding
// that each agency held a piece and nobody joined them (Working Together to
// Safeguard Children 2023, chapter 1, on information sharing; the national
// panel's annual reports): so a concern is anything an agency records that
// shows it is worried about the child, or that the child is not where they
// should be, and not the statutory system's own response (an assessment, a
// conference, a plan), which is what the rule asks for.
//
// A hub changes the list with "concerns" in the rules config; a type's own
// test (which of its records count) stays as written here.
type concernKind struct {
	typ       events.Type
	byDefault bool
	why       string
	// counts says which records of the type count; nil means all.
	counts func(en projections.Entry, o Options) bool
	// recordKeeping marks the hub's own corrections and links, which a
	// config may not name: they are about records, not the child.
	recordKeeping bool
}

// concernTable has a line for every event type in the catalogue, so that a
// new type is a decision, not an omission (a test checks it).
var concernTable = []concernKind{
	{typ: "contact.received", byDefault: true, why: "a contact to the front door is someone's worry about the child; it counts for the agency that made it (the referral source), when that is a partner agency"},
	{typ: "referral.received", byDefault: true, why: "a referral is a concern by definition; like a contact, it counts for the agency that made it"},
	{typ: "information.shared", byDefault: true, why: "a partner sharing what it holds into the MASH is a piece of the picture"},
	{typ: "police.notification", byDefault: true, why: "every police notification about a child (domestic abuse, exploitation, concern for welfare, online harm) is police worried about the child"},
	{typ: "police.incident", byDefault: true, why: "a child who is a victim, witness, suspect or present at an incident is a police concern, whatever the role"},
	{typ: "missing.reported", byDefault: true, why: "going missing is a police concern and a warning sign; an absence (whereabouts known) is not, unless count_absences",
		counts: func(en projections.Entry, o Options) bool { return o.CountAbsences || !en.Absence() }},
	{typ: "exploitation.screening", byDefault: true, why: "a screening is done because someone was worried, whatever grade it returns"},
	{typ: "health.concern", byDefault: true, why: "a safeguarding concern raised by a health professional"},
	{typ: "health.injury", byDefault: true, why: "an injury seen by a health professional is recorded here because it matters to safeguarding"},
	{typ: "health.ed_attendance", byDefault: true, why: "only an attendance for an injury, or where staff raised a safeguarding concern; a fever is not a concern",
		counts: func(en projections.Entry, _ Options) bool {
			p, ok := en.Body().(*events.EDAttendance)
			return ok && (p.Injury || p.SafeguardingConcern)
		}},
	{typ: "education.concern", byDefault: true, why: "a concern logged by the school's designated safeguarding lead"},
	{typ: "education.persistent_absence", byDefault: true, why: "persistent absence is a recognised safeguarding indicator (Working Together 2023; Keeping Children Safe in Education)"},
	{typ: "education.missing_education", byDefault: true, why: "a child missing education is at risk of harm, exploitation and radicalisation (DfE, Children missing education, 2016)"},
	{typ: "education.exclusion", byDefault: true, why: "suspension and permanent exclusion are associated with exploitation and harm (Timpson review of school exclusion, 2019)"},
	{typ: "housing.concern", byDefault: true, why: "homelessness, eviction, overcrowding, disrepair and antisocial behaviour affecting a child"},
	{typ: "youth_justice.intervention", byDefault: true, why: "a child known to the youth justice service is often also a child at risk (criminal exploitation)"},
	{typ: "prevent.referral", byDefault: true, why: "a referral for a child at risk of radicalisation is a safeguarding concern (Prevent duty guidance)"},

	{typ: "mash.decision", why: "the hub's decision on a contact: a response, and the contact already counted"},
	{typ: "referral.decided", why: "a decision on a referral: a response"},
	{typ: "assessment.started", why: "a response; an open assessment is what stops the flag"},
	{typ: "assessment.completed", why: "a response"},
	{typ: "need_level.changed", why: "a practitioner's judgement of need, counted by ESCALATING_NEED"},
	{typ: "case.closed", why: "a response"},
	{typ: "transfer.in", why: "an administrative transfer between local authorities"},
	{typ: "transfer.out", why: "an administrative transfer between local authorities"},
	{typ: "strategy_discussion.held", why: "a response (Section 47), with its own deadline rule"},
	{typ: "section47.started", why: "a response"},
	{typ: "section47.completed", why: "a response"},
	{typ: "conference.held", why: "a response"},
	{typ: "plan.started", why: "a response; a plan in place is what stops the flag"},
	{typ: "plan.ended", why: "a response"},
	{typ: "core_group.held", why: "a response"},
	{typ: "looked_after.started", why: "a status, flagged as LOOKED_AFTER"},
	{typ: "looked_after.ended", why: "a status change"},
	{typ: "looked_after.changed", why: "a change of placement or legal status within a looked-after episode: the local authority's own record of care, not a partner's worry"},
	{typ: "looked_after.review_held", why: "a statutory review of a looked-after child's care plan: a response, like a conference"},
	{typ: "child.details_recorded", why: "the child's details as social care holds them (identifiers, date of birth, sex): a record, not a concern"},
	{typ: "missing.returned", why: "the end of an episode its report already counted"},
	{typ: "return_interview.completed", why: "a response to an episode already counted"},
	{typ: "serious_incident.notified", why: "the local authority's notification of harm to the national panel: the child is already known to social care"},
	{typ: "rapid_review.completed", why: "a review of a serious incident: a response"},
	{typ: "record.corrected", why: "the hub's own record-keeping", recordKeeping: true},
	{typ: "record.retracted", why: "the hub's own record-keeping", recordKeeping: true},
	{typ: "subjects.linked", why: "the hub's own record-keeping", recordKeeping: true},
	{typ: "subjects.unlinked", why: "the hub's own record-keeping", recordKeeping: true},
}

// recordKeeping reports whether a type is the hub's own record-keeping,
// which a config may not name as a concern.
func recordKeeping(t events.Type) bool {
	i := slices.IndexFunc(concernTable, func(k concernKind) bool { return k.typ == t })
	return i >= 0 && concernTable[i].recordKeeping
}

// defaultConcerns are the types that count unless the config says
// otherwise.
func defaultConcerns() []events.Type {
	var out []events.Type
	for _, k := range concernTable {
		if k.byDefault {
			out = append(out, k.typ)
		}
	}
	return out
}

// isConcern reports whether an entry counts as a concern under o.
func isConcern(en projections.Entry, o Options) bool {
	if !slices.Contains(o.Concerns, en.Type) {
		return false
	}
	i := slices.IndexFunc(concernTable, func(k concernKind) bool { return k.typ == en.Type })
	return i < 0 || concernTable[i].counts == nil || concernTable[i].counts(en, o)
}

// referralAgencies maps Children in Need census referral sources to the
// partner agency that made the referral.
var referralAgencies = map[string]string{
	"2A": "education", "2B": "education",
	"3A": "health", "3B": "health", "3C": "health", "3D": "health", "3E": "health", "3F": "health",
	"4": "housing", "5A": "social_care", "5D": "early_help", "6": "police",
}

// concernAgency is the agency whose concern an entry records: for a contact
// or referral, the agency that made it when the source is a partner
// agency (a school's contact, received by social care, is education's
// concern, so it is not counted twice with the school's own record);
// otherwise the agency that published it.
func concernAgency(en projections.Entry) string {
	var source string
	switch p := en.Body().(type) {
	case *events.ContactReceived:
		source = p.ReferralSource
	case *events.ReferralReceived:
		source = p.Source
	}
	if a, ok := referralAgencies[source]; ok {
		return a
	}
	return en.Agency
}

// concernsRationale is the rule table's account of what counts.
func concernsRationale() string {
	var yes, no []string
	for _, k := range concernTable {
		if k.recordKeeping {
			continue
		}
		line := string(k.typ) + " (" + k.why + ")"
		if k.byDefault {
			yes = append(yes, line)
		} else {
			no = append(no, string(k.typ))
		}
	}
	return "What counts as a concern, by default: " + strings.Join(yes, "; ") +
		". Not counted, as the system's own responses or statuses: " + strings.Join(no, ", ") + "."
}
