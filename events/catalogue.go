package events

import "slices"

// Payload is the typed body of one event type. Validate reports every
// problem as *FieldError values (field paths relative to the payload) joined
// with errors.Join, or nil.
type Payload interface {
	Validate() error
}

// Spec describes one event type in the catalogue.
type Spec struct {
	// Type is the wire name.
	Type Type
	// Area groups types in the reference.
	Area string
	// Title is a short human name ("Missing episode reported").
	Title string
	// Doc says what the event records and why the hub needs it.
	Doc string
	// Agencies may publish this type; nil means any agency.
	Agencies []string
	// Version is the current payload schema version. Older versions are
	// upcast on read (see upcasters).
	Version int
	// New returns a zero payload to decode into.
	New func() Payload
	// Example is a valid payload for the reference and the tests.
	Example Payload
}

// Allows reports whether agency may publish this type.
func (s *Spec) Allows(agency string) bool {
	return s.Agencies == nil || slices.Contains(s.Agencies, agency)
}

// Areas of the catalogue, in reference order.
const (
	AreaContacts    = "Contacts, referrals and MASH decisions"
	AreaAssessment  = "Assessment and level of need"
	AreaProtection  = "Child protection and looked-after children"
	AreaMissing     = "Missing episodes and exploitation"
	AreaPolice      = "Police"
	AreaHealth      = "Health"
	AreaEducation   = "Education"
	AreaOther       = "Housing, youth justice, Prevent and serious incidents"
	AreaHub         = "The hub's own records"
	exampleEventID  = "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f"
	exampleEventID2 = "0190f3c4-9b2c-7d3e-8f40-5b6c7d8e9fa0"
)

// catalogue is every event type Chronicle accepts. Grow it, never break it:
// new payload fields are optional; a breaking change is a new Version with
// an upcaster.
var catalogue = []Spec{
	// Contacts and referrals.
	{
		Type: "contact.received", Area: AreaContacts, Title: "Contact received",
		Doc: "A contact to the front door (MASH or children's services): a call, email or online form raising a concern or asking for a service. " +
			"Most contacts end with advice or a universal service; the pattern of repeated contacts is itself a signal.",
		Version: 1, New: func() Payload { return new(ContactReceived) },
		Example: &ContactReceived{ReferralSource: "2A", Channel: "phone", Concern: "Class teacher reports child arriving hungry and unkempt on three days this week.", ConsentObtained: ptr(true)},
	},
	{
		Type: "mash.decision", Area: AreaContacts, Title: "MASH decision",
		Doc: "The hub's decision on a contact after multi-agency information sharing: a RAG rating for urgency and the outcome. " +
			"Red means a decision within hours (possible significant harm), amber within a working day, green within three working days.",
		Agencies: []string{"hub", "social_care"}, Version: 1, New: func() Payload { return new(MASHDecision) },
		Example: &MASHDecision{ContactEventID: exampleEventID, RAG: "amber", Outcome: "early_help", Rationale: "Needs below the threshold for statutory assessment; family consents to early help."},
	},
	{
		Type: "referral.received", Area: AreaContacts, Title: "Referral to children's social care",
		Doc: "A contact accepted as a referral: a request for a children's social care service under the Children Act 1989. " +
			"Referral source and primary need are the Children in Need census codes.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(ReferralReceived) },
		Example: &ReferralReceived{Source: "6", PrimaryNeed: "N1", Concern: "Police notification of domestic abuse at the family home; child present."},
	},
	{
		Type: "referral.decided", Area: AreaContacts, Title: "Referral decision",
		Doc: "What children's social care decided to do with a referral. Working Together expects a decision within one working day of receipt; " +
			"a referral with no decision after that is flagged.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(ReferralDecided) },
		Example: &ReferralDecided{ReferralEventID: exampleEventID, Decision: "assessment", Rationale: "Needs a child and family assessment."},
	},
	{
		Type: "information.shared", Area: AreaContacts, Title: "Information shared",
		Doc: "Free-text information one agency shares with the hub that fits no other type, for example a neighbour's report passed on by a housing officer. " +
			"Set reliability honestly: hearsay is recorded, and shown as hearsay.",
		Version: 1, New: func() Payload { return new(InformationShared) },
		Example: &InformationShared{Text: "Neighbour told the housing officer she hears shouting most nights and has not seen the younger child for two weeks.", Purpose: "MASH enquiry"},
	},

	// Assessment and level of need.
	{
		Type: "assessment.started", Area: AreaAssessment, Title: "Assessment started",
		Doc: "An assessment began: an Early Help Assessment (the successor of the CAF) led by any agency, or a statutory child and family assessment " +
			"by children's social care, which should finish within 45 working days of the referral.",
		Version: 1, New: func() Payload { return new(AssessmentStarted) },
		Example: &AssessmentStarted{Kind: "early_help", AssessmentRef: "EHA-2024-0113", LeadAgency: "education"},
	},
	{
		Type: "assessment.completed", Area: AreaAssessment, Title: "Assessment completed",
		Doc:     "An assessment finished, with the level of need it found, the Children in Need census factors identified and the outcome.",
		Version: 1, New: func() Payload { return new(AssessmentCompleted) },
		Example: &AssessmentCompleted{Kind: "early_help", AssessmentRef: "EHA-2024-0113", LevelOfNeed: 3, Factors: []string{"3B", "4B"}, Outcome: "early_help_plan"},
	},
	{
		Type: "need_level.changed", Area: AreaAssessment, Title: "Level of need changed",
		Doc: "The child's level on the local continuum of need moved (1 universal, 2 additional, 3 increasing concerns, 4 safeguarding). " +
			"Level 4 work is under Section 17 (child in need) or Section 47 (suspected significant harm) of the Children Act 1989.",
		Version: 1, New: func() Payload { return new(NeedLevelChanged) },
		Example: &NeedLevelChanged{From: 2, To: 3, Basis: "", Rationale: "Second police notification in a month; school attendance falling."},
	},
	{
		Type: "case.closed", Area: AreaAssessment, Title: "Case closed",
		Doc:      "Children's social care closed the child in need episode, with the Children in Need census reason for closure.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(CaseClosed) },
		Example: &CaseClosed{Reason: "RC9", Note: "Stepped down to early help."},
	},
	{
		Type: "child.details_recorded", Area: AreaAssessment, Title: "Child's details recorded",
		Doc: "Who the child is, as a statutory return records it: sex, ethnicity, disabilities, a former UPN, why there is no UPN, expected date of birth or date of death. " +
			"Imports of the Children in Need census and SSDA903 publish it so that the child is found by every identifier the return gives; it records no practice event.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(ChildDetails) },
		Example: &ChildDetails{Sex: "2", Ethnicity: "WBRI", Disabilities: []string{"NONE"}, FormerUPN: "Q801200005002"},
	},
	{
		Type: "transfer.in", Area: AreaAssessment, Title: "Transferred in from another local authority",
		Doc:      "The child's case moved into this authority. The previous authority's history may arrive as imported events.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(TransferIn) },
		Example: &TransferIn{FromLA: "208", Reason: "Family moved into the area."},
	},
	{
		Type: "transfer.out", Area: AreaAssessment, Title: "Transferred out to another local authority",
		Doc:      "The child's case moved to another authority; this hub's record stays, and says where the child went.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(TransferOut) },
		Example: &TransferOut{ToLA: "209", Reason: "Family moved out of the area."},
	},

	// Child protection and looked after.
	{
		Type: "strategy_discussion.held", Area: AreaProtection, Title: "Strategy discussion held",
		Doc: "Police, health and children's social care (at least) discuss whether there is reasonable cause to suspect significant harm. " +
			"If a Section 47 enquiry follows and concerns are substantiated, the initial child protection conference is due within 15 working days.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(StrategyDiscussion) },
		Example: &StrategyDiscussion{Decision: "section47_enquiry", Attendees: []string{"police", "health", "social_care", "education"}},
	},
	{
		Type: "section47.started", Area: AreaProtection, Title: "Section 47 enquiry started",
		Doc:      "A Section 47 enquiry (Children Act 1989) began: the local authority must make enquiries when it has reasonable cause to suspect a child is suffering, or likely to suffer, significant harm.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(Section47Started) },
		Example: &Section47Started{StrategyDiscussionEventID: exampleEventID, JointWithPolice: true},
	},
	{
		Type: "section47.completed", Area: AreaProtection, Title: "Section 47 enquiry completed",
		Doc:      "The outcome of a Section 47 enquiry.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(Section47Completed) },
		Example: &Section47Completed{Outcome: "substantiated_conference"},
	},
	{
		Type: "conference.held", Area: AreaProtection, Title: "Child protection conference held",
		Doc:      "An initial, review, pre-birth or transfer-in child protection conference. The first review is due within 3 months of the initial conference, then every 6 months.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(Conference) },
		Example: &Conference{Kind: "initial", Outcome: "plan_started", Category: "NEG"},
	},
	{
		Type: "plan.started", Area: AreaProtection, Title: "Plan started",
		Doc: "A plan began: early help, child in need (Section 17) or child protection (with the census category of abuse). " +
			"An active child protection plan is shared with unscheduled care through NHS CP-IS; a core group must meet within 10 working days.",
		Version: 1, New: func() Payload { return new(PlanStarted) },
		Example: &PlanStarted{Kind: "child_protection", Category: "NEG"},
	},
	{
		Type: "plan.ended", Area: AreaProtection, Title: "Plan ended",
		Doc:     "A plan ended, with the reason.",
		Version: 1, New: func() Payload { return new(PlanEnded) },
		Example: &PlanEnded{Kind: "child_protection", Reason: "Review conference: child no longer at risk of significant harm; stepped down to child in need."},
	},
	{
		Type: "core_group.held", Area: AreaProtection, Title: "Core group meeting held",
		Doc:      "The core group (the professionals and family who deliver the child protection plan) met. The first meeting is due within 10 working days of the initial conference.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(CoreGroup) },
		Example: &CoreGroup{Attendees: []string{"social_care", "health", "education"}},
	},
	{
		Type: "looked_after.started", Area: AreaProtection, Title: "Became looked after",
		Doc:      "The child started a period of being looked after by the local authority, with the SSDA903 legal status. Looked-after status is shared through NHS CP-IS.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(LookedAfterStarted) },
		Example: &LookedAfterStarted{LegalStatus: "C1", Placement: "U4"},
	},
	{
		Type: "looked_after.changed", Area: AreaProtection, Title: "Looked-after episode changed",
		Doc: "A new SSDA903 episode within a period of care: the legal status, the placement or both changed. The child stays looked after; " +
			"looked_after.started and looked_after.ended mark the period itself.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(LookedAfterChanged) },
		Example: &LookedAfterChanged{ReasonNewEpisode: "P", LegalStatus: "C2", Placement: "U1"},
	},
	{
		Type: "looked_after.review_held", Area: AreaProtection, Title: "Looked-after review held",
		Doc: "A statutory review of a looked-after child's care plan by an independent reviewing officer, with how the child took part. " +
			"The first review is due within 20 working days of becoming looked after, the second within 3 months of the first, then every 6 months.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(LookedAfterReview) },
		Example: &LookedAfterReview{Participation: "PN1"},
	},
	{
		Type: "looked_after.ended", Area: AreaProtection, Title: "Ceased to be looked after",
		Doc:      "The period of being looked after ended.",
		Agencies: []string{"social_care"}, Version: 1, New: func() Payload { return new(LookedAfterEnded) },
		Example: &LookedAfterEnded{Reason: "E13", Note: "Returned home to parents."},
	},

	// Missing and exploitation.
	{
		Type: "missing.reported", Area: AreaMissing, Title: "Reported missing or absent",
		Doc: "The start of a missing episode. Police classify it as missing or absent and grade the risk; for a looked-after child SSDA903 also distinguishes " +
			"missing (M) from away without authorisation (A). Three or more episodes in 90 days, or any episode alongside exploitation indicators, is flagged. " +
			"Version 2 replaced v1's boolean absent with category.",
		Version: 2, New: func() Payload { return new(MissingReported) },
		Example: &MissingReported{EpisodeRef: "MP/24/0042", Category: "missing", RiskLevel: "medium", LookedAfterCode: "M"},
	},
	{
		Type: "missing.returned", Area: AreaMissing, Title: "Returned or found",
		Doc:     "The end of a missing episode. The child must be offered an independent return home interview within 72 hours of returning.",
		Version: 1, New: func() Payload { return new(MissingReturned) },
		Example: &MissingReturned{EpisodeRef: "MP/24/0042", FoundBy: "police", Location: "Town centre"},
	},
	{
		Type: "return_interview.completed", Area: AreaMissing, Title: "Return home interview",
		Doc: "An independent return home interview after a missing episode: a chance for the child to say why they went and what happened while away. " +
			"Statutory guidance expects it within 72 hours of return. Record declined interviews too (accepted false).",
		Version: 1, New: func() Payload { return new(ReturnInterview) },
		Example: &ReturnInterview{EpisodeRef: "MP/24/0042", Accepted: ptr(true), Disclosures: "Says he was with older boys who gave him money to carry a bag."},
	},
	{
		Type: "exploitation.screening", Area: AreaMissing, Title: "Exploitation screening",
		Doc:     "A completed child exploitation screening tool (sexual, criminal or both) with its risk grade. Medium or high together with a missing episode is flagged.",
		Version: 1, New: func() Payload { return new(ExploitationScreening) },
		Example: &ExploitationScreening{Kind: "criminal", RiskLevel: "high", Tool: "Child Exploitation Screening Tool v3"},
	},

	// Police.
	{
		Type: "police.incident", Area: AreaPolice, Title: "Police incident",
		Doc:      "An incident police attended or recorded in which the child featured, and the child's role in it.",
		Agencies: []string{"police"}, Version: 1, New: func() Payload { return new(PoliceReport) },
		Example: &PoliceReport{Category: "offence", ChildRole: "suspect", CrimeRef: "CR/24/118822"},
	},
	{
		Type: "police.notification", Area: AreaPolice, Title: "Police notification",
		Doc: "A police notification to the hub (a Public Protection Notice): domestic abuse with a child in the household, an exploitation concern, or other concern for a child. " +
			"Two or more domestic abuse notifications in 12 months is flagged.",
		Agencies: []string{"police"}, Version: 1, New: func() Payload { return new(PoliceReport) },
		Example: &PoliceReport{Category: "domestic_abuse", ChildRole: "household_member", RiskLevel: "medium", CrimeRef: "PPN/24/5531"},
	},

	// Health.
	{
		Type: "health.ed_attendance", Area: AreaHealth, Title: "Emergency department attendance",
		Doc: "An attendance at an emergency department or urgent care. An injury to a child under one year old (not yet mobile) is flagged: " +
			"\"those who don't cruise rarely bruise\".",
		Agencies: []string{"health"}, Version: 1, New: func() Payload { return new(EDAttendance) },
		Example: &EDAttendance{Reason: "Head injury, fall from sofa reported", Injury: true, SafeguardingConcern: true},
	},
	{
		Type: "health.injury", Area: AreaHealth, Title: "Injury observed",
		Doc:      "An injury seen by a health professional (GP, health visitor, school nurse, hospital), with whether the explanation fits.",
		Agencies: []string{"health"}, Version: 1, New: func() Payload { return new(Injury) },
		Example: &Injury{Description: "Bruising to both upper arms", Mechanism: "Parent says sibling grabbed him", ExplanationConsistent: ptr(false)},
	},
	{
		Type: "health.concern", Area: AreaHealth, Title: "Health concern",
		Doc:      "A safeguarding concern raised by a health professional.",
		Agencies: []string{"health"}, Version: 1, New: func() Payload { return new(HealthConcern) },
		Example: &HealthConcern{Professional: "health_visitor", Concern: "Missed three developmental reviews; home conditions poor at last visit."},
	},

	// Education.
	{
		Type: "education.exclusion", Area: AreaEducation, Title: "Suspension or permanent exclusion",
		Doc:      "A suspension (fixed-period exclusion) or permanent exclusion from school.",
		Agencies: []string{"education"}, Version: 1, New: func() Payload { return new(Exclusion) },
		Example: &Exclusion{Kind: "suspension", Days: 3, Reason: "Persistent disruptive behaviour"},
	},
	{
		Type: "education.persistent_absence", Area: AreaEducation, Title: "Persistent absence",
		Doc:      "The child's attendance fell to the persistent absence threshold (missing 10% or more of sessions) for a period.",
		Agencies: []string{"education"}, Version: 1, New: func() Payload { return new(PersistentAbsence) },
		Example: &PersistentAbsence{AttendancePercent: ptr(81.5), Period: "2024/25 autumn term"},
	},
	{
		Type: "education.missing_education", Area: AreaEducation, Title: "Child missing education",
		Doc:      "The child is of compulsory school age, not registered at a school and not receiving suitable education otherwise.",
		Agencies: []string{"education"}, Version: 1, New: func() Payload { return new(MissingEducation) },
		Example: &MissingEducation{LastSchool: "Northfield Primary (synthetic)", Reason: "Removed from roll after 20 days' unexplained absence"},
	},
	{
		Type: "education.concern", Area: AreaEducation, Title: "School safeguarding concern",
		Doc:      "A concern logged by a school's designated safeguarding lead.",
		Agencies: []string{"education"}, Version: 1, New: func() Payload { return new(EducationConcern) },
		Example: &EducationConcern{Concern: "Disclosed that mum's boyfriend hits her when he has been drinking."},
	},

	// Other agencies.
	{
		Type: "housing.concern", Area: AreaOther, Title: "Housing concern",
		Doc:      "A concern from housing: homelessness, eviction, overcrowding, disrepair or antisocial behaviour affecting a child.",
		Agencies: []string{"housing", "hub"}, Version: 1, New: func() Payload { return new(HousingConcern) },
		Example: &HousingConcern{Kind: "eviction", Concern: "Notice served for rent arrears; family of five at risk of homelessness."},
	},
	{
		Type: "youth_justice.intervention", Area: AreaOther, Title: "Youth justice intervention",
		Doc:      "A youth justice service intervention, from prevention work to a court order.",
		Agencies: []string{"youth_justice"}, Version: 1, New: func() Payload { return new(YouthJusticeIntervention) },
		Example: &YouthJusticeIntervention{Kind: "referral_order", Offence: "Possession of a bladed article"},
	},
	{
		Type: "prevent.referral", Area: AreaOther, Title: "Prevent referral",
		Doc:     "A referral under Prevent for a child at risk of radicalisation, and whether it went to a Channel panel.",
		Version: 1, New: func() Payload { return new(PreventReferral) },
		Example: &PreventReferral{Concern: "Sharing extremist material in class group chat.", Outcome: "channel"},
	},
	{
		Type: "serious_incident.notified", Area: AreaOther, Title: "Serious incident notification",
		Doc:      "The local authority notified the national panel (within 5 working days) that a child died or was seriously harmed and abuse or neglect is known or suspected.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(SeriousIncident) },
		Example: &SeriousIncident{Kind: "serious_harm", Notified: "2024-05-10"},
	},
	{
		Type: "rapid_review.completed", Area: AreaOther, Title: "Rapid review completed",
		Doc:      "The safeguarding partners' rapid review after a serious incident notification (due within 15 working days), and whether a local child safeguarding practice review follows.",
		Agencies: []string{"social_care", "hub"}, Version: 1, New: func() Payload { return new(RapidReview) },
		Example: &RapidReview{Outcome: "lcspr_recommended", Learning: "Information about repeat missing episodes was held by three agencies and never combined."},
	},

	// The hub's own.
	{
		Type: "record.corrected", Area: AreaHub, Title: "Record corrected",
		Doc: "A correction to an earlier event, by the agency that made it or by the hub. The chronology shows the corrected version and keeps every earlier one: " +
			"a correction changes what is shown, never what is kept.",
		Version: 1, New: func() Payload { return new(RecordCorrected) },
		Example: &RecordCorrected{EventID: exampleEventID, Reason: "Wrong date keyed: the incident was on the 3rd, not the 13th.", OccurredAt: "2024-03-03T21:40:00Z"},
	},
	{
		Type: "record.retracted", Area: AreaHub, Title: "Record retracted",
		Doc:     "An earlier event should not have been shared (wrong child, or recorded in error). It is hidden from the chronology by default, shown on request, and kept.",
		Version: 1, New: func() Payload { return new(RecordRetracted) },
		Example: &RecordRetracted{EventID: exampleEventID, Reason: "Recorded against the wrong child."},
	},
	{
		Type: "subjects.linked", Area: AreaHub, Title: "Records linked",
		Doc:      "A practitioner confirmed that two identifiers belong to the same child, joining their records.",
		Agencies: []string{"hub"}, Version: 1, New: func() Payload { return new(SubjectsLinked) },
		Example: &SubjectsLinked{A: Identifier{Scheme: SchemeNHSNumber, Value: "9990000018"}, B: Identifier{Scheme: SchemeUPN, Value: "B801200005001"}, Reason: "Confirmed with the school: same date of birth and address."},
	},
	{
		Type: "subjects.unlinked", Area: AreaHub, Title: "Records unlinked",
		Doc:      "A practitioner found that a link was wrong; the records split again, each keeping its own entries.",
		Agencies: []string{"hub"}, Version: 1, New: func() Payload { return new(SubjectsUnlinked) },
		Example: &SubjectsUnlinked{A: Identifier{Scheme: SchemeNHSNumber, Value: "9990000018"}, B: Identifier{Scheme: SchemeUPN, Value: "B801200005001"}, Reason: "Twins: the UPN belongs to the sibling."},
	},
}

// byType indexes the catalogue; it is built once from the table above.
var byType = func() map[Type]*Spec {
	m := make(map[Type]*Spec, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].Type] = &catalogue[i]
	}
	return m
}()

// Lookup returns the catalogue entry for t.
func Lookup(t Type) (*Spec, bool) {
	s, ok := byType[t]
	return s, ok
}

// Catalogue returns every event type's spec in reference order. The slice is
// a copy; the specs are shared and must not be modified.
func Catalogue() []Spec {
	return slices.Clone(catalogue)
}

func ptr[T any](v T) *T { return &v }
