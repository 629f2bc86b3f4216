package gateway

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
)

// call is one field's resolution as Chronicle's resolvers see it:
// graphql-go's params, the verified caller, the purpose of access given
// (for a field guarded by reading), and its arguments decoded by the
// methods below, which keep the first problem in err so a resolver decodes
// them all and checks once.
type call struct {
	graphql.ResolveParams
	caller auth.Caller
	why    access.Purpose
	err    error
}

// resolver is a Chronicle resolver. It returns plain errors, each with its
// events.Kind; resolve maps them for the client.
type resolver func(p *call) (any, error)

// guard is what a field asks of its caller before it resolves: an action
// their role must allow (none for a field anyone who reached it may read),
// and whether a purpose of access must be given (reads of children's
// records).
type guard struct {
	action  auth.Action
	purpose bool
}

// anyone guards nothing beyond the verified caller the handler requires:
// for fields any role may read (their own access log), and for fields
// below a root field that was guarded, whose check holds for the whole
// answer.
var anyone = guard{}

// allowed guards a field by the caller's role alone.
func allowed(a auth.Action) guard { return guard{action: a} }

// reading guards a field that reads children's records: the role must
// allow a, and a purpose of access must be given (argument or header).
func reading(a auth.Action) guard { return guard{action: a, purpose: true} }

// resolve is the one wrapper for resolvers that can fail: it checks g,
// runs fn, and turns an error (a refusal by g, an argument fn could not
// decode, or fn's own) into what the client sees (fail). Resolvers never
// map errors themselves.
func (b *schemaBuilder) resolve(g guard, fn resolver) graphql.FieldResolveFn {
	return func(rp graphql.ResolveParams) (any, error) {
		p := &call{ResolveParams: rp, caller: callerOf(rp.Context)}
		v, err := p.run(g, fn)
		if err != nil {
			return nil, fail(rp.Context, err)
		}
		return v, nil
	}
}

func (p *call) run(g guard, fn resolver) (any, error) {
	if g.action != "" {
		if err := p.caller.Require(g.action); err != nil {
			return nil, err
		}
	}
	if g.purpose {
		if raw, ok := p.Args["purpose"].(map[string]any); ok {
			p.why.Reason, _ = raw["reason"].(string)
			p.why.Detail, _ = raw["detail"].(string)
		} else if ra := auditFrom(p.Context); ra != nil {
			p.why = ra.header
		}
		if err := p.why.Check(); err != nil {
			return nil, err
		}
	}
	return fn(p)
}

// time decodes a DateTime argument; nil when absent.
func (p *call) time(name string) *time.Time {
	if p.err != nil {
		return nil
	}
	switch v := p.Args[name].(type) {
	case nil:
		return nil
	case time.Time:
		return &v
	case *time.Time:
		return v
	}
	p.err = events.Errorf(name, events.KindInvalid, "must be an RFC 3339 time like 2024-03-02T14:05:00Z")
	return nil
}

// identifier decodes an IdentifierInput, raw, named name in errors; false
// when absent.
func (p *call) identifier(raw any, name string) (events.Identifier, bool) {
	m, ok := raw.(map[string]any)
	if !ok || p.err != nil {
		return events.Identifier{}, false
	}
	scheme, _ := m["scheme"].(string)
	value, _ := m["value"].(string)
	k := events.Identifier{Scheme: events.Scheme(scheme), Value: value}
	if err := events.ValidateIdentifier(k); err != nil {
		p.err = events.E(name, events.KindInvalid, &events.FieldError{Field: name + ".value", Problem: err.Error()})
	}
	return k, true
}

// list decodes a list of codes, each of which known must accept; nil when
// absent.
func (p *call) list(name string, known func(string) bool) []string {
	raw, ok := p.Args[name].([]any)
	if !ok || p.err != nil {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		s, _ := v.(string)
		if !known(s) {
			p.err = events.Errorf(name, events.KindInvalid, "%q is not known (see the %s query)", s, map[string]string{"agencies": "agencies", "types": "eventTypes"}[name])
			return nil
		}
		out = append(out, s)
	}
	return out
}

// first decodes the page size: DefaultPage when absent, at least 1, at
// most MaxPage.
func (p *call) first(l Limits) int {
	first, ok := p.Args["first"].(int)
	switch {
	case p.err != nil:
	case !ok:
		return l.DefaultPage
	case first < 1:
		p.err = events.Errorf("first", events.KindInvalid, "must be at least 1, not %d", first)
	case first > l.MaxPage:
		p.err = events.Errorf("first", events.KindTooLarge, "%d is over the largest page, %d: page with after", first, l.MaxPage)
	default:
		return first
	}
	return 0
}

// gqlError carries a Kind to GraphQL's extensions.code.
type gqlError struct {
	msg  string
	code string
}

func (e *gqlError) Error() string { return e.msg }

// Extensions implements gqlerrors.ExtendedError.
func (e *gqlError) Extensions() map[string]any { return map[string]any{"code": e.code} }

// fail turns an error into what a GraphQL client sees: the message and a
// code from the one mapping (httpapi), with internal detail logged instead
// of shown. Only resolve calls it.
func fail(ctx context.Context, err error) error {
	return &gqlError{msg: httpapi.PublicMessage(ctx, loggerFrom(ctx), err), code: httpapi.CodeOf(err)}
}

// field adapts a typed getter to a resolver.
func field[T any](get func(T) any) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		v, ok := p.Source.(T)
		if !ok {
			return nil, fmt.Errorf("resolver: got %T", p.Source)
		}
		return get(v), nil
	}
}

// personal resolves a field that identifies a child (identifiers, names,
// dates of birth) and puts the read on the access log under that child,
// however the child was reached: looked up, found by a search, listed on the
// worklist or in an identity review. The log then answers "who saw this
// child's details" for every path, not only for direct look-ups.
func personal(part string, get func(childView) any) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		c, ok := p.Source.(childView)
		if !ok {
			return nil, fmt.Errorf("resolver: got %T", p.Source)
		}
		v := get(c)
		auditFrom(p.Context).note("read", c.ID, "", c.purpose, c.asOf, part, map[string]int{part: reflect.ValueOf(v).Len()})
		return v, nil
	}
}

func entry(get func(entryView) any) graphql.FieldResolveFn { return field(get) }
func child(get func(childView) any) graphql.FieldResolveFn { return field(get) }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
