package gateway

import (
	"fmt"
	"sort"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// statisticsQueries are statistics and statutoryStatistics.
func (b *schemaBuilder) statisticsQueries(t *types) graphql.Fields {
	asKnownAt := t.asKnownAt
	statsArgs := graphql.FieldConfigArgument{
		"from":      {Type: dateTime, Description: "Only events that occurred on or after this time's date (in Europe/London: periods are dates)."},
		"to":        {Type: dateTime, Description: "Only events that occurred on or before this time's date (in Europe/London)."},
		"asKnownAt": asKnownAt,
		"period": {Type: graphql.NewEnum(graphql.EnumConfig{Name: "Period", Description: "Calendar periods to count by, of Europe/London dates.", Values: graphql.EnumValueConfigMap{
			"MONTH":   {Value: "month", Description: "Calendar months, written 2024-03."},
			"QUARTER": {Value: "quarter", Description: "Calendar quarters (Q1 is January to March), written 2024-Q1."},
			"YEAR":    {Value: "year", Description: "Calendar years, written 2024."}}}),
			DefaultValue: "quarter", Description: "How to group events by when they occurred (default QUARTER)."},
	}
	return graphql.Fields{
		"statistics": {
			Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.NewObject(graphql.ObjectConfig{
				Name:        "StatisticsRow",
				Description: "How many events of a type an agency shared in a period.",
				Fields: graphql.Fields{
					"period": {Type: graphql.NewNonNull(graphql.String), Description: "When the events occurred, by Europe/London date: 2024-03 by month, 2024-Q1 by quarter, 2024 by year.", Resolve: field(func(r statRow) any { return r.Period })},
					"agency": {Type: graphql.NewNonNull(graphql.String), Description: "The publishing agency's code.", Resolve: field(func(r statRow) any { return r.Agency })},
					"type":   {Type: graphql.NewNonNull(graphql.String), Description: "The event type (see eventTypes).", Resolve: field(func(r statRow) any { return r.Type })},
					"count":  {Type: graphql.NewNonNull(graphql.Int), Description: "How many events.", Resolve: field(func(r statRow) any { return r.Count })},
				},
			})))),
			Description: "Event counts per period, agency and type, with corrections applied and retractions left out: no child data. " +
				"Analyst and manager roles; entries of every sensitivity are counted.",
			Args:    statsArgs,
			Resolve: b.resolve(allowed(auth.ReadStatistics), b.resolveStatistics),
		},
		"statutoryStatistics": b.statutoryStatisticsField(statsArgs),
	}
}

// statRow is one count in statistics.
type statRow struct {
	Period, Agency, Type string
	Count                int
}

// periodOf names the period of a London date (see projections.DayOf).
func periodOf(day int32, period string) string {
	t := projections.DateOfDay(day)
	switch period {
	case "month":
		return t.Format("2006-01")
	case "year":
		return t.Format("2006")
	}
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

// Activity is a read model that keeps counts per London date, agency and
// type as events arrive (projections.Model does).
type Activity interface {
	Activity(fn func(day int32, agency, typ string, n int))
}

// inDays reports whether a London date is within from and to, each a
// date (nil: open).
func inDays(day int32, from, to *time.Time) bool {
	return (from == nil || day >= projections.DayOf(*from)) && (to == nil || day <= projections.DayOf(*to))
}

// statsQuery is what both statistics queries take (see statsArgs): the
// entries to count, the window of dates, the knowledge cut-off and the
// period to count by.
type statsQuery struct {
	src            Entries
	from, to, asOf *time.Time
	period         string
}

// statsQueryOf decodes a statistics query; a read model that cannot list
// its entries is KindUnavailable.
func (b *schemaBuilder) statsQueryOf(p *call) (statsQuery, error) {
	src, ok := b.src.(Entries)
	if !ok {
		return statsQuery{}, events.Errorf("statistics", events.KindUnavailable, "statistics are not available")
	}
	q := statsQuery{src: src, from: p.time("from"), to: p.time("to"), asOf: p.time("asKnownAt")}
	q.period, _ = p.Args["period"].(string)
	return q, p.err
}

// resolveStatistics counts events per period, agency and type: the shape
// inspectors and statutory returns ask for. Counts only; no child data.
func (b *schemaBuilder) resolveStatistics(p *call) (any, error) {
	q, err := b.statsQueryOf(p)
	if err != nil {
		return nil, err
	}
	src, from, to, asOf, period := q.src, q.from, q.to, q.asOf, q.period
	counts := map[statRow]int{}
	if act, ok := b.src.(Activity); ok && asOf == nil {
		// The present: the counters kept as events arrive.
		act.Activity(func(day int32, agency, typ string, n int) {
			if inDays(day, from, to) {
				counts[statRow{Period: periodOf(day, period), Agency: agency, Type: typ}] += n
			}
		})
	} else {
		// As known at a past time: count the entries shown then.
		entries, _ := src.Entries(asOf)
		for _, e := range entries {
			if day := projections.DayOf(e.OccurredAt); inDays(day, from, to) {
				counts[statRow{Period: periodOf(day, period), Agency: e.Agency, Type: string(e.Type)}]++
			}
		}
	}
	out := make([]statRow, 0, len(counts))
	for k, n := range counts {
		k.Count = n
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Agency != b.Agency {
			return a.Agency < b.Agency
		}
		return a.Type < b.Type
	})
	return out, nil
}
