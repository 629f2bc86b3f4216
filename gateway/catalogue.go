package gateway

import (
	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
)

// catalogueQueries are agencies and eventTypes, for building filters.
func (b *schemaBuilder) catalogueQueries() graphql.Fields {
	agencyType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Agency",
		Description: "A partner agency that publishes into the hub.",
		Fields: graphql.Fields{
			"code": {Type: graphql.NewNonNull(graphql.String), Description: "The code events and filters use, for example social_care.", Resolve: field(func(c events.CodeDef) any { return c.Code })},
			"name": {Type: graphql.NewNonNull(graphql.String), Description: "What the agency is, in words.", Resolve: field(func(c events.CodeDef) any { return c.Meaning })},
		},
	})
	eventTypeType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "EventType",
		Description: "An event type in the catalogue.",
		Fields: graphql.Fields{
			"type":        {Type: graphql.NewNonNull(graphql.String), Description: "The name events carry, for example missing.reported; use it in chronology(types:).", Resolve: field(func(s events.Spec) any { return string(s.Type) })},
			"title":       {Type: graphql.NewNonNull(graphql.String), Description: "A short human name, for example Missing episode reported.", Resolve: field(func(s events.Spec) any { return s.Title })},
			"area":        {Type: graphql.NewNonNull(graphql.String), Description: "The part of the catalogue it belongs to, for example Missing episodes and exploitation.", Resolve: field(func(s events.Spec) any { return s.Area })},
			"description": {Type: graphql.NewNonNull(graphql.String), Description: "What the event records and why the hub needs it.", Resolve: field(func(s events.Spec) any { return s.Doc })},
			"agencies":    {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Who may publish it; null means any agency.", Resolve: field(func(s events.Spec) any { return s.Agencies })},
		},
	})
	return graphql.Fields{
		"agencies": {
			Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(agencyType))),
			Description: "The agencies, for building filters. Any role.",
			Resolve:     func(graphql.ResolveParams) (any, error) { return events.Agencies.Codes, nil },
		},
		"eventTypes": {
			Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(eventTypeType))),
			Description: "The event catalogue, for building filters. Any role.",
			Resolve:     func(graphql.ResolveParams) (any, error) { return events.Catalogue(), nil },
		},
	}
}
