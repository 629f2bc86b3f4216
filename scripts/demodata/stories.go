package demodata

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// story writes a household's history according to its profile.
func (g *gen) story(h *household) {
	for _, c := range h.children {
		switch h.profile {
		case universal:
			g.universal(c)
		case moderate:
			g.moderate(c)
		default:
			g.escalating(h, c)
		}
	}
	g.householdEvents(h)
}

var contactSources = []struct {
	code, agency, who string
}{
	{"2A", "education", "school"}, {"3B", "health", "health visitor"}, {"3A", "health", "GP"}, {"6", "police", "police"},
	{"1A", "voluntary", "a relative"}, {"4", "housing", "housing"}, {"3E", "health", "the emergency department"}, {"1B", "voluntary", "a neighbour"},
}

var contactConcerns = []string{
	"arriving at school hungry and tired", "not brought to two health appointments", "bruise on the cheek, explanation vague",
	"parent appeared intoxicated at collection", "low school attendance this half term", "home conditions described as poor",
	"parents arguing loudly most nights", "child says there is no food at home", "left alone in the evenings",
}

// contact is a front-door contact and the hub's decision on it.
func (g *gen) contact(c *person, at time.Time, outcome, rag string) *events.Event {
	src := contactSources[g.rng.IntN(len(contactSources))]
	concern := contactConcerns[g.rng.IntN(len(contactConcerns))]
	e := g.emit("contact.received", "social_care", at, []*person{c},
		&events.ContactReceived{ReferralSource: src.code, Channel: []string{"phone", "email", "online"}[g.rng.IntN(3)], Concern: "Contact from " + src.who + ": " + concern + "."},
		"Contact from "+src.who+": "+concern, opts{})
	if e != nil && g.chance(0.8) {
		g.emit("mash.decision", "hub", at.Add(time.Duration(2+g.rng.IntN(40))*time.Hour), []*person{c},
			&events.MASHDecision{ContactEventID: e.ID, RAG: rag, Outcome: outcome, Rationale: "Information shared by partner agencies reviewed."},
			fmt.Sprintf("MASH decision: %s (%s)", outcome, rag), opts{})
	}
	return e
}

// universal children have one or two universal-level contacts, or a single
// routine record from one agency.
func (g *gen) universal(c *person) {
	first := g.day(g.start, g.end)
	switch g.rng.IntN(4) {
	case 0:
		g.emit("health.ed_attendance", "health", first, []*person{c}, &events.EDAttendance{Reason: "Minor injury playing football"}, "ED attendance: minor sports injury", opts{})
	default:
		g.contact(c, first, []string{"advice", "universal_services", "no_further_action"}[g.rng.IntN(3)], "green")
	}
	if g.chance(0.25) {
		g.contact(c, g.day(first, g.end), "universal_services", "green")
	}
}

// moderate children receive early help: an assessment, a plan, and the
// school, health and housing records around it.
func (g *gen) moderate(c *person) {
	t := g.day(g.start, g.end.AddDate(0, -6, 0))
	g.contact(c, t, "early_help", "amber")
	for range g.rng.IntN(3) {
		g.contact(c, g.day(t, g.end), []string{"advice", "early_help"}[g.rng.IntN(2)], "green")
	}
	g.earlyHelp(c, t.AddDate(0, 0, 7+g.rng.IntN(20)))
	g.background(c, t, 20+g.rng.IntN(28))
}

func (g *gen) earlyHelp(c *person, t time.Time) {
	ref := fmt.Sprintf("EHA-%06d", g.refSeq)
	lead := []string{"education", "early_help", "health"}[g.rng.IntN(3)]
	g.emit("assessment.started", "early_help", t, []*person{c}, &events.AssessmentStarted{Kind: "early_help", AssessmentRef: ref, LeadAgency: lead}, "Early Help Assessment started", opts{})
	done := t.AddDate(0, 0, 10+g.rng.IntN(30))
	level := 2 + g.rng.IntN(2)
	factors := [][]string{{"3B"}, {"4B", "1B"}, {"16A"}, {"2B", "3B"}, {"4A"}, {"14A"}}[g.rng.IntN(6)]
	g.emit("assessment.completed", "early_help", done, []*person{c},
		&events.AssessmentCompleted{Kind: "early_help", AssessmentRef: ref, LevelOfNeed: level, Factors: factors, Outcome: "early_help_plan"},
		fmt.Sprintf("Early Help Assessment completed: level %d", level), opts{})
	g.emit("need_level.changed", "early_help", done, []*person{c}, &events.NeedLevelChanged{From: 1, To: level, Rationale: "Early help assessment"}, fmt.Sprintf("Level of need raised to %d", level), opts{})
	g.emit("plan.started", "early_help", done.AddDate(0, 0, 3), []*person{c}, &events.PlanStarted{Kind: "early_help"}, "Early help plan started", opts{})
	if g.chance(0.6) {
		end := done.AddDate(0, 3+g.rng.IntN(6), 0)
		g.emit("plan.ended", "early_help", end, []*person{c}, &events.PlanEnded{Kind: "early_help", Reason: "Outcomes achieved"}, "Early help plan ended: outcomes achieved", opts{})
		g.emit("need_level.changed", "early_help", end, []*person{c}, &events.NeedLevelChanged{From: level, To: 1, Rationale: "Plan closed"}, "Level of need stepped down to 1", opts{})
	}
}

// background is the everyday record around a child known to services.
func (g *gen) background(c *person, from time.Time, n int) {
	for range n {
		t := g.day(from.AddDate(0, -6, 0), g.end)
		switch g.rng.IntN(7) {
		case 0, 1:
			if c.upn != "" || g.chance(0.5) {
				g.emit("education.concern", "education", t, []*person{c}, &events.EducationConcern{Concern: "DSL log: " + contactConcerns[g.rng.IntN(len(contactConcerns))] + "."}, "School concern logged by the designated safeguarding lead", opts{})
			}
		case 2:
			pct := 75 + g.rng.Float64()*14
			g.emit("education.persistent_absence", "education", t, []*person{c}, &events.PersistentAbsence{AttendancePercent: new(float64(int(pct*10)) / 10), Period: fmt.Sprintf("%d/%02d term", t.Year(), (t.Year()+1)%100)},
				fmt.Sprintf("Persistent absence: attendance %.1f%%", pct), opts{})
		case 3:
			g.emit("health.ed_attendance", "health", t, []*person{c}, &events.EDAttendance{Reason: "Attended with " + []string{"asthma", "a sprained wrist", "abdominal pain", "a head bump"}[g.rng.IntN(4)]}, "Emergency department attendance", opts{})
		case 4:
			g.emit("health.concern", "health", t, []*person{c}, &events.HealthConcern{Professional: []string{"gp", "school_nurse", "health_visitor"}[g.rng.IntN(3)], Concern: "Missed appointments and weight loss noted."}, "Health concern: missed appointments", opts{})
		case 5:
			if g.chance(0.5) {
				g.emit("education.exclusion", "education", t, []*person{c}, &events.Exclusion{Kind: "suspension", Days: 1 + g.rng.IntN(4), Reason: "Persistent disruptive behaviour"}, "Suspended from school", opts{})
			}
		case 6:
			g.emit("information.shared", "voluntary", t, []*person{c}, &events.InformationShared{Text: "Youth club worker reports the child often stays late and seems reluctant to go home.", Purpose: "Information sharing"},
				"Voluntary sector: reluctant to go home after youth club", opts{reliability: "reported"})
		}
	}
}

// escalating children: contacts, early help, then repeat missing episodes
// and exploitation concerns, then statutory child protection.
func (g *gen) escalating(h *household, c *person) {
	if c.unborn {
		g.unborn(h, c)
		return
	}
	t := g.day(g.start, g.start.AddDate(1, 0, 0))
	g.contact(c, t, "early_help", "amber")
	g.earlyHelp(c, t.AddDate(0, 0, 14))
	g.background(c, t, 50+g.rng.IntN(50))

	// Missing episodes, clustering as exploitation takes hold.
	m := t.AddDate(0, 2+g.rng.IntN(4), 0)
	episodes := 4 + g.rng.IntN(10)
	lac := false
	for i := range episodes {
		g.missing(c, m, lac)
		if i == 1 {
			g.emit("police.notification", "police", m.AddDate(0, 0, 2), []*person{c}, &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim", RiskLevel: "high"},
				"Police notification: criminal exploitation concern (county lines indicators)", opts{})
			g.emit("exploitation.screening", "social_care", m.AddDate(0, 0, 5), []*person{c}, &events.ExploitationScreening{Kind: "criminal", RiskLevel: []string{"medium", "high"}[g.rng.IntN(2)], Tool: "CE screening tool"},
				"Exploitation screening completed", opts{})
		}
		if i == 2 {
			lac = g.protection(c, m.AddDate(0, 0, 3))
		}
		m = m.AddDate(0, 0, 5+g.rng.IntN(40))
	}
	if g.chance(0.4) {
		g.emit("police.incident", "police", g.day(m, g.end), []*person{c}, &events.PoliceReport{Category: "offence", ChildRole: "suspect", CrimeRef: fmt.Sprintf("CR/%d", g.refSeq)}, "Arrested: possession with intent to supply", opts{})
		g.emit("youth_justice.intervention", "youth_justice", g.day(m, g.end), []*person{c}, &events.YouthJusticeIntervention{Kind: "out_of_court_disposal", Offence: "Possession with intent to supply"}, "Youth justice: out-of-court disposal", opts{})
	}
	// For some children the police id never reaches the hub with another
	// identifier: a practitioner links the records by hand.
	if g.chance(0.15) && c.police != "" {
		c.knownBy["police-unlinked"] = true
		g.emit("subjects.linked", "hub", g.day(m, g.end), []*person{c},
			&events.SubjectsLinked{A: events.Identifier{Scheme: events.SchemePolicePersonID, Value: c.police}, B: events.Identifier{Scheme: events.SchemeLAPersonID, Value: c.la}, Reason: "Confirmed with the police MASH officer: same child."},
			"Records linked by the hub: police record confirmed as the same child", opts{})
	}
}

// missing writes one episode: the report, the return, and (usually) the
// return home interview, sometimes later than 72 hours.
func (g *gen) missing(c *person, at time.Time, lookedAfter bool) {
	g.episodeSeq++
	ref := fmt.Sprintf("MP/%02d/%05d", at.Year()%100, g.episodeSeq)
	start := time.Date(at.Year(), at.Month(), at.Day(), 18+g.rng.IntN(5), g.rng.IntN(60), 0, 0, time.UTC)
	body := &events.MissingReported{EpisodeRef: ref, Category: "missing", RiskLevel: []string{"low", "medium", "high"}[g.rng.IntN(3)]}
	if g.chance(0.2) {
		body.Category = "absent"
	}
	if lookedAfter {
		body.LookedAfterCode = []string{"M", "A"}[g.rng.IntN(2)]
	}
	g.emit("missing.reported", "police", start, []*person{c}, body, fmt.Sprintf("Reported %s (%s risk)", body.Category, body.RiskLevel), opts{})
	back := start.Add(time.Duration(6+g.rng.IntN(60)) * time.Hour)
	g.emit("missing.returned", "police", back, []*person{c}, &events.MissingReturned{EpisodeRef: ref, FoundBy: []string{"self", "police", "family"}[g.rng.IntN(3)], Location: "Town centre"}, "Returned after missing episode", opts{})
	switch r := g.rng.Float64(); {
	case r < 0.75:
		g.emit("return_interview.completed", "early_help", back.Add(time.Duration(12+g.rng.IntN(58))*time.Hour), []*person{c}, &events.ReturnInterview{EpisodeRef: ref, Accepted: new(true), Disclosures: "Says he was with older friends; would not say where."}, "Return home interview completed", opts{})
	case r < 0.9:
		g.emit("return_interview.completed", "early_help", back.Add(time.Duration(80+g.rng.IntN(200))*time.Hour), []*person{c}, &events.ReturnInterview{EpisodeRef: ref, Accepted: new(g.chance(0.6))}, "Return home interview (late)", opts{})
	}
}

// protection runs the statutory route: referral, strategy discussion,
// Section 47, initial conference, plan, core groups, reviews. It reports
// whether the child became looked after.
func (g *gen) protection(c *person, t time.Time) bool {
	ref := g.emit("referral.received", "social_care", t, []*person{c}, &events.ReferralReceived{Source: "6", PrimaryNeed: "N1", Concern: "Repeat missing episodes with exploitation indicators."}, "Referral accepted: repeat missing and exploitation concerns", opts{})
	if ref == nil {
		return false
	}
	g.emit("referral.decided", "social_care", t.Add(6*time.Hour), []*person{c}, &events.ReferralDecided{ReferralEventID: ref.ID, Decision: "strategy_discussion"}, "Referral decision: strategy discussion", opts{})
	sd := g.emit("strategy_discussion.held", "social_care", t.AddDate(0, 0, 1), []*person{c}, &events.StrategyDiscussion{Decision: "section47_enquiry", Attendees: []string{"police", "health", "social_care", "education"}}, "Strategy discussion: Section 47 enquiry agreed", opts{})
	if sd == nil {
		return false
	}
	g.emit("need_level.changed", "social_care", t.AddDate(0, 0, 1), []*person{c}, &events.NeedLevelChanged{From: 3, To: 4, Basis: "section47"}, "Level of need raised to 4 (Section 47)", opts{})
	g.emit("section47.started", "social_care", t.AddDate(0, 0, 2), []*person{c}, &events.Section47Started{StrategyDiscussionEventID: sd.ID, JointWithPolice: true}, "Section 47 enquiry started (joint with police)", opts{})
	g.emit("section47.completed", "social_care", t.AddDate(0, 0, 9), []*person{c}, &events.Section47Completed{Outcome: "substantiated_conference"}, "Section 47 completed: initial conference needed", opts{})
	icpc := t.AddDate(0, 0, 14+g.rng.IntN(12)) // sometimes beyond 15 working days
	category := []string{"NEG", "EMO", "PHY", "MUL"}[g.rng.IntN(4)]
	g.emit("conference.held", "social_care", icpc, []*person{c}, &events.Conference{Kind: "initial", Outcome: "plan_started", Category: category}, "Initial child protection conference: plan made ("+category+")", opts{})
	g.emit("plan.started", "social_care", icpc, []*person{c}, &events.PlanStarted{Kind: "child_protection", Category: category}, "Child protection plan started ("+category+")", opts{})
	g.emit("core_group.held", "social_care", icpc.AddDate(0, 0, 5+g.rng.IntN(12)), []*person{c}, &events.CoreGroup{Attendees: []string{"social_care", "education", "health"}}, "First core group meeting", opts{})
	for m := 1; m <= 12; m++ { // core groups every month or so while the plan lasts
		g.emit("core_group.held", "social_care", g.day(icpc.AddDate(0, m, -3), icpc.AddDate(0, m, 3)), []*person{c}, &events.CoreGroup{Attendees: []string{"social_care", "education"}}, "Core group meeting", opts{})
	}
	g.emit("conference.held", "social_care", icpc.AddDate(0, 3, 0), []*person{c}, &events.Conference{Kind: "review", Outcome: "plan_continued", Category: category}, "Review conference: plan continues", opts{})
	g.emit("conference.held", "social_care", icpc.AddDate(0, 9, 0), []*person{c}, &events.Conference{Kind: "review", Outcome: "plan_continued", Category: category}, "Review conference: plan continues", opts{})
	if g.chance(0.25) {
		g.emit("looked_after.started", "social_care", icpc.AddDate(0, 4, 0), []*person{c}, &events.LookedAfterStarted{LegalStatus: []string{"C1", "V2"}[g.rng.IntN(2)], Placement: "U4"}, "Became looked after", opts{sensitivity: "restricted"})
		return true
	}
	return false
}

// unborn writes pre-birth child protection, then the baby's early months,
// then a practitioner linking the unborn record to the baby's NHS number.
func (g *gen) unborn(h *household, c *person) {
	t := c.edd.AddDate(0, -4, 0)
	g.emit("health.concern", "health", t, []*person{c}, &events.HealthConcern{Professional: "midwife", Concern: "Booking appointment: mother discloses domestic abuse and substance use."}, "Midwife concern at booking", opts{adults: []events.Subject{adultSubject(h.adults[0], "parent")}})
	g.emit("conference.held", "social_care", t.AddDate(0, 1, 0), []*person{c}, &events.Conference{Kind: "pre_birth", Outcome: "plan_started", Category: "NEG"}, "Pre-birth conference: unborn child protection plan", opts{})
	g.emit("plan.started", "social_care", t.AddDate(0, 1, 0), []*person{c}, &events.PlanStarted{Kind: "child_protection", Category: "NEG"}, "Unborn child protection plan started (NEG)", opts{})
	born := c.dob.Add(14 * time.Hour)
	g.emit("subjects.linked", "hub", born.AddDate(0, 0, 2), []*person{c},
		&events.SubjectsLinked{A: events.Identifier{Scheme: events.SchemeUnbornOf, Value: "nhs_number:" + c.mother.nhs}, B: events.Identifier{Scheme: events.SchemeNHSNumber, Value: c.nhs}, Reason: "Baby born; unborn record linked to the baby's NHS number."},
		"Records linked by the hub: unborn record joined to the newborn", opts{})
	// A baby under one with an injury: the flag for non-mobile infants.
	g.emit("health.ed_attendance", "health", born.AddDate(0, 3, 0), []*person{c}, &events.EDAttendance{Reason: "Bruising to the upper arm, fall reported", Injury: true, SafeguardingConcern: true}, "ED attendance: bruising to a three-month-old", opts{})
	g.emit("health.injury", "health", born.AddDate(0, 3, 1), []*person{c}, &events.Injury{Description: "Bruising to both upper arms", Mechanism: "Parent reports a fall from the sofa", ExplanationConsistent: new(bool)}, "Injury observed: explanation not consistent", opts{sensitivity: "restricted"})
}

// householdEvents are about every child at home at once: domestic abuse
// notifications and housing concerns name all the siblings.
func (g *gen) householdEvents(h *household) {
	var born []*person
	for _, c := range h.children {
		if !c.unborn {
			born = append(born, c)
		}
	}
	if len(born) == 0 {
		return
	}
	da := map[int]int{universal: 0, moderate: g.rng.IntN(3), escalating: 1 + g.rng.IntN(5)}[h.profile]
	adults := []events.Subject{adultSubject(h.adults[0], "parent")}
	if len(h.adults) > 1 {
		adults = append(adults, adultSubject(h.adults[1], "alleged_perpetrator"))
	}
	for range da {
		g.emit("police.notification", "police", g.day(g.start, g.end), born, &events.PoliceReport{Category: "domestic_abuse", ChildRole: "household_member", RiskLevel: []string{"low", "medium", "high"}[g.rng.IntN(3)]},
			"Police notification: domestic abuse at the family home, children in the household", opts{adults: adults, sensitivity: "restricted"})
	}
	if h.profile != universal && g.chance(0.4) {
		g.emit("housing.concern", "housing", g.day(g.start, g.end), born, &events.HousingConcern{Kind: []string{"eviction", "overcrowding", "disrepair"}[g.rng.IntN(3)], Concern: "Family at risk of losing their tenancy."},
			"Housing concern: family at risk of losing their tenancy", opts{})
		if g.chance(0.3) {
			g.emit("information.shared", "housing", g.day(g.start, g.end), born, &events.InformationShared{Text: "A neighbour told the housing officer the children are often left alone at night."},
				"Neighbour (via housing): children left alone at night", opts{reliability: "hearsay"})
		}
	}
}

// amendments corrects and retracts a few events, as agencies do: a wrong
// date keyed, a record sent against the wrong child. It visits every event
// in the order it was generated, as the random sequence requires, reading
// back the runs already spilled.
func (g *gen) amendments(ctx context.Context) error {
	return g.out.generated(ctx, func(r *record) error {
		if !r.amendable {
			return nil
		}
		x := g.rng.Float64() // below 0.4%: a correction; below 0.6%: a retraction
		if x >= 0.006 {
			return nil
		}
		hours := 1 + g.rng.IntN(30*24)
		e, err := r.event()
		if err != nil {
			return err
		}
		when := e.RecordedAt.Add(time.Duration(hours) * time.Hour)
		if x < 0.004 {
			g.amend(e, r.children, "record.corrected", e.Agency, when, &events.RecordCorrected{EventID: e.ID, Reason: "Wrong date keyed: corrected from the original record.", OccurredAt: e.OccurredAt.AddDate(0, 0, -1).Format(time.RFC3339)},
				"Correction: date of an earlier record")
		} else {
			g.amend(e, r.children, "record.retracted", "hub", when, &events.RecordRetracted{EventID: e.ID, Reason: "Recorded against the wrong child."}, "Retraction: recorded against the wrong child")
		}
		return nil
	})
}

func (g *gen) amend(target *events.Event, children []string, t events.Type, agency string, at time.Time, body events.Payload, summary string) {
	if at.After(g.end) {
		return
	}
	spec, _ := events.Lookup(t)
	g.refSeq++
	e := &events.Event{
		Type: t, SchemaVersion: spec.Version, Agency: agency, SourceSystem: sourceSystems[agency], SourceRef: fmt.Sprintf("amend-%07d", g.refSeq),
		Subjects: target.Subjects, OccurredAt: at, RecordedAt: at, Sensitivity: "standard", Reliability: "direct", Summary: summary, Body: body,
	}
	e.Payload, _ = json.Marshal(body)
	e.ID = events.DeriveID(e)
	g.out.add(e, children)
}
