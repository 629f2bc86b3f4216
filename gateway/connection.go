package gateway

import (
	"fmt"
	"strconv"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
)

// connection is a Relay-style page.
type connection struct {
	Edges      []edge
	PageInfo   pageInfo
	TotalCount int
	Redactions []redaction
}

// redaction counts entries hidden from the caller, by agency and
// sensitivity, so that redaction is visible: "2 restricted entries from
// health".
type redaction struct {
	Agency, Sensitivity string
	Count               int
}

type edge struct {
	Cursor string
	Node   any
}

type pageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       string
}

func (c connection) nodes() []any {
	out := make([]any, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// listConnection is a connection type for a list paged by position.
func (b *schemaBuilder) listConnection(name, desc string, node *graphql.Object, pi *graphql.Object) *graphql.Object {
	edges := edgeType(name+"Edge", "One "+name+" of a page, with its cursor.", "The "+name+".", node)
	return b.connectionType(name, desc, node, edges, pi)
}

// edgeType is a connection's edge type, name: a node with its cursor.
func edgeType(name, desc, nodeDesc string, node *graphql.Object) *graphql.Object {
	return graphql.NewObject(graphql.ObjectConfig{
		Name:        name,
		Description: desc,
		Fields: graphql.Fields{
			"cursor": {Type: graphql.NewNonNull(graphql.String), Description: cursorDesc, Resolve: field(func(e edge) any { return e.Cursor })},
			"node":   {Type: graphql.NewNonNull(node), Description: nodeDesc, Resolve: field(func(e edge) any { return e.Node })},
		},
	})
}

// cursorDesc describes every edge's cursor.
const cursorDesc = "An opaque position in the list: pass it as after to continue from this item."

// page cuts a list into a connection by position.
func (b *schemaBuilder) page(p *call, items []any) (any, error) {
	first := p.first(b.limits)
	if p.err != nil {
		return nil, p.err
	}
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		parts, err := decodeCursor("after", "i", after, 1)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 0 {
			return nil, events.Errorf("after", events.KindInvalid, "%q is not a cursor from this list", after)
		}
		start = min(n+1, len(items))
	}
	end := min(len(items), start+first)
	conn := connection{TotalCount: len(items)}
	for i := start; i < end; i++ {
		conn.Edges = append(conn.Edges, edge{Cursor: encodeCursor("i", strconv.Itoa(i)), Node: items[i]})
	}
	conn.PageInfo = pageInfoFor(conn.Edges, start > 0, end < len(items))
	return conn, nil
}

var redactionType = graphql.NewObject(graphql.ObjectConfig{
	Name:        "Redaction",
	Description: "Entries hidden from your role, counted so that nothing is hidden silently.",
	Fields: graphql.Fields{
		"agency":      {Type: graphql.NewNonNull(graphql.String), Description: "The agency code of the hidden entries.", Resolve: field(func(r redaction) any { return r.Agency })},
		"sensitivity": {Type: graphql.NewNonNull(graphql.String), Description: "Their sensitivity: restricted or sealed.", Resolve: field(func(r redaction) any { return r.Sensitivity })},
		"count":       {Type: graphql.NewNonNull(graphql.Int), Description: "How many.", Resolve: field(func(r redaction) any { return r.Count })},
		"description": {Type: graphql.NewNonNull(graphql.String), Description: "The same in words, for example 2 restricted entries from health.", Resolve: field(func(r redaction) any {
			return fmt.Sprintf("%d %s %s from %s", r.Count, r.Sensitivity, map[bool]string{true: "entry", false: "entries"}[r.Count == 1], r.Agency)
		})},
	},
})

func (b *schemaBuilder) connectionType(name, desc string, node *graphql.Object, edgeType *graphql.Object, pi *graphql.Object) *graphql.Object {
	return graphql.NewObject(graphql.ObjectConfig{
		Name:        name + "Connection",
		Description: desc,
		Fields: graphql.Fields{
			"redactions": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(redactionType))), Description: "Entries hidden from your role in the whole filtered chronology, by agency and sensitivity; always empty on other lists.",
				Resolve: field(func(c connection) any { return c.Redactions })},
			"redactedCount": {Type: graphql.NewNonNull(graphql.Int), Description: "How many entries in the whole filtered chronology are hidden from your role (they appear as placeholders); always 0 on other lists.",
				Resolve: field(func(c connection) any {
					n := 0
					for _, r := range c.Redactions {
						n += r.Count
					}
					return n
				})},
			"edges":      {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(edgeType))), Description: "The page's items, each with its cursor.", Resolve: field(func(c connection) any { return c.Edges })},
			"nodes":      {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(node))), Description: "The page's items, without cursors.", Resolve: field(func(c connection) any { return c.nodes() })},
			"pageInfo":   {Type: graphql.NewNonNull(pi), Description: "Whether more items follow or precede this page, and the cursors to get them.", Resolve: field(func(c connection) any { return c.PageInfo })},
			"totalCount": {Type: graphql.NewNonNull(graphql.Int), Description: "Items in the whole filtered list, not just this page.", Resolve: field(func(c connection) any { return c.TotalCount })},
		},
	})
}

func pageInfoFor(edges []edge, hasPrev, hasNext bool) pageInfo {
	pi := pageInfo{HasPreviousPage: hasPrev, HasNextPage: hasNext}
	if len(edges) > 0 {
		pi.StartCursor, pi.EndCursor = edges[0].Cursor, edges[len(edges)-1].Cursor
	}
	return pi
}
