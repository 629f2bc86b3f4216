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
	// MaxDepth is the deepest nesting of fields (introspection excluded, so
	// GraphiQL works).
	MaxDepth int
	// MaxAliases caps aliased fields, which multiply work without nesting.
	MaxAliases int
	// MaxComplexity caps the estimated number of values resolved: each field
	// costs 1, and a list field multiplies its children by its page size
	// (the literal `first`, or MaxPage when it comes from a variable).
	MaxComplexity int
	// MaxPage caps `first` on every connection.
	MaxPage int
	// DefaultPage is `first` when omitted.
	DefaultPage int
}

// DefaultLimits fit the largest legitimate query: one child's 1,000-entry
// chronology page with every field.
var DefaultLimits = Limits{MaxDepth: 12, MaxAliases: 30, MaxComplexity: 60000, MaxPage: 1000, DefaultPage: 100}

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
	return &graphql.ValidationRuleInstance{VisitorOpts: &visitor.VisitorOptions{
		KindFuncMap: map[string]visitor.NamedVisitFuncs{
			kinds.OperationDefinition: {Kind: func(p visitor.VisitFuncParams) (string, any) {
				op, ok := p.Node.(*ast.OperationDefinition)
				if !ok {
					return visitor.ActionNoChange, nil
				}
				m := &measure{ctx: ctx, limits: l, visiting: map[string]bool{}}
				depth, cost := m.selections(op.SelectionSet, 1)
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
}

// selections returns the depth below and including this level, and the cost.
func (m *measure) selections(set *ast.SelectionSet, level int) (depth, cost int) {
	if set == nil {
		return level - 1, 0
	}
	depth = level - 1
	for _, sel := range set.Selections {
		var d, c int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name != nil && len(s.Name.Value) > 1 && s.Name.Value[:2] == "__" {
				continue // introspection
			}
			if s.Alias != nil {
				m.aliases++
			}
			d, c = m.selections(s.SelectionSet, level+1)
			if d < level {
				d = level
			}
			c = 1 + m.multiplier(s)*c
		case *ast.InlineFragment:
			d, c = m.selections(s.SelectionSet, level)
		case *ast.FragmentSpread:
			name := s.Name.Value
			frag := m.ctx.Fragment(name)
			if frag == nil || m.visiting[name] {
				continue // unknown or cyclic: other rules report it
			}
			m.visiting[name] = true
			d, c = m.selections(frag.SelectionSet, level)
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
