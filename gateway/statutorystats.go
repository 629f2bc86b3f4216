package gateway

import (
	"sort"
	"strconv"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// measureRow is one count in statutoryStatistics.
type measureRow struct {
	Period, Measure string
	Count           int
}

// measures says which Annex A count or level of need an entry adds to:
// the events that start a row of an Annex A list, missing episodes and
// absences apart, and the level of need a change or an assessment found.
func measures(e projections.Entry) []string {
	switch b := e.Body().(type) {
	case *events.ContactReceived:
		return []string{"annex_a_contacts"}
	case *events.AssessmentStarted:
		if b.Kind == "early_help" {
			return []string{"annex_a_early_help_assessments"}
		}
		return []string{"annex_a_assessments"}
	case *events.ReferralReceived:
		return []string{"annex_a_referrals"}
	case *events.Section47Started:
		return []string{"annex_a_section47_enquiries"}
	case *events.PlanStarted:
		if b.Kind == "child_protection" {
			return []string{"annex_a_child_protection_plans_started"}
		}
	case *events.LookedAfterStarted:
		return []string{"annex_a_started_to_be_looked_after"}
	case *events.MissingReported:
		if b.Category == "absent" || b.LookedAfterCode == "A" {
			return []string{"absences"}
		}
		return []string{"missing_episodes"}
	case *events.NeedLevelChanged:
		return []string{"level_of_need_" + strconv.Itoa(b.To)}
	case *events.AssessmentCompleted:
		if b.LevelOfNeed > 0 {
			return []string{"level_of_need_" + strconv.Itoa(b.LevelOfNeed)}
		}
	}
	return nil
}

// resolveStatutoryStatistics counts the Annex A measures and levels of need
// per period. Counts only; no child data.
func (b *schemaBuilder) resolveStatutoryStatistics(p *call) (any, error) {
	q, err := b.statsQueryOf(p)
	if err != nil {
		return nil, err
	}
	from, to, period := q.from, q.to, q.period
	entries, _ := q.src.Entries(q.asOf)
	counts := map[measureRow]int{}
	for _, e := range entries {
		day := projections.DayOf(e.OccurredAt)
		if !inDays(day, from, to) {
			continue
		}
		for _, m := range measures(e) {
			counts[measureRow{Period: periodOf(day, period), Measure: m}]++
		}
	}
	out := make([]measureRow, 0, len(counts))
	for k, n := range counts {
		k.Count = n
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Period != out[j].Period {
			return out[i].Period < out[j].Period
		}
		return out[i].Measure < out[j].Measure
	})
	return out, nil
}

// statutoryStatisticsField is the statutoryStatistics query; args are the
// statistics query's.
func (b *schemaBuilder) statutoryStatisticsField(args graphql.FieldConfigArgument) *graphql.Field {
	return &graphql.Field{
		Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.NewObject(graphql.ObjectConfig{
			Name:        "StatutoryStatisticsRow",
			Description: "One Annex A count or level of need in a period.",
			Fields: graphql.Fields{
				"period": {Type: graphql.NewNonNull(graphql.String), Description: "When the events occurred, as in statistics.", Resolve: field(func(r measureRow) any { return r.Period })},
				"measure": {Type: graphql.NewNonNull(graphql.String), Description: "annex_a_contacts, annex_a_early_help_assessments, annex_a_referrals, annex_a_assessments, annex_a_section47_enquiries, " +
					"annex_a_child_protection_plans_started, annex_a_started_to_be_looked_after, missing_episodes, absences (counted apart from missing), " +
					"or level_of_need_1 to level_of_need_4 (changes of level, and assessments that found the level).", Resolve: field(func(r measureRow) any { return r.Measure })},
				"count": {Type: graphql.NewNonNull(graphql.Int), Description: "How many.", Resolve: field(func(r measureRow) any { return r.Count })},
			},
		})))),
		Description: "The counts behind Ofsted's Annex A lists, missing episodes and absences, and levels of need, per period: no child data. " +
			"Analyst and manager roles. For the lists themselves, GET /v1/export/annex-a.",
		Args:    args,
		Resolve: b.resolve(allowed(auth.ReadStatistics), b.resolveStatutoryStatistics),
	}
}
