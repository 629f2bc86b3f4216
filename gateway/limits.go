package gateway

import (
	"fmt"
	"strconv"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/kinds"
	"github.com/graphql-go/graphql/language/visitor"

	"github.com/chronicle-hub/chronicle/events"
)

// Limits bound what one GraphQL request may ask for. graphql-go has no
// limits of its own, so a deeply nested or wide query could otherwise tie up
// the server.
type Limits struct {
	// MaxDepth is the deepest nesting of fields outside introspection.
	MaxDepth int
	// MaxAliases caps aliased fields, introspection's included, which
	// multiply work without nesting.
	MaxAliases int
	// MaxComplexity caps the estimated number of values resolved: each field
	// costs 1, and a list field multiplies its children by its page size
	// (the literal `first`, or MaxPage when it comes from a variable).
	MaxComplexity int
	// MaxPage caps `first` on every connection.
	MaxPage int
	// DefaultPage is `first` when omitted.
	DefaultPage int

	// Introspection is public (GraphiQL's documentation pane loads before a
	// token is pasted), so it is bounded on its own terms. Zero values take
	// DefaultLimits'.

	// MaxIntrospectionDepth is the deepest nesting of fields under __schema
	// or __type, counted from the top of the operation like MaxDepth.
	// GraphiQL's introspection query needs 15: its TypeRef fragment nests
	// ofType nine times below __schema { types { fields { args { type.
	MaxIntrospectionDepth int
	// MaxIntrospectionFields caps the __schema and __type fields in one
	// request, counting every occurrence (through aliases and fragments):
	// a whole schema is the largest answer introspection gives.
	MaxIntrospectionFields int
	// MaxIntrospectionLists caps how many introspection list fields (types,
	// fields, args, ...) may enclose one another. GraphiQL's query needs 3
	// (types, fields, args); one more lets a query walk the schema's graph,
	// fields { type { fields { type { ... } } } }, multiplying its answer by
	// the number of fields at every step.
	MaxIntrospectionLists int
}

// DefaultLimits fit the largest legitimate query: one child's 1,000-entry
// chronology page with every field, or GraphiQL's introspection query.
var DefaultLimits = Limits{MaxDepth: 12, MaxAliases: 30, MaxComplexity: 60000, MaxPage: 1000, DefaultPage: 100,
	MaxIntrospectionDepth: 15, MaxIntrospectionFields: 2, MaxIntrospectionLists: 3}

// withIntrospectionDefaults fills the introspection limits a caller left
// at zero, so that limits written before they existed still admit GraphiQL.
func (l Limits) withIntrospectionDefaults() Limits {
	if l.MaxIntrospectionDepth == 0 {
		l.MaxIntrospectionDepth = DefaultLimits.MaxIntrospectionDepth
	}
	if l.MaxIntrospectionFields == 0 {
		l.MaxIntrospectionFields = DefaultLimits.MaxIntrospectionFields
	}
	if l.MaxIntrospectionLists == 0 {
		l.MaxIntrospectionLists = DefaultLimits.MaxIntrospectionLists
	}
	return l
}

// limitError is a validation failure with a code for extensions.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// Extensions gives GraphQL clients a code to act on.
func (e *limitError) Extensions() map[string]any {
	return map[string]any{"code": events.KindTooLarge.String()}
}

// limitsRule is a validation rule appended to graphql.SpecifiedRules. It
// measures each operation, following fragment spreads.
func (l Limits) rule(ctx *graphql.ValidationContext) *graphql.ValidationRuleInstance {
	l = l.withIntrospectionDefaults()
	return &graphql.ValidationRuleInstance{VisitorOpts: &visitor.VisitorOptions{
		KindFuncMap: map[string]visitor.NamedVisitFuncs{
			kinds.OperationDefinition: {Kind: func(p visitor.VisitFuncParams) (string, any) {
				op, ok := p.Node.(*ast.OperationDefinition)
				if !ok {
					return visitor.ActionNoChange, nil
				}
				m := &measure{ctx: ctx, limits: l, visiting: map[string]bool{}}
				depth, cost := m.selections(op.SelectionSet, place{level: 1})
				report := func(format string, args ...any) {
					msg := fmt.Sprintf(format, args...)
					ctx.ReportError(gqlerrors.NewError(msg, []ast.Node{op}, "", nil, []int{}, &limitError{msg}))
				}
				switch {
				case depth > l.MaxDepth:
					report("query is %d levels deep; the limit is %d", depth, l.MaxDepth)
				case m.aliases > l.MaxAliases:
					report("query uses %d aliases; the limit is %d", m.aliases, l.MaxAliases)
				case cost > l.MaxComplexity:
					report("query could resolve about %d values; the limit is %d (ask for smaller pages or fewer fields)", cost, l.MaxComplexity)
				case m.schemaFields > l.MaxIntrospectionFields:
					report("query asks for __schema or __type %d times; the limit is %d", m.schemaFields, l.MaxIntrospectionFields)
				case m.introDepth > l.MaxIntrospectionDepth:
					report("introspection is %d levels deep; the limit is %d", m.introDepth, l.MaxIntrospectionDepth)
				case m.introLists > l.MaxIntrospectionLists:
					report("introspection nests %d lists; the limit is %d", m.introLists, l.MaxIntrospectionLists)
				}
				return visitor.ActionSkip, nil
			}},
		},
	}}
}

type measure struct {
	ctx      *graphql.ValidationContext
	limits   Limits
	aliases  int
	visiting map[string]bool

	// Introspection, measured apart from the rest.
	schemaFields int // __schema and __type occurrences
	introDepth   int // deepest field under one of them
	introLists   int // most introspection lists enclosing one another
}

// place is where a selection set sits: its fields' level (1 for the
// operation's own), whether it is under __schema or __type, and how many
// introspection list fields enclose it.
type place struct {
	level int
	intro bool
	lists int
}

// selections returns the depth below and including this level, and the
// cost, of everything but introspection, which it records in m.
func (m *measure) selections(set *ast.SelectionSet, at place) (depth, cost int) {
	if set == nil {
		return at.level - 1, 0
	}
	depth = at.level - 1
	for _, sel := range set.Selections {
		var d, c int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != nil {
				m.aliases++
			}
			name := ""
			if s.Name != nil {
				name = s.Name.Value
			}
			below := place{level: at.level + 1, intro: at.intro, lists: at.lists}
			root := !at.intro && (name == "__schema" || name == "__type")
			if root {
				m.schemaFields++
				below.intro = true
			}
			if at.intro && isIntrospectionList(name) {
				below.lists++
				m.introLists = max(m.introLists, below.lists)
			}
			d, c = m.selections(s.SelectionSet, below)
			d = max(d, at.level)
			switch {
			case root:
				m.introDepth = max(m.introDepth, d)
				d, c = at.level, 1
			case at.intro:
				c = 1 + c
			default:
				c = 1 + m.multiplier(s)*c
			}
		case *ast.InlineFragment:
			d, c = m.selections(s.SelectionSet, at)
		case *ast.FragmentSpread:
			name := s.Name.Value
			frag := m.ctx.Fragment(name)
			if frag == nil || m.visiting[name] {
				continue // unknown or cyclic: other rules report it
			}
			m.visiting[name] = true
			d, c = m.selections(frag.SelectionSet, at)
			m.visiting[name] = false
		}
		depth = max(depth, d)
		cost += c
		if cost > m.limits.MaxComplexity*10 {
			return depth, cost // already far over: stop counting
		}
	}
	return depth, cost
}

// isIntrospectionList names the list fields of the introspection types
// (__Schema, __Type, __Field, __Directive) whose items have fields.
func isIntrospectionList(name string) bool {
	switch name {
	case "types", "directives", "fields", "args", "inputFields", "interfaces", "possibleTypes", "enumValues":
		return true
	}
	return false
}

// multiplier is the page size a field's `first` argument asks for.
func (m *measure) multiplier(f *ast.Field) int {
	for _, a := range f.Arguments {
		if a.Name == nil || a.Name.Value != "first" {
			continue
		}
		if v, ok := a.Value.(*ast.IntValue); ok {
			n, err := strconv.Atoi(v.Value)
			if err == nil && n > 0 {
				return min(n, m.limits.MaxPage)
			}
		}
		return m.limits.MaxPage
	}
	if f.SelectionSet != nil && isConnection(f.Name.Value) {
		return m.limits.DefaultPage
	}
	return 1
}

// isConnection names the paginated fields that default to DefaultPage.
func isConnection(name string) bool {
	switch name {
	case "chronology", "children", "flaggedChildren", "accessLog", "myAccessLog", "possibleMatches", "identityConflicts":
		return true
	}
	return false
}
