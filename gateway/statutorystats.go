package gateway

import (
	"sort"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// measureRow is one count in statutoryStatistics.
type measureRow struct {
	Period, Measure string
	Count           int
}

// StatutoryCounter is a read model that keeps the statutory counters as
// events arrive (projections.Model does).
type StatutoryCounter interface {
	// StatutoryCounts calls fn with every non-zero counter: a London date
	// (projections.DayOf), a measure and a count.
	StatutoryCounts(fn func(day int32, measure string, n int))
}

var _ StatutoryCounter = (*projections.Model)(nil)

// resolveStatutoryStatistics counts the Annex A measures and levels of need
// per period. Counts only; no child data.
func (b *schemaBuilder) resolveStatutoryStatistics(p *call) (any, error) {
	q, err := b.statsQueryOf(p)
	if err != nil {
		return nil, err
	}
	src, from, to, asOf, period := q.src, q.from, q.to, q.asOf, q.period
	counts := map[measureRow]int{}
	if sc, ok := b.src.(StatutoryCounter); ok && asOf == nil {
		// The present: the counters kept as events arrive, summed per period.
		sc.StatutoryCounts(func(day int32, measure string, n int) {
			if inDays(day, from, to) {
				counts[measureRow{Period: periodOf(day, period), Measure: measure}] += n
			}
		})
	} else {
		// As known at a past time: count the entries shown then.
		entries, _ := src.Entries(asOf)
		for _, e := range entries {
			day := projections.DayOf(e.OccurredAt)
			if m := projections.StatutoryMeasure(e.Body()); m != "" && inDays(day, from, to) {
				counts[measureRow{Period: periodOf(day, period), Measure: m}]++
			}
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
