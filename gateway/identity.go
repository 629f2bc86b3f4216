package gateway

import (
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// identityQueries are identityConflicts and possibleMatches, with their
// types.
func (b *schemaBuilder) identityQueries(t *types) graphql.Fields {
	schemeEnum, childType, entryType, pageInfoType, listArgs := t.scheme, t.child, t.entry, t.pageInfo, t.listArgs
	identifierRef := graphql.NewObject(graphql.ObjectConfig{
		Name:        "IdentifierRef",
		Description: "An identifier named in an identity conflict.",
		Fields: graphql.Fields{
			"scheme": {Type: graphql.NewNonNull(schemeEnum), Description: "Which kind of identifier it is: whose numbering it comes from.", Resolve: field(func(k events.Identifier) any { return string(k.Scheme) })},
			"value":  {Type: graphql.NewNonNull(graphql.String), Description: "The identifier as the agency gave it.", Resolve: field(func(k events.Identifier) any { return k.Value })},
		},
	})
	conflictType := graphql.NewObject(graphql.ObjectConfig{
		Name: "IdentityConflict",
		Description: "A possible mismatch for the hub to resolve: one child holding two NHS numbers, one identifier given with different dates of birth, " +
			"or an unlink that other events still undo. Chronicle lists these rather than guessing.",
		Fields: graphql.Fields{
			"kind":        {Type: graphql.NewNonNull(graphql.String), Description: "different_nhs_numbers, date_of_birth_mismatch or unlink_incomplete.", Resolve: field(func(c conflictView) any { return c.Kind })},
			"reason":      {Type: graphql.NewNonNull(graphql.String), Description: "What does not agree, in plain English, and what would resolve it.", Resolve: field(func(c conflictView) any { return c.Reason })},
			"identifiers": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(identifierRef))), Description: "The identifiers that disagree or could not be separated.", Resolve: field(func(c conflictView) any { return c.Identifiers })},
			"child":       {Type: childType, Description: "The child holding them as the hub has joined records; null if nothing about that child is visible to your role.", Resolve: b.resolve(anyone, b.resolveConflictChild)},
			"events": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(entryType))), Description: "The evidence: events that joined the identifiers or gave the differing details; those hidden from your role are redacted placeholders.",
				Resolve: b.resolve(anyone, b.resolveConflictEvents)},
		},
	})
	matchType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "PossibleMatch",
		Description: "Two children who may be the same person, with the reason. Name and date of birth never merge records: link them with linkChildren if they are.",
		Fields: graphql.Fields{
			"reason":   {Type: graphql.NewNonNull(graphql.String), Description: "Which details agree (full name, or surname and first initial) and the shared date of birth.", Resolve: field(func(m matchView) any { return m.Reason })},
			"children": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(childType))), Description: "The two children, as far as your role may see them.", Resolve: b.resolve(anyone, b.resolveMatchChildren)},
		},
	})
	conflictConnection := b.listConnection("IdentityConflict", "A page of identity conflicts, ordered by child id, then kind.", conflictType, pageInfoType)
	matchConnection := b.listConnection("PossibleMatch", "A page of possible matches, ordered by the children's ids.", matchType, pageInfoType)

	return graphql.Fields{
		"identityConflicts": {
			Type:        graphql.NewNonNull(conflictConnection),
			Description: "Possible mismatches in identity, for the hub to resolve. Hub and manager roles, with a purpose of access.",
			Args:        listArgs(),
			Resolve:     b.resolve(reading(auth.ResolveIdentity), b.identityReview("conflicts", "conflicts", conflictsOf)),
		},
		"possibleMatches": {
			Type:        graphql.NewNonNull(matchConnection),
			Description: "Children who may be the same person by name and date of birth, never merged automatically. Hub and manager roles, with a purpose of access.",
			Args:        listArgs(),
			Resolve:     b.resolve(reading(auth.ResolveIdentity), b.identityReview("possible_matches", "matches", matchesOf)),
		},
	}
}

type conflictView struct {
	projections.Conflict
	asOf    *time.Time
	purpose access.Purpose
}

type matchView struct {
	projections.PossibleMatch
	asOf    *time.Time
	purpose access.Purpose
}

// identityReview answers identityConflicts and possibleMatches: list gives
// what the caller's view holds as known at asOf, and the review is on the
// access log as part, counted as count.
func (b *schemaBuilder) identityReview(part, count string, list func(r Reader, asOf *time.Time, why access.Purpose) []any) resolver {
	return func(p *call) (any, error) {
		asOf := p.time("asKnownAt")
		if p.err != nil {
			return nil, p.err
		}
		items := list(b.view(p.Context), asOf, p.why)
		auditFrom(p.Context).note("identity_review", "", "", p.why, asOf, part, map[string]int{count: len(items)})
		return b.page(p, items)
	}
}

func conflictsOf(r Reader, asOf *time.Time, why access.Purpose) []any {
	var items []any
	for _, c := range r.Conflicts(asOf) {
		items = append(items, conflictView{Conflict: c, asOf: asOf, purpose: why})
	}
	return items
}

func matchesOf(r Reader, asOf *time.Time, why access.Purpose) []any {
	var items []any
	for _, m := range r.PossibleMatches(asOf) {
		items = append(items, matchView{PossibleMatch: m, asOf: asOf, purpose: why})
	}
	return items
}

func (b *schemaBuilder) resolveConflictChild(p *call) (any, error) {
	c := p.Source.(conflictView)
	child, ok := b.view(p.Context).ChildByID(c.ChildID, c.asOf)
	if !ok {
		return nil, nil
	}
	auditFrom(p.Context).note("read", child.ID, "", c.purpose, c.asOf, "lookup", nil)
	return childView{Child: child, asOf: c.asOf, purpose: c.purpose}, nil
}

func (b *schemaBuilder) resolveConflictEvents(p *call) (any, error) {
	c := p.Source.(conflictView)
	var out []entryView
	for _, id := range c.Events {
		if e, children, ok := b.view(p.Context).Event(id, c.asOf); ok {
			out = append(out, shown(p.caller, e, c.asOf, children))
		}
	}
	return out, nil
}

func (b *schemaBuilder) resolveMatchChildren(p *call) (any, error) {
	m := p.Source.(matchView)
	var out []childView
	for _, id := range m.ChildIDs {
		if c, ok := b.view(p.Context).ChildByID(id, m.asOf); ok {
			auditFrom(p.Context).note("read", c.ID, "", m.purpose, m.asOf, "lookup", nil)
			out = append(out, childView{Child: c, asOf: m.asOf, purpose: m.purpose})
		}
	}
	return out, nil
}
