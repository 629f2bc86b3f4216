package events

import "strings"

// CodeDef is one allowed value of an enumerated field and what it means.
type CodeDef struct {
	Code    string `json:"code"`
	Meaning string `json:"meaning"`
}

// CodeList is a closed set of values for a field, with where the codes come
// from. Using the sector's own codes (DfE Children in Need census, SSDA903)
// means Chronicle's data lines up with statutory returns without mapping.
type CodeList struct {
	Name   string
	Source string
	Codes  []CodeDef
}

// Has reports whether v is one of the list's codes.
func (l *CodeList) Has(v string) bool {
	for _, c := range l.Codes {
		if c.Code == v {
			return true
		}
	}
	return false
}

// Meaning returns the description of code v, or "" when v is not in the list.
func (l *CodeList) Meaning(v string) string {
	for _, c := range l.Codes {
		if c.Code == v {
			return c.Meaning
		}
	}
	return ""
}

// Values returns the codes in order.
func (l *CodeList) Values() []string {
	out := make([]string, len(l.Codes))
	for i, c := range l.Codes {
		out[i] = c.Code
	}
	return out
}

// check adds a problem when v is set but not in the list, or when it is
// required and empty.
func (l *CodeList) check(p *ProblemSet, field, v string, required bool) {
	switch {
	case v == "" && required:
		p.Add(field, "is required (one of %s)", l.summary())
	case v != "" && !l.Has(v):
		p.Add(field, "%s is not a known %s (want one of %s)", quote(v), l.Name, l.summary())
	}
}

// summary lists the codes for an error message, shortened for long lists.
func (l *CodeList) summary() string {
	vals := l.Values()
	if len(vals) > 12 {
		return strings.Join(vals[:12], ", ") + ", ... (" + l.Source + ")"
	}
	return strings.Join(vals, ", ")
}

func codes(name, source string, pairs ...string) *CodeList {
	l := &CodeList{Name: name, Source: source}
	for i := 0; i+1 < len(pairs); i += 2 {
		l.Codes = append(l.Codes, CodeDef{Code: pairs[i], Meaning: pairs[i+1]})
	}
	return l
}

// CodeLists returns every code list in a stable order, for the catalogue
// reference and for GraphQL's filter enums.
func CodeLists() []*CodeList {
	return []*CodeList{
		Agencies, Sensitivities, Reliabilities, SubjectKinds,
		ReferralSources, PrimaryNeeds, AssessmentFactors, AbuseCategories,
		ClosureReasons, LegalStatuses, MissingCategories, LookedAfterMissingCodes,
		RiskLevels, LevelsOfNeed, Sexes, Ethnicities, Disabilities, UPNUnknownReasons,
		ReasonsNewEpisode, ReviewParticipation,
	}
}

// Agencies are the partners that publish into the hub. The code is also the
// agency token in the NATS subject chronicle.events.<agency>.<type>, and the
// unit of publishing permission.
var Agencies = codes("agency", "Chronicle",
	"police", "Police force (public protection, missing persons, incidents)",
	"health", "Health: acute trusts, GPs, health visiting, school nursing, CAMHS, midwifery",
	"social_care", "Children's social care (the local authority's statutory service)",
	"early_help", "Early help services (CAF/EHA lead professionals, family hubs)",
	"education", "Schools, academies, colleges and the education welfare service",
	"housing", "Housing authority and registered housing providers",
	"youth_justice", "Youth justice service",
	"probation", "Probation service",
	"voluntary", "Voluntary and community sector partners",
	"hub", "The MASH itself: decisions, identity links, corrections",
)

// Sensitivities say who may read an entry. Redaction is by sensitivity and
// agency; see the gateway.
var Sensitivities = codes("sensitivity", "Chronicle",
	"standard", "Shareable with every practitioner working with the child",
	"restricted", "Need to know: hub staff, and the publishing agency's own practitioners",
	"sealed", "Sealed (for example adoption or witness protection): managers only",
)

// Reliabilities grade the information itself. The hub records hearsay too,
// because a pattern of third-hand reports can matter, and says so.
var Reliabilities = codes("reliability", "Chronicle",
	"direct", "Seen or done by the recording professional",
	"reported", "Reported to the agency by the person concerned or a named witness",
	"hearsay", "Third-hand or anonymous; unverified",
)

// SubjectKinds distinguish children, unborn children and adults on an event.
var SubjectKinds = codes("subject kind", "Chronicle",
	"child", "A child (under 18) the event concerns",
	"unborn", "An unborn child: expected date of delivery and the mother's identifiers",
	"adult", "An adult connected to the event (parent, carer, household member, alleged perpetrator)",
)

// ReferralSources is the Children in Need census referral source list.
var ReferralSources = codes("referral source", "DfE Children in Need census",
	"1A", "Individual: family member, relative or carer",
	"1B", "Individual: acquaintance (including neighbours and child minders)",
	"1C", "Individual: self",
	"1D", "Individual: other, including strangers and MPs",
	"2A", "Schools",
	"2B", "Education services",
	"3A", "Health services: GP",
	"3B", "Health services: health visitor",
	"3C", "Health services: school nurse",
	"3D", "Health services: other primary health services",
	"3E", "Health services: A&E (emergency department)",
	"3F", "Health services: other",
	"4", "Housing (LA housing or housing association)",
	"5A", "LA services: social care (for example adult social care)",
	"5B", "LA services: other internal department",
	"5C", "LA services: external (for example from another local authority)",
	"5D", "LA services: early help",
	"6", "Police",
	"7", "Other legal agency (courts, probation, immigration, CAFCASS, prison)",
	"8", "Other",
	"9", "Anonymous",
	"10", "Unknown",
)

// PrimaryNeeds is the Children in Need census primary need code list.
var PrimaryNeeds = codes("primary need", "DfE Children in Need census",
	"N0", "Not stated",
	"N1", "Abuse or neglect",
	"N2", "Child's disability or illness",
	"N3", "Parental disability or illness",
	"N4", "Family in acute stress",
	"N5", "Family dysfunction",
	"N6", "Socially unacceptable behaviour",
	"N7", "Low income",
	"N8", "Absent parenting",
	"N9", "Cases other than children in need",
)

// AssessmentFactors are the Children in Need census "factors identified at
// the end of assessment". The A/B/C suffix on 1 to 6 says whose factor it is:
// A the child, B a parent or carer, C another person in the household.
var AssessmentFactors = codes("assessment factor", "DfE Children in Need census",
	"1A", "Alcohol misuse: the child", "1B", "Alcohol misuse: parent or carer", "1C", "Alcohol misuse: another person in the household",
	"2A", "Drug misuse: the child", "2B", "Drug misuse: parent or carer", "2C", "Drug misuse: another person in the household",
	"3A", "Domestic abuse: the child", "3B", "Domestic abuse: parent or carer", "3C", "Domestic abuse: another person in the household",
	"4A", "Mental health: the child", "4B", "Mental health: parent or carer", "4C", "Mental health: another person in the household",
	"5A", "Learning disability: the child", "5B", "Learning disability: parent or carer", "5C", "Learning disability: another person in the household",
	"6A", "Physical disability or illness: the child", "6B", "Physical disability or illness: parent or carer", "6C", "Physical disability or illness: another person in the household",
	"7A", "Young carer",
	"8B", "Privately fostered: overseas child intending to return",
	"8C", "Privately fostered: overseas child intending to stay",
	"8D", "Privately fostered: UK child in education",
	"8E", "Privately fostered: UK child, parents' choice",
	"8F", "Privately fostered: other",
	"9A", "Unaccompanied asylum-seeking child",
	"10A", "Going or being missing",
	"11A", "Child sexual exploitation",
	"12A", "Trafficking",
	"13A", "Gangs",
	"14A", "Socially unacceptable behaviour",
	"15A", "Self-harm",
	"16A", "Abuse or neglect: neglect",
	"17A", "Abuse or neglect: emotional abuse",
	"18A", "Abuse or neglect: physical abuse (census years to 2020, before the split into 18B and 18C)",
	"18B", "Abuse or neglect: physical abuse by a child",
	"18C", "Abuse or neglect: physical abuse by an adult",
	"19A", "Abuse or neglect: sexual abuse (census years to 2020, before the split into 19B and 19C)",
	"19B", "Abuse or neglect: sexual abuse by a child",
	"19C", "Abuse or neglect: sexual abuse by an adult",
	"20", "Other",
	"21", "No factors identified",
	"22A", "Female genital mutilation",
	"23A", "Abuse linked to faith or belief",
	"24A", "Child criminal exploitation",
)

// AbuseCategories are the Children in Need census categories of abuse for a
// child protection plan.
var AbuseCategories = codes("category of abuse", "DfE Children in Need census",
	"NEG", "Neglect",
	"PHY", "Physical abuse",
	"SAB", "Sexual abuse",
	"EMO", "Emotional abuse",
	"MUL", "Multiple categories",
)

// ClosureReasons are the Children in Need census reasons for closure of a
// child in need episode.
var ClosureReasons = codes("reason for closure", "DfE Children in Need census",
	"RC1", "Adopted",
	"RC2", "Died",
	"RC3", "Child arrangements order",
	"RC4", "Special guardianship order",
	"RC5", "Transferred to services of another local authority",
	"RC6", "Transferred to adult social care",
	"RC7", "Services ceased for any other reason, including the child no longer in need",
	"RC8", "Case closed after assessment: no further action",
	"RC9", "Case closed after assessment: referred to early help",
)

// LegalStatuses are the SSDA903 looked-after legal status codes.
var LegalStatuses = codes("legal status", "DfE SSDA903 (children looked after return)",
	"C1", "Interim care order",
	"C2", "Full care order",
	"D1", "Freeing order granted",
	"E1", "Placement order granted",
	"J1", "Remanded to local authority accommodation or to youth detention accommodation",
	"J2", "Placed in local authority accommodation under PACE, including secure accommodation",
	"J3", "Sentenced to a youth rehabilitation order with residence or intensive fostering requirement",
	"L1", "Under police protection and in local authority accommodation",
	"L2", "Emergency protection order",
	"L3", "Under child assessment order and in local authority accommodation",
	"V2", "Single period of accommodation under section 20 (Children Act 1989)",
	"V3", "Accommodated under an agreed series of short-term breaks, when individual episodes of care are recorded",
	"V4", "Accommodated under an agreed series of short-term breaks, when agreements are recorded",
)

// LookedAfterMissingCodes are the SSDA903 codes for a looked-after child's
// absence from placement: missing, or away without authorisation (the
// carer knows where the child is but the child should not be there).
var LookedAfterMissingCodes = codes("SSDA903 missing code", "DfE SSDA903 (children looked after return)",
	"M", "Missing: not at the placement and whereabouts unknown",
	"A", "Away from placement without authorisation: whereabouts known",
)

// MissingCategories are the police categories for a missing person report.
// Forces record a child as absent when they are not where they should be but
// there is no apparent risk; "missing" means whereabouts cannot be
// established and the circumstances are out of character or indicate risk.
var MissingCategories = codes("missing category", "College of Policing APP on missing persons",
	"missing", "Whereabouts cannot be established and circumstances indicate risk",
	"absent", "Not at a place where expected, with no apparent risk",
)

// RiskLevels grade assessed risk (police missing risk, exploitation
// screening, domestic abuse DASH).
var RiskLevels = codes("risk level", "Chronicle (aligned with DASH and police missing risk grading)",
	"none", "No risk identified",
	"low", "Low or standard risk",
	"medium", "Medium risk",
	"high", "High risk",
)

// LevelsOfNeed are the local threshold levels (the continuum of need most
// safeguarding partnerships publish).
var LevelsOfNeed = codes("level of need", "Local safeguarding partnership threshold document",
	"1", "Universal: needs met by universal services",
	"2", "Additional: early help from a single agency",
	"3", "Increasing concerns: targeted or multi-agency early help",
	"4", "Safeguarding: statutory social care (Section 17 child in need or Section 47)",
)

// Sexes are the DfE codes for a child's sex in the statutory returns (CIN
// census GenderCurrent; SSDA903 SEX uses 1 and 2).
var Sexes = codes("sex", "DfE Children in Need census and SSDA903",
	"1", "Male",
	"2", "Female",
	"0", "Not recorded, or unborn",
	"9", "Indeterminate",
)

// Ethnicities are the DfE ethnicity codes used by the statutory returns.
var Ethnicities = codes("ethnicity", "DfE Children in Need census and SSDA903",
	"WBRI", "White British", "WIRI", "White Irish", "WIRT", "Traveller of Irish heritage",
	"WOTH", "Any other White background", "WROM", "Gypsy/Roma",
	"MWBC", "White and Black Caribbean", "MWBA", "White and Black African", "MWAS", "White and Asian",
	"MOTH", "Any other mixed background",
	"AIND", "Indian", "APKN", "Pakistani", "ABAN", "Bangladeshi", "AOTH", "Any other Asian background",
	"BCRB", "Caribbean", "BAFR", "African", "BOTH", "Any other Black background",
	"CHNE", "Chinese", "OOTH", "Any other ethnic group",
	"REFU", "Refused", "NOBT", "Information not yet obtained",
)

// Disabilities are the Children in Need census disability codes.
var Disabilities = codes("disability", "DfE Children in Need census",
	"NONE", "No disability", "MOB", "Mobility", "HAND", "Hand function", "PC", "Personal care",
	"INC", "Incontinence", "COMM", "Communication", "LD", "Learning", "HEAR", "Hearing",
	"VIS", "Vision", "BEH", "Behaviour", "CON", "Consciousness", "AUT", "Autism", "DDA", "Other",
)

// UPNUnknownReasons are the Children in Need census codes that say why a
// child has no UPN; their meanings are in the DfE census guide.
var UPNUnknownReasons = codes("UPN unknown reason", "DfE Children in Need census",
	"UN1", "UPN unknown: DfE reason UN1", "UN2", "UPN unknown: DfE reason UN2", "UN3", "UPN unknown: DfE reason UN3",
	"UN4", "UPN unknown: DfE reason UN4", "UN5", "UPN unknown: DfE reason UN5", "UN6", "UPN unknown: DfE reason UN6",
	"UN7", "UPN unknown: DfE reason UN7",
)

// ReasonsNewEpisode are the SSDA903 reasons a new looked-after episode
// starts: S begins a period of care, the others change something within it.
var ReasonsNewEpisode = codes("reason for new episode", "DfE SSDA903 (children looked after return)",
	"S", "Started to be looked after",
	"L", "Change of legal status only",
	"P", "Change of placement and carer(s) only",
	"T", "Change of placement type only (same carer)",
	"B", "Change of legal status and of placement and carer(s) at the same time",
	"U", "Change of legal status and of placement type only (same carer) at the same time",
)

// ReviewParticipation are the SSDA903 codes for how a looked-after child
// took part in their review.
var ReviewParticipation = codes("review participation", "DfE SSDA903 (children looked after return)",
	"PN0", "Child aged under 4 at the time of the review",
	"PN1", "Child attends and speaks for themselves",
	"PN2", "Child attends and an advocate speaks for them",
	"PN3", "Child attends and conveys their views symbolically (non-verbally)",
	"PN4", "Child attends but does not speak, convey views symbolically or ask an advocate to speak",
	"PN5", "Child does not attend but briefs an advocate to speak for them",
	"PN6", "Child does not attend but conveys their feelings through a facilitative medium",
	"PN7", "Child does not attend and their views are not conveyed",
)
