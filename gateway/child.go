package gateway

import (
	"fmt"
	"sort"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// childView carries the "as known at" time and the purpose of access down
// to nested fields, so a whole answer describes one moment and each read
// goes on the access log with the purpose it was made for.
type childView struct {
	projections.Child
	asOf    *time.Time
	purpose access.Purpose
}

// childTypes builds Child (with its chronology and risk flags) and
// the identifiers that name a child.
func (b *schemaBuilder) childTypes(t *types) {
	schemeEnum, entryConnection, chronologyArgs, riskFlagType := t.scheme, t.entryConnection, t.chronologyArgs, t.riskFlag
	identifierType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Identifier",
		Description: "An identifier of a child, with the event that first established it.",
		Fields: graphql.Fields{
			"scheme":        {Type: graphql.NewNonNull(schemeEnum), Description: "Which kind of identifier it is: whose numbering it comes from.", Resolve: field(func(k projections.KnownIdentifier) any { return string(k.Scheme) })},
			"value":         {Type: graphql.NewNonNull(graphql.String), Description: "The identifier as the agency gave it.", Resolve: field(func(k projections.KnownIdentifier) any { return k.Value })},
			"establishedBy": {Type: graphql.NewNonNull(graphql.ID), Description: "The id of the event on which the hub first saw this identifier.", Resolve: field(func(k projections.KnownIdentifier) any { return k.EventID })},
			"establishedAt": {Type: graphql.NewNonNull(dateTime), Description: "When the hub received that event.", Resolve: field(func(k projections.KnownIdentifier) any { return k.Received })},
		},
	})
	childType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Child",
		Description: "A child (or unborn child) as the hub knows them: every identifier any agency uses, joined.",
		Fields: graphql.Fields{
			"id":           {Type: graphql.NewNonNull(graphql.ID), Description: "Chronicle's stable id for the child. It does not change when identifiers join; a merged-away id keeps answering.", Resolve: child(func(c childView) any { return c.ID })},
			"requestedId":  {Type: graphql.ID, Description: "The id asked for, when it was merged into this child.", Resolve: child(func(c childView) any { return nullable(mergedFrom(c.Child)) })},
			"identifiers":  {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(identifierType))), Description: "Every identifier any agency uses for this child, with the event that established it.", Resolve: personal("identifiers", func(c childView) any { return c.Identifiers })},
			"names":        {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.String))), Description: "Names agencies gave (hints; never used to join records).", Resolve: personal("names", func(c childView) any { return nonNilStrings(c.Names) })},
			"datesOfBirth": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.String))), Description: "Dates of birth agencies gave, YYYY-MM-DD; more than one is worth checking.", Resolve: personal("dates_of_birth", func(c childView) any { return nonNilStrings(c.DatesOfBirth) })},
			"unborn":       {Type: graphql.NewNonNull(graphql.Boolean), Description: "Known only as an unborn child so far.", Resolve: child(func(c childView) any { return c.Unborn })},
			"chronology": {
				Type:        graphql.NewNonNull(entryConnection),
				Description: "Everything every agency shared about this child, in time order; entries hidden from your role are placeholders, counted in redactions.",
				Args:        chronologyArgs,
				Resolve:     b.resolve(anyone, b.resolveChronology),
			},
			"riskFlags": {
				Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(riskFlagType))),
				Description: "Risk flags with their evidence: active ones first (by severity, then most recent), then those cleared. Flags resting on entries hidden from your role are redacted, never left out.",
				Args: graphql.FieldConfigArgument{
					"asKnownAt":      {Type: dateTime, Description: "Use only what the hub had received by this time (default: the child's asKnownAt, else everything)."},
					"at":             {Type: dateTime, Description: "Evaluate the rules at this time (default: asKnownAt, else now). With asKnownAt equal to at, the answer is what would have shown on that date; with at earlier than asKnownAt (or than now), events count from when they happened: hindsight."},
					"includeCleared": {Type: graphql.Boolean, DefaultValue: true, Description: "Also list flags that were raised and have since cleared."},
				},
				Resolve: b.resolve(anyone, b.resolveRiskFlags),
			},
		},
	})
	t.child = childType
}

// childQueries are child and children.
func (b *schemaBuilder) childQueries(t *types) graphql.Fields {
	childType, pageInfoType, identifierInput, asKnownAt, purposeArg := t.child, t.pageInfo, t.identifierInput, t.asKnownAt, t.purposeArg
	childEdge := edgeType("ChildEdge", "One child of a page of children, with their cursor.", "The child.", childType)
	childConnection := b.connectionType("Children", "A page of children, ordered by id.", childType, childEdge, pageInfoType)
	childFilter := graphql.NewInputObject(graphql.InputObjectConfig{
		Name:        "ChildFilter",
		Description: "Find children. All given conditions must hold.",
		Fields: graphql.InputObjectConfigFieldMap{
			"identifier":  {Type: identifierInput, Description: "Holds this identifier."},
			"name":        {Type: graphql.String, Description: "A name given by any agency contains this text (case-insensitive)."},
			"dateOfBirth": {Type: graphql.String, Description: "A date of birth given by any agency is exactly this date, YYYY-MM-DD."},
		},
	})
	return graphql.Fields{
		"child": {
			Type:        childType,
			Description: "Look a child up by any identifier any agency uses, or by Chronicle's id. Hub, practitioner and manager roles, with a purpose of access.",
			Args: graphql.FieldConfigArgument{
				"identifier": {Type: identifierInput, Description: "An identifier any agency uses; give this or id, not both."},
				"id":         {Type: graphql.ID, Description: "Chronicle's child id; give this or identifier, not both."},
				"asKnownAt":  asKnownAt,
				"purpose":    purposeArg,
			},
			Resolve: b.resolve(reading(auth.ReadRecords), b.resolveChild),
		},
		"children": {
			Type:        graphql.NewNonNull(childConnection),
			Description: "List and search children, ordered by id. Hub, practitioner and manager roles, with a purpose of access.",
			Args: graphql.FieldConfigArgument{
				"filter":    {Type: childFilter, Description: "Conditions every child listed meets; omit to list every child."},
				"first":     {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
				"after":     {Type: graphql.String, Description: "Cursor: return children after this one (endCursor of the previous page)."},
				"asKnownAt": asKnownAt,
				"purpose":   purposeArg,
			},
			Resolve: b.resolve(reading(auth.ReadRecords), b.resolveChildren),
		},
	}
}

func (b *schemaBuilder) resolveChild(p *call) (any, error) {
	why, asOf := p.why, p.time("asKnownAt")
	id, hasID := p.Args["id"].(string)
	k, hasIdent := p.identifier(p.Args["identifier"], "identifier")
	switch {
	case p.err != nil:
		return nil, p.err
	case hasID == hasIdent:
		return nil, events.Errorf("child", events.KindInvalid, "give exactly one of identifier or id")
	}
	var c projections.Child
	var ok bool
	r := b.view(p.Context)
	if hasID {
		c, ok = r.ChildByID(id, asOf)
	} else {
		c, ok = r.FindChild(k, asOf)
	}
	ra := auditFrom(p.Context)
	if !ok {
		// The same answer whether the child does not exist or only hidden
		// entries name them; the attempt is still on the record.
		ra.note("lookup", "", "", why, asOf, "not_found", map[string]int{"children": 0})
		return nil, events.Errorf("child", events.KindNotFound, "no child with that identifier%s", asOfText(asOf))
	}
	// The look-up itself says the child exists; what was shown of them is
	// noted as each field resolves (see personal).
	ra.note("read", c.ID, "", why, asOf, "lookup", nil)
	return childView{Child: c, asOf: asOf, purpose: why}, nil
}

func (b *schemaBuilder) resolveChildren(p *call) (any, error) {
	why, asOf, first := p.why, p.time("asKnownAt"), p.first(b.limits)
	var f projections.ChildFilter
	if raw, ok := p.Args["filter"].(map[string]any); ok {
		k, has := p.identifier(raw["identifier"], "filter.identifier")
		if p.err != nil {
			return nil, p.err
		}
		if has {
			f.Identifier = &k
		}
		f.Name, _ = raw["name"].(string)
		f.DateOfBirth, _ = raw["dateOfBirth"].(string)
		if f.DateOfBirth != "" {
			if _, ok := events.Date(f.DateOfBirth).Time(); !ok {
				return nil, events.Errorf("filter.dateOfBirth", events.KindInvalid, "%q is not a date like 2015-06-30", f.DateOfBirth)
			}
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	all := b.view(p.Context).Children(f, asOf)
	auditFrom(p.Context).note("search", "", "", why, asOf, "children", map[string]int{"children": len(all)})
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		parts, err := decodeCursor("after", "c", after, 1)
		if err != nil {
			return nil, err
		}
		start = sort.Search(len(all), func(i int) bool { return all[i].ID > parts[0] })
	}
	page := all[start:min(len(all), start+first)]
	conn := connection{TotalCount: len(all)}
	for _, c := range page {
		conn.Edges = append(conn.Edges, edge{Cursor: encodeCursor("c", c.ID), Node: childView{Child: c, asOf: asOf, purpose: why}})
	}
	conn.PageInfo = pageInfoFor(conn.Edges, start > 0, start+len(page) < len(all))
	return conn, nil
}

func mergedFrom(c projections.Child) string {
	if c.AskedID != "" && c.AskedID != c.ID {
		return c.AskedID
	}
	return ""
}
