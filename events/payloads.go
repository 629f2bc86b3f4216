package events

import (
	"encoding/json"
	"strconv"
)

// Payload structs, one per event type (police.incident and
// police.notification share one). Struct tags carry the reference: `doc`
// describes the field and `codes` names the CodeList its values come from;
// docs/events.md is generated from them, and a test checks that every coded
// field is validated against its list.

// Code lists used only by payloads.
var (
	Channels = codes("channel", "Chronicle",
		"phone", "Telephone", "email", "Email", "online", "Online form or portal", "in_person", "In person", "letter", "Letter", "other", "Other")
	RAGRatings = codes("RAG rating", "Local MASH procedure",
		"red", "Decision within hours: possible significant harm",
		"amber", "Decision within one working day",
		"green", "Decision within three working days")
	MASHOutcomes = codes("MASH outcome", "Chronicle",
		"no_further_action", "No further action", "advice", "Advice and information given",
		"universal_services", "Signposted to universal services", "early_help", "Early help",
		"social_care_referral", "Referral to children's social care", "strategy_discussion", "Strategy discussion",
		"other", "Other")
	ReferralDecisions = codes("referral decision", "Chronicle",
		"no_further_action", "No further action", "early_help", "Stepped down to early help",
		"assessment", "Child and family assessment (Section 17)", "strategy_discussion", "Strategy discussion (possible Section 47)",
		"other", "Other")
	AssessmentKinds = codes("assessment kind", "Chronicle",
		"early_help", "Early Help Assessment (formerly CAF), by any agency",
		"child_and_family", "Statutory child and family assessment by children's social care (45 working days)")
	AssessmentOutcomes = codes("assessment outcome", "Chronicle",
		"no_further_action", "No further action", "universal_services", "Universal services",
		"early_help_plan", "Early help plan", "child_in_need_plan", "Child in need plan",
		"strategy_discussion", "Strategy discussion", "other", "Other",
		"not_recorded", "Not recorded by the source (a statutory return records when an assessment was authorised, not what followed)")
	NeedBases = codes("statutory basis", "Children Act 1989",
		"section17", "Section 17: child in need", "section47", "Section 47: suspected significant harm")
	StrategyDecisions = codes("strategy decision", "Working Together to Safeguard Children",
		"section47_enquiry", "Section 47 enquiry (single or joint with police)",
		"child_in_need", "Assessment or support as a child in need",
		"early_help", "Early help", "no_further_action", "No further action")
	Section47Outcomes = codes("Section 47 outcome", "Working Together to Safeguard Children",
		"substantiated_conference", "Concerns substantiated: initial child protection conference",
		"substantiated_no_conference", "Concerns substantiated, child not judged at continuing risk: no conference",
		"not_substantiated", "Concerns not substantiated")
	ConferenceKinds = codes("conference kind", "Working Together to Safeguard Children",
		"initial", "Initial child protection conference", "review", "Review child protection conference",
		"pre_birth", "Pre-birth conference for an unborn child", "transfer_in", "Transfer-in conference")
	ConferenceOutcomes = codes("conference outcome", "Chronicle",
		"plan_started", "Child protection plan made", "plan_continued", "Plan continues",
		"plan_ended", "Plan ended", "no_plan", "No plan")
	PlanKinds = codes("plan kind", "Chronicle",
		"early_help", "Early help plan", "child_in_need", "Child in need plan (Section 17)",
		"child_protection", "Child protection plan", "pathway", "Pathway plan (care leaver)")
	FoundBy = codes("found by", "Chronicle",
		"self", "Returned of their own accord", "police", "Found by police", "family", "Found or returned by family or carers",
		"professional", "Found by another professional", "other", "Other")
	ExploitationKinds = codes("exploitation kind", "Chronicle",
		"sexual", "Child sexual exploitation", "criminal", "Child criminal exploitation (including county lines)", "both", "Sexual and criminal")
	PoliceCategories = codes("police category", "Chronicle",
		"domestic_abuse", "Domestic abuse", "exploitation_concern", "Exploitation concern (sexual or criminal)",
		"offence", "Offence", "concern_for_welfare", "Concern for welfare", "antisocial_behaviour", "Antisocial behaviour",
		"online_harm", "Online harm", "other", "Other")
	ChildRoles = codes("child's role", "Chronicle",
		"victim", "Victim", "witness", "Witness", "suspect", "Suspect or offender", "present", "Present at the incident",
		"household_member", "Lives in the household but was not present", "subject", "Subject of the concern")
	HealthProfessionals = codes("health professional", "Chronicle",
		"gp", "GP", "health_visitor", "Health visitor", "school_nurse", "School nurse", "midwife", "Midwife",
		"hospital", "Hospital", "camhs", "CAMHS", "other", "Other")
	ExclusionKinds = codes("exclusion kind", "DfE suspensions and permanent exclusions guidance",
		"suspension", "Suspension (fixed period)", "permanent", "Permanent exclusion")
	HousingKinds = codes("housing concern kind", "Chronicle",
		"homelessness", "Homeless or at risk", "eviction", "Eviction", "overcrowding", "Overcrowding",
		"disrepair", "Disrepair or unsafe conditions", "antisocial_behaviour", "Antisocial behaviour", "other", "Other")
	YouthJusticeKinds = codes("youth justice intervention", "Chronicle",
		"prevention", "Prevention or diversion", "out_of_court_disposal", "Out-of-court disposal (youth caution, conditional caution)",
		"referral_order", "Referral order", "youth_rehabilitation_order", "Youth rehabilitation order",
		"custody", "Custodial sentence or remand", "other", "Other")
	PreventOutcomes = codes("Prevent outcome", "Prevent duty guidance",
		"pending", "Being assessed", "channel", "Adopted by a Channel panel", "other_support", "Referred to other support",
		"no_further_action", "No further action")
	SeriousIncidentKinds = codes("serious incident kind", "Working Together to Safeguard Children",
		"death", "Child died", "serious_harm", "Child seriously harmed")
	RapidReviewOutcomes = codes("rapid review outcome", "Working Together to Safeguard Children",
		"lcspr_recommended", "Local child safeguarding practice review recommended",
		"national_review_recommended", "National review recommended", "no_review", "No further review")
)

// payloadCodeLists lists the payload code lists for the reference.
func payloadCodeLists() []*CodeList {
	return []*CodeList{Channels, RAGRatings, MASHOutcomes, ReferralDecisions, AssessmentKinds, AssessmentOutcomes,
		NeedBases, StrategyDecisions, Section47Outcomes, ConferenceKinds, ConferenceOutcomes, PlanKinds, FoundBy,
		ExploitationKinds, PoliceCategories, ChildRoles, HealthProfessionals, ExclusionKinds, HousingKinds,
		YouthJusticeKinds, PreventOutcomes, SeriousIncidentKinds, RapidReviewOutcomes}
}

// ContactReceived is the payload of contact.received.
type ContactReceived struct {
	ReferralSource  string `json:"referral_source,omitempty" codes:"referral source" doc:"Who made the contact"`
	Channel         string `json:"channel,omitempty" codes:"channel" doc:"How it arrived"`
	Concern         string `json:"concern" doc:"What the contact is about, in the contact's own words where possible"`
	ConsentObtained *bool  `json:"consent_obtained,omitempty" doc:"Whether the family consented to information sharing (sharing without consent is lawful where a child is at risk)"`
}

// Validate implements Payload.
func (c *ContactReceived) Validate() error {
	var p ProblemSet
	ReferralSources.check(&p, "referral_source", c.ReferralSource, false)
	Channels.check(&p, "channel", c.Channel, false)
	checkText(&p, "concern", c.Concern, MaxLongText, true, false)
	return p.Err()
}

// MASHDecision is the payload of mash.decision.
type MASHDecision struct {
	ContactEventID string `json:"contact_event_id,omitempty" doc:"The contact.received event decided on"`
	RAG            string `json:"rag" codes:"RAG rating" doc:"Urgency rating"`
	Outcome        string `json:"outcome" codes:"MASH outcome" doc:"What happens next"`
	Rationale      string `json:"rationale,omitempty" doc:"Why"`
}

// Validate implements Payload.
func (m *MASHDecision) Validate() error {
	var p ProblemSet
	checkRef(&p, "contact_event_id", m.ContactEventID, false)
	RAGRatings.check(&p, "rag", m.RAG, true)
	MASHOutcomes.check(&p, "outcome", m.Outcome, true)
	checkText(&p, "rationale", m.Rationale, MaxLongText, false, false)
	return p.Err()
}

// ReferralReceived is the payload of referral.received.
type ReferralReceived struct {
	Source      string `json:"source" codes:"referral source" doc:"Children in Need census referral source"`
	PrimaryNeed string `json:"primary_need,omitempty" codes:"primary need" doc:"Children in Need census primary need, once known"`
	Concern     string `json:"concern,omitempty" doc:"The reason for referral"`
}

// Validate implements Payload.
func (r *ReferralReceived) Validate() error {
	var p ProblemSet
	ReferralSources.check(&p, "source", r.Source, true)
	PrimaryNeeds.check(&p, "primary_need", r.PrimaryNeed, false)
	checkText(&p, "concern", r.Concern, MaxLongText, false, false)
	return p.Err()
}

// ReferralDecided is the payload of referral.decided.
type ReferralDecided struct {
	ReferralEventID string `json:"referral_event_id,omitempty" doc:"The referral.received event decided on"`
	Decision        string `json:"decision" codes:"referral decision" doc:"What was decided"`
	Rationale       string `json:"rationale,omitempty" doc:"Why"`
}

// Validate implements Payload.
func (r *ReferralDecided) Validate() error {
	var p ProblemSet
	checkRef(&p, "referral_event_id", r.ReferralEventID, false)
	ReferralDecisions.check(&p, "decision", r.Decision, true)
	checkText(&p, "rationale", r.Rationale, MaxLongText, false, false)
	return p.Err()
}

// InformationShared is the payload of information.shared.
type InformationShared struct {
	Text    string `json:"text" doc:"The information shared"`
	Purpose string `json:"purpose,omitempty" doc:"Why it was shared (for example the MASH enquiry it answers)"`
}

// Validate implements Payload.
func (i *InformationShared) Validate() error {
	var p ProblemSet
	checkText(&p, "text", i.Text, MaxLongText, true, false)
	checkText(&p, "purpose", i.Purpose, MaxShortText, false, true)
	return p.Err()
}

// AssessmentStarted is the payload of assessment.started.
type AssessmentStarted struct {
	Kind          string `json:"kind" codes:"assessment kind" doc:"Early help or statutory child and family assessment"`
	AssessmentRef string `json:"assessment_ref,omitempty" doc:"The agency's reference, matched by assessment.completed"`
	LeadAgency    string `json:"lead_agency,omitempty" codes:"agency" doc:"The lead professional's agency (early help)"`
}

// Validate implements Payload.
func (a *AssessmentStarted) Validate() error {
	var p ProblemSet
	AssessmentKinds.check(&p, "kind", a.Kind, true)
	checkText(&p, "assessment_ref", a.AssessmentRef, MaxShortText, false, true)
	Agencies.check(&p, "lead_agency", a.LeadAgency, false)
	return p.Err()
}

// AssessmentCompleted is the payload of assessment.completed.
type AssessmentCompleted struct {
	Kind               string   `json:"kind" codes:"assessment kind" doc:"Early help or statutory child and family assessment"`
	AssessmentRef      string   `json:"assessment_ref,omitempty" doc:"The reference given when it started"`
	LevelOfNeed        int      `json:"level_of_need,omitempty" codes:"level of need" doc:"Level of need found (1 to 4)"`
	Factors            []string `json:"factors,omitempty" codes:"assessment factor" doc:"Children in Need census factors identified at the end of assessment"`
	PrimaryNeed        string   `json:"primary_need,omitempty" codes:"primary need" doc:"Children in Need census primary need"`
	Outcome            string   `json:"outcome" codes:"assessment outcome" doc:"What follows"`
	InternalReviewDate Date     `json:"internal_review_date,omitempty" doc:"When the assessment was reviewed internally before authorisation (CIN census AssessmentInternalReviewDate)"`
}

// Validate implements Payload.
func (a *AssessmentCompleted) Validate() error {
	var p ProblemSet
	AssessmentKinds.check(&p, "kind", a.Kind, true)
	checkText(&p, "assessment_ref", a.AssessmentRef, MaxShortText, false, true)
	checkLevel(&p, "level_of_need", a.LevelOfNeed, false)
	for i, f := range a.Factors {
		AssessmentFactors.check(&p, indexed("factors", i), f, true)
	}
	PrimaryNeeds.check(&p, "primary_need", a.PrimaryNeed, false)
	AssessmentOutcomes.check(&p, "outcome", a.Outcome, true)
	checkDate(&p, "internal_review_date", a.InternalReviewDate)
	return p.Err()
}

// NeedLevelChanged is the payload of need_level.changed.
type NeedLevelChanged struct {
	From      int    `json:"from,omitempty" codes:"level of need" doc:"Previous level, when known"`
	To        int    `json:"to" codes:"level of need" doc:"New level"`
	Basis     string `json:"basis,omitempty" codes:"statutory basis" doc:"For level 4: Section 17 or Section 47"`
	Rationale string `json:"rationale,omitempty" doc:"Why the level changed"`
}

// Validate implements Payload.
func (n *NeedLevelChanged) Validate() error {
	var p ProblemSet
	checkLevel(&p, "from", n.From, false)
	checkLevel(&p, "to", n.To, true)
	NeedBases.check(&p, "basis", n.Basis, false)
	if n.Basis != "" && n.To != 4 {
		p.Add("basis", "is only for level 4")
	}
	checkText(&p, "rationale", n.Rationale, MaxLongText, false, false)
	return p.Err()
}

// CaseClosed is the payload of case.closed.
type CaseClosed struct {
	Reason string `json:"reason" codes:"reason for closure" doc:"Children in Need census reason for closure"`
	Note   string `json:"note,omitempty" doc:"Anything a later reader should know"`
}

// Validate implements Payload.
func (c *CaseClosed) Validate() error {
	var p ProblemSet
	ClosureReasons.check(&p, "reason", c.Reason, true)
	checkText(&p, "note", c.Note, MaxLongText, false, false)
	return p.Err()
}

// TransferIn is the payload of transfer.in.
type TransferIn struct {
	FromLA string `json:"from_la" doc:"The previous local authority's three-digit DfE LA number"`
	Reason string `json:"reason,omitempty" doc:"Why"`
}

// Validate implements Payload.
func (t *TransferIn) Validate() error {
	var p ProblemSet
	checkLA(&p, "from_la", t.FromLA)
	checkText(&p, "reason", t.Reason, MaxShortText, false, true)
	return p.Err()
}

// TransferOut is the payload of transfer.out.
type TransferOut struct {
	ToLA   string `json:"to_la" doc:"The receiving local authority's three-digit DfE LA number"`
	Reason string `json:"reason,omitempty" doc:"Why"`
}

// Validate implements Payload.
func (t *TransferOut) Validate() error {
	var p ProblemSet
	checkLA(&p, "to_la", t.ToLA)
	checkText(&p, "reason", t.Reason, MaxShortText, false, true)
	return p.Err()
}

func checkLA(p *ProblemSet, field, la string) {
	switch {
	case la == "":
		p.Add(field, "is required (three-digit DfE LA number)")
	case len(la) != 3 || !allDigits(la):
		p.Add(field, "%s is not a three-digit DfE LA number", quote(la))
	}
}

// StrategyDiscussion is the payload of strategy_discussion.held.
type StrategyDiscussion struct {
	Decision  string   `json:"decision" codes:"strategy decision" doc:"What the discussion decided"`
	Attendees []string `json:"attendees,omitempty" codes:"agency" doc:"Agencies taking part"`
}

// Validate implements Payload.
func (s *StrategyDiscussion) Validate() error {
	var p ProblemSet
	StrategyDecisions.check(&p, "decision", s.Decision, true)
	for i, a := range s.Attendees {
		Agencies.check(&p, indexed("attendees", i), a, true)
	}
	return p.Err()
}

// Section47Started is the payload of section47.started.
type Section47Started struct {
	StrategyDiscussionEventID string `json:"strategy_discussion_event_id,omitempty" doc:"The strategy discussion that decided on the enquiry"`
	JointWithPolice           bool   `json:"joint_with_police,omitempty" doc:"Whether it is a joint investigation with police"`
	ConferenceDue             Date   `json:"conference_due,omitempty" doc:"The target date for an initial child protection conference, when one may follow (CIN census InitialCPCtarget)"`
	ConferenceNotRequired     bool   `json:"conference_not_required,omitempty" doc:"The enquiry concluded that no initial conference was needed (CIN census ICPCnotRequired)"`
}

// Validate implements Payload.
func (s *Section47Started) Validate() error {
	var p ProblemSet
	checkRef(&p, "strategy_discussion_event_id", s.StrategyDiscussionEventID, false)
	checkDate(&p, "conference_due", s.ConferenceDue)
	return p.Err()
}

// Section47Completed is the payload of section47.completed.
type Section47Completed struct {
	Outcome string `json:"outcome" codes:"Section 47 outcome" doc:"The outcome of the enquiry"`
}

// Validate implements Payload.
func (s *Section47Completed) Validate() error {
	var p ProblemSet
	Section47Outcomes.check(&p, "outcome", s.Outcome, true)
	return p.Err()
}

// Conference is the payload of conference.held.
type Conference struct {
	Kind     string `json:"kind" codes:"conference kind" doc:"Which conference"`
	Outcome  string `json:"outcome" codes:"conference outcome" doc:"Its decision"`
	Category string `json:"category,omitempty" codes:"category of abuse" doc:"Category of abuse, when a plan is made or continues"`
}

// Validate implements Payload.
func (c *Conference) Validate() error {
	var p ProblemSet
	ConferenceKinds.check(&p, "kind", c.Kind, true)
	ConferenceOutcomes.check(&p, "outcome", c.Outcome, true)
	AbuseCategories.check(&p, "category", c.Category, c.Outcome == "plan_started")
	return p.Err()
}

// PlanStarted is the payload of plan.started.
type PlanStarted struct {
	Kind     string `json:"kind" codes:"plan kind" doc:"Which plan"`
	Category string `json:"category,omitempty" codes:"category of abuse" doc:"Required for a child protection plan"`
	// LatestCategory and PreviousPlans come from statutory returns, which
	// keep a plan as one record rather than as a series of events.
	LatestCategory string `json:"latest_category,omitempty" codes:"category of abuse" doc:"The category at the plan's latest review, when a statutory return gives it (CIN census LatestCategoryOfAbuse)"`
	PreviousPlans  *int   `json:"previous_plans,omitempty" doc:"How many child protection plans the child had before this one (CIN census NumberOfPreviousCPP); left out when not known, which is not the same as 0"`
}

// Validate implements Payload.
func (s *PlanStarted) Validate() error {
	var p ProblemSet
	PlanKinds.check(&p, "kind", s.Kind, true)
	AbuseCategories.check(&p, "category", s.Category, s.Kind == "child_protection")
	AbuseCategories.check(&p, "latest_category", s.LatestCategory, false)
	if s.LatestCategory != "" && s.Kind != "child_protection" {
		p.Add("latest_category", "is only for a child protection plan")
	}
	if s.PreviousPlans != nil && *s.PreviousPlans < 0 {
		p.Add("previous_plans", "%d is negative", *s.PreviousPlans)
	}
	if s.Category != "" && s.Kind != "child_protection" && s.Kind != "" {
		p.Add("category", "is only for a child protection plan")
	}
	return p.Err()
}

// PlanEnded is the payload of plan.ended.
type PlanEnded struct {
	Kind   string `json:"kind" codes:"plan kind" doc:"Which plan"`
	Reason string `json:"reason,omitempty" doc:"Why it ended"`
}

// Validate implements Payload.
func (s *PlanEnded) Validate() error {
	var p ProblemSet
	PlanKinds.check(&p, "kind", s.Kind, true)
	checkText(&p, "reason", s.Reason, MaxLongText, false, false)
	return p.Err()
}

// CoreGroup is the payload of core_group.held.
type CoreGroup struct {
	Attendees []string `json:"attendees,omitempty" codes:"agency" doc:"Agencies taking part"`
}

// Validate implements Payload.
func (c *CoreGroup) Validate() error {
	var p ProblemSet
	for i, a := range c.Attendees {
		Agencies.check(&p, indexed("attendees", i), a, true)
	}
	return p.Err()
}

// LookedAfterStarted is the payload of looked_after.started.
type LookedAfterStarted struct {
	LegalStatus    string `json:"legal_status" codes:"legal status" doc:"SSDA903 legal status"`
	Placement      string `json:"placement,omitempty" doc:"SSDA903 placement type code, for example U4 (foster placement with other foster carer)"`
	CategoryOfNeed string `json:"category_of_need,omitempty" codes:"primary need" doc:"SSDA903 category of need (CIN), the census's primary need codes N1 to N8"`
}

// Validate implements Payload.
func (l *LookedAfterStarted) Validate() error {
	var p ProblemSet
	LegalStatuses.check(&p, "legal_status", l.LegalStatus, true)
	checkText(&p, "placement", l.Placement, 8, false, true)
	PrimaryNeeds.check(&p, "category_of_need", l.CategoryOfNeed, false)
	return p.Err()
}

// LookedAfterChanged is the payload of looked_after.changed.
type LookedAfterChanged struct {
	ReasonNewEpisode string `json:"reason_new_episode" codes:"reason for new episode" doc:"SSDA903 reason for new episode: what changed"`
	LegalStatus      string `json:"legal_status" codes:"legal status" doc:"SSDA903 legal status from this change"`
	Placement        string `json:"placement,omitempty" doc:"SSDA903 placement type code from this change"`
	CategoryOfNeed   string `json:"category_of_need,omitempty" codes:"primary need" doc:"SSDA903 category of need (CIN)"`
}

// Validate implements Payload.
func (l *LookedAfterChanged) Validate() error {
	var p ProblemSet
	ReasonsNewEpisode.check(&p, "reason_new_episode", l.ReasonNewEpisode, true)
	if l.ReasonNewEpisode == "S" {
		p.Add("reason_new_episode", "S starts a period of care: publish looked_after.started")
	}
	LegalStatuses.check(&p, "legal_status", l.LegalStatus, true)
	checkText(&p, "placement", l.Placement, 8, false, true)
	PrimaryNeeds.check(&p, "category_of_need", l.CategoryOfNeed, false)
	return p.Err()
}

// LookedAfterReview is the payload of looked_after.review_held.
type LookedAfterReview struct {
	Participation string `json:"participation,omitempty" codes:"review participation" doc:"SSDA903 code for how the child took part"`
}

// Validate implements Payload.
func (l *LookedAfterReview) Validate() error {
	var p ProblemSet
	ReviewParticipation.check(&p, "participation", l.Participation, false)
	return p.Err()
}

// ChildDetails is the payload of child.details_recorded.
type ChildDetails struct {
	Sex               string   `json:"sex,omitempty" codes:"sex" doc:"DfE sex code"`
	Ethnicity         string   `json:"ethnicity,omitempty" codes:"ethnicity" doc:"DfE ethnicity code"`
	Disabilities      []string `json:"disabilities,omitempty" codes:"disability" doc:"Children in Need census disability codes"`
	FormerUPN         string   `json:"former_upn,omitempty" doc:"A UPN the child was known by before (CIN census FormerUPN)"`
	UPNUnknown        string   `json:"upn_unknown,omitempty" codes:"UPN unknown reason" doc:"Why the child has no UPN (CIN census UPNunknown)"`
	ExpectedBirthDate Date     `json:"expected_birth_date,omitempty" doc:"Expected date of birth, for a child not yet born when recorded"`
	DeathDate         Date     `json:"death_date,omitempty" doc:"Date of death"`
}

// Validate implements Payload.
func (c *ChildDetails) Validate() error {
	var p ProblemSet
	Sexes.check(&p, "sex", c.Sex, false)
	Ethnicities.check(&p, "ethnicity", c.Ethnicity, false)
	for i, d := range c.Disabilities {
		Disabilities.check(&p, indexed("disabilities", i), d, true)
	}
	if c.FormerUPN != "" {
		if err := checkUPN(c.FormerUPN); err != nil {
			p.Add("former_upn", "%s", err.Error())
		}
	}
	UPNUnknownReasons.check(&p, "upn_unknown", c.UPNUnknown, false)
	checkDate(&p, "expected_birth_date", c.ExpectedBirthDate)
	checkDate(&p, "death_date", c.DeathDate)
	return p.Err()
}

// LookedAfterEnded is the payload of looked_after.ended.
type LookedAfterEnded struct {
	Reason string `json:"reason,omitempty" doc:"SSDA903 reason episode ceased, for example E13 (left care to live with parents)"`
	Note   string `json:"note,omitempty" doc:"Anything a later reader should know"`
}

// Validate implements Payload.
func (l *LookedAfterEnded) Validate() error {
	var p ProblemSet
	checkText(&p, "reason", l.Reason, 8, false, true)
	checkText(&p, "note", l.Note, MaxLongText, false, false)
	return p.Err()
}

// MissingReported is the payload of missing.reported (schema version 2).
type MissingReported struct {
	EpisodeRef      string `json:"episode_ref" doc:"The agency's reference for the episode, repeated on missing.returned and return_interview.completed"`
	Category        string `json:"category" codes:"missing category" doc:"Police classification"`
	RiskLevel       string `json:"risk_level,omitempty" codes:"risk level" doc:"Police risk grading"`
	LookedAfterCode string `json:"looked_after_code,omitempty" codes:"SSDA903 missing code" doc:"For a looked-after child: SSDA903 missing (M) or away without authorisation (A)"`
}

// Validate implements Payload.
func (m *MissingReported) Validate() error {
	var p ProblemSet
	checkText(&p, "episode_ref", m.EpisodeRef, MaxShortText, true, true)
	MissingCategories.check(&p, "category", m.Category, true)
	RiskLevels.check(&p, "risk_level", m.RiskLevel, false)
	LookedAfterMissingCodes.check(&p, "looked_after_code", m.LookedAfterCode, false)
	return p.Err()
}

// MissingReturned is the payload of missing.returned.
type MissingReturned struct {
	EpisodeRef string `json:"episode_ref" doc:"The episode's reference from missing.reported"`
	FoundBy    string `json:"found_by,omitempty" codes:"found by" doc:"How the child came back"`
	Location   string `json:"location,omitempty" doc:"Where the child was found, when known"`
}

// Validate implements Payload.
func (m *MissingReturned) Validate() error {
	var p ProblemSet
	checkText(&p, "episode_ref", m.EpisodeRef, MaxShortText, true, true)
	FoundBy.check(&p, "found_by", m.FoundBy, false)
	checkText(&p, "location", m.Location, MaxShortText, false, true)
	return p.Err()
}

// ReturnInterview is the payload of return_interview.completed.
type ReturnInterview struct {
	EpisodeRef  string `json:"episode_ref" doc:"The episode's reference from missing.reported"`
	Accepted    *bool  `json:"accepted,omitempty" doc:"Whether the child took part (a declined offer still counts as offered); left out when the agency did not record it, which is not the same as declined"`
	Disclosures string `json:"disclosures,omitempty" doc:"What the child said that others need to know"`
}

// Validate implements Payload.
func (r *ReturnInterview) Validate() error {
	var p ProblemSet
	checkText(&p, "episode_ref", r.EpisodeRef, MaxShortText, true, true)
	checkText(&p, "disclosures", r.Disclosures, MaxLongText, false, false)
	return p.Err()
}

// ExploitationScreening is the payload of exploitation.screening.
type ExploitationScreening struct {
	Kind      string `json:"kind" codes:"exploitation kind" doc:"What was screened for"`
	RiskLevel string `json:"risk_level" codes:"risk level" doc:"The screening's grade"`
	Tool      string `json:"tool,omitempty" doc:"The screening tool used"`
}

// Validate implements Payload.
func (e *ExploitationScreening) Validate() error {
	var p ProblemSet
	ExploitationKinds.check(&p, "kind", e.Kind, true)
	RiskLevels.check(&p, "risk_level", e.RiskLevel, true)
	checkText(&p, "tool", e.Tool, MaxShortText, false, true)
	return p.Err()
}

// PoliceReport is the payload of police.incident and police.notification.
type PoliceReport struct {
	Category  string `json:"category" codes:"police category" doc:"What kind of incident or notification"`
	ChildRole string `json:"child_role" codes:"child's role" doc:"The child's part in it"`
	RiskLevel string `json:"risk_level,omitempty" codes:"risk level" doc:"DASH or other risk grade, when assessed"`
	CrimeRef  string `json:"crime_ref,omitempty" doc:"Crime or occurrence reference"`
}

// Validate implements Payload.
func (r *PoliceReport) Validate() error {
	var p ProblemSet
	PoliceCategories.check(&p, "category", r.Category, true)
	ChildRoles.check(&p, "child_role", r.ChildRole, true)
	RiskLevels.check(&p, "risk_level", r.RiskLevel, false)
	checkText(&p, "crime_ref", r.CrimeRef, MaxShortText, false, true)
	return p.Err()
}

// EDAttendance is the payload of health.ed_attendance.
type EDAttendance struct {
	Reason              string `json:"reason" doc:"Presenting complaint"`
	Injury              bool   `json:"injury,omitempty" doc:"Whether the attendance was for an injury"`
	SafeguardingConcern bool   `json:"safeguarding_concern,omitempty" doc:"Whether staff raised a safeguarding concern"`
}

// Validate implements Payload.
func (e *EDAttendance) Validate() error {
	var p ProblemSet
	checkText(&p, "reason", e.Reason, MaxShortText, true, true)
	return p.Err()
}

// Injury is the payload of health.injury.
type Injury struct {
	Description           string `json:"description" doc:"The injury seen"`
	Mechanism             string `json:"mechanism,omitempty" doc:"How it was said to have happened"`
	ExplanationConsistent *bool  `json:"explanation_consistent,omitempty" doc:"Whether the explanation fits the injury"`
}

// Validate implements Payload.
func (i *Injury) Validate() error {
	var p ProblemSet
	checkText(&p, "description", i.Description, MaxLongText, true, false)
	checkText(&p, "mechanism", i.Mechanism, MaxLongText, false, false)
	return p.Err()
}

// HealthConcern is the payload of health.concern.
type HealthConcern struct {
	Professional string `json:"professional,omitempty" codes:"health professional" doc:"Who raised it"`
	Concern      string `json:"concern" doc:"The concern"`
}

// Validate implements Payload.
func (h *HealthConcern) Validate() error {
	var p ProblemSet
	HealthProfessionals.check(&p, "professional", h.Professional, false)
	checkText(&p, "concern", h.Concern, MaxLongText, true, false)
	return p.Err()
}

// Exclusion is the payload of education.exclusion.
type Exclusion struct {
	Kind   string `json:"kind" codes:"exclusion kind" doc:"Suspension or permanent exclusion"`
	Days   int    `json:"days,omitempty" doc:"School days, for a suspension (at most 45 in a school year)"`
	Reason string `json:"reason,omitempty" doc:"The school's reason"`
}

// Validate implements Payload.
func (e *Exclusion) Validate() error {
	var p ProblemSet
	ExclusionKinds.check(&p, "kind", e.Kind, true)
	switch {
	case e.Days < 0 || e.Days > 45:
		p.Add("days", "%d is outside 0 to 45 (the legal maximum of suspension days in a school year)", e.Days)
	case e.Days > 0 && e.Kind == "permanent":
		p.Add("days", "is only for a suspension")
	}
	checkText(&p, "reason", e.Reason, MaxShortText, false, true)
	return p.Err()
}

// PersistentAbsence is the payload of education.persistent_absence.
type PersistentAbsence struct {
	AttendancePercent *float64 `json:"attendance_percent,omitempty" doc:"Attendance over the period, 0 to 100; left out when not given, which is not the same as 0"`
	Period            string   `json:"period" doc:"The period measured, for example 2024/25 autumn term"`
}

// Validate implements Payload.
func (a *PersistentAbsence) Validate() error {
	var p ProblemSet
	if v := a.AttendancePercent; v != nil && (*v < 0 || *v > 100) {
		p.Add("attendance_percent", "%g is outside 0 to 100", *v)
	}
	checkText(&p, "period", a.Period, MaxShortText, true, true)
	return p.Err()
}

// MissingEducation is the payload of education.missing_education.
type MissingEducation struct {
	LastSchool string `json:"last_school,omitempty" doc:"The last school the child attended"`
	Reason     string `json:"reason,omitempty" doc:"What is known"`
}

// Validate implements Payload.
func (m *MissingEducation) Validate() error {
	var p ProblemSet
	checkText(&p, "last_school", m.LastSchool, MaxShortText, false, true)
	checkText(&p, "reason", m.Reason, MaxLongText, false, false)
	return p.Err()
}

// EducationConcern is the payload of education.concern.
type EducationConcern struct {
	Concern string `json:"concern" doc:"The concern as logged by the designated safeguarding lead"`
}

// Validate implements Payload.
func (e *EducationConcern) Validate() error {
	var p ProblemSet
	checkText(&p, "concern", e.Concern, MaxLongText, true, false)
	return p.Err()
}

// HousingConcern is the payload of housing.concern.
type HousingConcern struct {
	Kind    string `json:"kind" codes:"housing concern kind" doc:"What kind of concern"`
	Concern string `json:"concern,omitempty" doc:"Details"`
}

// Validate implements Payload.
func (h *HousingConcern) Validate() error {
	var p ProblemSet
	HousingKinds.check(&p, "kind", h.Kind, true)
	checkText(&p, "concern", h.Concern, MaxLongText, false, false)
	return p.Err()
}

// YouthJusticeIntervention is the payload of youth_justice.intervention.
type YouthJusticeIntervention struct {
	Kind    string `json:"kind" codes:"youth justice intervention" doc:"The intervention"`
	Offence string `json:"offence,omitempty" doc:"The offence, when there is one"`
}

// Validate implements Payload.
func (y *YouthJusticeIntervention) Validate() error {
	var p ProblemSet
	YouthJusticeKinds.check(&p, "kind", y.Kind, true)
	checkText(&p, "offence", y.Offence, MaxShortText, false, true)
	return p.Err()
}

// PreventReferral is the payload of prevent.referral.
type PreventReferral struct {
	Concern string `json:"concern" doc:"The concern"`
	Outcome string `json:"outcome,omitempty" codes:"Prevent outcome" doc:"Where it went"`
}

// Validate implements Payload.
func (r *PreventReferral) Validate() error {
	var p ProblemSet
	checkText(&p, "concern", r.Concern, MaxLongText, true, false)
	PreventOutcomes.check(&p, "outcome", r.Outcome, false)
	return p.Err()
}

// SeriousIncident is the payload of serious_incident.notified.
type SeriousIncident struct {
	Kind     string `json:"kind" codes:"serious incident kind" doc:"Death or serious harm"`
	Notified Date   `json:"notified,omitempty" doc:"When the national panel was notified"`
}

// Validate implements Payload.
func (s *SeriousIncident) Validate() error {
	var p ProblemSet
	SeriousIncidentKinds.check(&p, "kind", s.Kind, true)
	checkDate(&p, "notified", s.Notified)
	return p.Err()
}

// RapidReview is the payload of rapid_review.completed.
type RapidReview struct {
	Outcome  string `json:"outcome" codes:"rapid review outcome" doc:"What review follows"`
	Learning string `json:"learning,omitempty" doc:"Immediate learning identified"`
}

// Validate implements Payload.
func (r *RapidReview) Validate() error {
	var p ProblemSet
	RapidReviewOutcomes.check(&p, "outcome", r.Outcome, true)
	checkText(&p, "learning", r.Learning, MaxLongText, false, false)
	return p.Err()
}

// RecordCorrected is the payload of record.corrected. Only the fields given
// are corrected; the rest of the original stands.
type RecordCorrected struct {
	EventID     string          `json:"event_id" doc:"The event being corrected"`
	Reason      string          `json:"reason" doc:"Why it is corrected"`
	Summary     string          `json:"summary,omitempty" doc:"Corrected one-line summary"`
	OccurredAt  string          `json:"occurred_at,omitempty" doc:"Corrected time it happened (RFC 3339)"`
	Sensitivity string          `json:"sensitivity,omitempty" codes:"sensitivity" doc:"Corrected sensitivity"`
	Reliability string          `json:"reliability,omitempty" codes:"reliability" doc:"Corrected reliability"`
	Payload     json.RawMessage `json:"payload,omitempty" doc:"Corrected payload, complete, in the original type's current shape"`
}

// Validate implements Payload. Whether the corrected payload fits the
// original event's type can only be checked against the original, which the
// ingest path and the projector do.
func (c *RecordCorrected) Validate() error {
	var p ProblemSet
	checkRef(&p, "event_id", c.EventID, true)
	checkText(&p, "reason", c.Reason, MaxLongText, true, false)
	checkText(&p, "summary", c.Summary, MaxSummary, false, true)
	if c.OccurredAt != "" {
		parseTime(&p, "occurred_at", c.OccurredAt)
	}
	Sensitivities.check(&p, "sensitivity", c.Sensitivity, false)
	Reliabilities.check(&p, "reliability", c.Reliability, false)
	if c.Summary == "" && c.OccurredAt == "" && c.Sensitivity == "" && c.Reliability == "" && len(c.Payload) == 0 {
		p.Add("", "corrects nothing: give at least one of summary, occurred_at, sensitivity, reliability, payload")
	}
	return p.Err()
}

// RecordRetracted is the payload of record.retracted.
type RecordRetracted struct {
	EventID string `json:"event_id" doc:"The event being retracted"`
	Reason  string `json:"reason" doc:"Why"`
}

// Validate implements Payload.
func (r *RecordRetracted) Validate() error {
	var p ProblemSet
	checkRef(&p, "event_id", r.EventID, true)
	checkText(&p, "reason", r.Reason, MaxLongText, true, false)
	return p.Err()
}

// SubjectsLinked is the payload of subjects.linked.
type SubjectsLinked struct {
	A      Identifier `json:"a" doc:"An identifier of the first record"`
	B      Identifier `json:"b" doc:"An identifier of the second record"`
	Reason string     `json:"reason" doc:"The practitioner's reason"`
}

// Validate implements Payload.
func (l *SubjectsLinked) Validate() error { return validatePair(l.A, l.B, l.Reason) }

// SubjectsUnlinked is the payload of subjects.unlinked.
type SubjectsUnlinked struct {
	A      Identifier `json:"a" doc:"An identifier that should no longer be joined to b"`
	B      Identifier `json:"b" doc:"The other identifier"`
	Reason string     `json:"reason" doc:"The practitioner's reason"`
}

// Validate implements Payload.
func (u *SubjectsUnlinked) Validate() error { return validatePair(u.A, u.B, u.Reason) }

func validatePair(a, b Identifier, reason string) error {
	var p ProblemSet
	for _, side := range []struct {
		field string
		id    Identifier
	}{{"a", a}, {"b", b}} {
		if err := ValidateIdentifier(side.id); err != nil {
			p.Add(side.field, "%s", err.Error())
		}
	}
	if a == b && a.Value != "" {
		p.Add("b", "is the same identifier as a")
	}
	checkText(&p, "reason", reason, MaxLongText, true, false)
	return p.Err()
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
