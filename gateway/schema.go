package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
)

// Reader is what the schema reads: the projections' read model.
type Reader interface {
	FindChild(k events.Identifier, asOf *time.Time) (projections.Child, bool)
	ChildByID(id string, asOf *time.Time) (projections.Child, bool)
	// Sees is whether ChildByID would find the child, at less cost.
	Sees(id string, asOf *time.Time) bool
	Chronology(id string, asOf *time.Time, withRetracted bool) ([]projections.Entry, bool)
	Event(id string, asOf *time.Time) (projections.Entry, []string, bool)
	Versions(id string, asOf *time.Time) []projections.Entry
	Children(f projections.ChildFilter, asOf *time.Time) []projections.Child
	Conflicts(asOf *time.Time) []projections.Conflict
	PossibleMatches(asOf *time.Time) []projections.PossibleMatch
	LastSeq() uint64
}

// Source is the read model the schema serves: a Reader, and the same seen
// through one caller's visibility.
type Source interface {
	Reader
	Through(projections.Visibility) projections.Lens
	// Marking is an event's sensitivity and agency at asOf, for redaction.
	Marking(id string, asOf *time.Time) (sensitivity, agency string, ok bool)
}

var _ Reader = projections.Lens{}

// Recorder stores the hub's own events (links, unlinks) and returns once
// the read model has applied them, so a mutation's answer shows its effect.
type Recorder interface {
	Record(ctx context.Context, e *events.Event) error
}

var _ Reader = (*projections.Model)(nil)

// schemaBuilder holds what resolvers need.
type schemaBuilder struct {
	src      Source
	recorder Recorder
	auditor  access.Auditor
	limits   Limits
	rules    flags.Config
	now      func() time.Time
	worklist *worklistCache
}

// Options configure the schema beyond its data sources.
type Options struct {
	// Limits bound requests; zero means DefaultLimits.
	Limits Limits
	// Rules are the risk rules in force; zero means flags.DefaultConfig().
	Rules flags.Config
	// Now is the clock flags are evaluated by; nil means time.Now.
	Now func() time.Time
	// Auditor answers the access log queries.
	Auditor access.Auditor
	// Worklist, when set, is the process's present flags over the same
	// source and rules, shared with the alerter so that each change is
	// evaluated once; nil builds one on the first flaggedChildren.
	Worklist *flags.Worklist
}

// NewSchema builds Chronicle's GraphQL schema: queries over r, mutations
// recorded through rec.
func NewSchema(src Source, rec Recorder, o Options) (graphql.Schema, error) {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &schemaBuilder{src: src, recorder: rec, auditor: o.Auditor, limits: o.Limits, rules: o.Rules, now: o.Now, worklist: &worklistCache{inc: o.Worklist}}
	s, err := b.build()
	if err != nil {
		return s, err
	}
	stopWhenCancelled(s)
	return s, nil
}

// types are the schema's types and arguments that more than one group of
// fields refers to, built once per schema in the order build gives.
type types struct {
	scheme          *graphql.Enum
	identifierInput *graphql.InputObject
	pageInfo        *graphql.Object
	asKnownAt       *graphql.ArgumentConfig
	purposeArg      *graphql.ArgumentConfig
	listArgs        func() graphql.FieldConfigArgument
	entry           *graphql.Object
	entryConnection *graphql.Object
	chronologyArgs  graphql.FieldConfigArgument
	riskFlag        *graphql.Object
	child           *graphql.Object
}

// build assembles the schema from its groups of types and fields, each in
// its own file: children (child.go), chronologies and events
// (chronology.go), identity review (identity.go), risk flags and the
// worklist (riskflags.go), the access log (accesslog.go), statistics
// (statistics.go), the catalogue (catalogue.go) and the link mutations
// (link.go).
func (b *schemaBuilder) build() (graphql.Schema, error) {
	t := b.sharedTypes()
	b.chronologyTypes(t)
	b.riskFlagTypes(t)
	b.childTypes(t)
	queries, err := merge(b.childQueries(t), b.chronologyQueries(t), b.identityQueries(t), b.worklistQueries(t),
		b.accessLogQueries(t), b.statisticsQueries(t), b.catalogueQueries())
	if err != nil {
		return graphql.Schema{}, err
	}
	query := graphql.NewObject(graphql.ObjectConfig{
		Name: "Query",
		Description: "Reads. Every query needs a bearer token; reads of children's records also need a purpose of access, " +
			"and each goes on the access log before the answer is sent.",
		Fields: queries,
	})
	mutation := graphql.NewObject(graphql.ObjectConfig{
		Name: "Mutation",
		Description: "The hub's identity decisions. Each is recorded as a hub event, and on the access log before it is made; " +
			"hub and manager roles, with a purpose of access.",
		Fields: b.linkMutations(t),
	})
	return graphql.NewSchema(graphql.SchemaConfig{Query: query, Mutation: mutation})
}

// merge joins groups of fields into one. A name in two groups is an
// error: one would silently replace the other.
func merge(groups ...graphql.Fields) (graphql.Fields, error) {
	out := graphql.Fields{}
	for _, g := range groups {
		for name, f := range g {
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("schema: field %s is defined by two groups", name)
			}
			out[name] = f
		}
	}
	return out, nil
}

// sharedTypes builds what every group may use: identifier schemes and
// input, page info, and the asKnownAt, purpose and list arguments.
func (b *schemaBuilder) sharedTypes() *types {
	schemeEnum := graphql.NewEnum(graphql.EnumConfig{
		Name:        "IdentifierScheme",
		Description: "How an agency identifies a person.",
		Values: graphql.EnumValueConfigMap{
			"NHS_NUMBER":       {Value: string(events.SchemeNHSNumber), Description: "NHS number: 10 digits, modulus-11 check digit (health)."},
			"UPN":              {Value: string(events.SchemeUPN), Description: "Unique Pupil Number: 13 characters with a check letter (schools)."},
			"LA_PERSON_ID":     {Value: string(events.SchemeLAPersonID), Description: "The local authority's person id (children's social care, early help)."},
			"POLICE_PERSON_ID": {Value: string(events.SchemePolicePersonID), Description: "The police force's person id."},
			"UNBORN_OF":        {Value: string(events.SchemeUnbornOf), Description: "An unborn child known by the mother's identifier, written scheme:value (for example nhs_number:9990000018)."},
		},
	})
	identifierInput := graphql.NewInputObject(graphql.InputObjectConfig{
		Name:        "IdentifierInput",
		Description: "An identifier to look a child up by.",
		Fields: graphql.InputObjectConfigFieldMap{
			"scheme": {Type: graphql.NewNonNull(schemeEnum), Description: "Which kind of identifier the value is: whose numbering it comes from."},
			"value":  {Type: graphql.NewNonNull(graphql.String), Description: "The identifier as the agency writes it, without spaces."},
		},
	})
	pageInfoType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "PageInfo",
		Description: "Where a page sits in its list. Pass endCursor as `after` for the next page.",
		Fields: graphql.Fields{
			"hasNextPage":     {Type: graphql.NewNonNull(graphql.Boolean), Description: "More items follow this page: ask again with after set to endCursor.", Resolve: field(func(p pageInfo) any { return p.HasNextPage })},
			"hasPreviousPage": {Type: graphql.NewNonNull(graphql.Boolean), Description: "Items come before this page (it was asked for with after).", Resolve: field(func(p pageInfo) any { return p.HasPreviousPage })},
			"startCursor":     {Type: graphql.String, Description: "The cursor of the page's first item; null on an empty page.", Resolve: field(func(p pageInfo) any { return nullable(p.StartCursor) })},
			"endCursor":       {Type: graphql.String, Description: "The cursor of the page's last item, to pass as after; null on an empty page.", Resolve: field(func(p pageInfo) any { return nullable(p.EndCursor) })},
		},
	})
	asKnownAt := &graphql.ArgumentConfig{Type: dateTime, Description: "Answer with what the hub had received by this time (for practice reviews). Omit for the present."}
	purposeValues := graphql.EnumValueConfigMap{}
	for _, c := range access.Purposes.Codes {
		purposeValues[strings.ToUpper(c.Code)] = &graphql.EnumValueConfig{Value: c.Code, Description: c.Meaning}
	}
	purposeInput := graphql.NewInputObject(graphql.InputObjectConfig{
		Name:        "PurposeInput",
		Description: "Why you are reading a child's record. Required for every read of a record (or send the Chronicle-Purpose header); it goes in the access log.",
		Fields: graphql.InputObjectConfigFieldMap{
			"reason": {Type: graphql.NewNonNull(graphql.NewEnum(graphql.EnumConfig{Name: "PurposeReason", Description: "Why a child's record is read: the reasons the access log accepts.", Values: purposeValues})),
				Description: "The reason, from the fixed list."},
			"detail": {Type: graphql.String, Description: "A few words: the enquiry, meeting or review (at most 200 characters)."},
		},
	})
	purposeArg := &graphql.ArgumentConfig{Type: purposeInput, Description: "Why you are reading (required here or as the Chronicle-Purpose header)."}
	listArgs := func() graphql.FieldConfigArgument {
		return graphql.FieldConfigArgument{
			"first":     {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
			"after":     {Type: graphql.String, Description: "Cursor: return items after this one (endCursor of the previous page)."},
			"asKnownAt": asKnownAt,
			"purpose":   purposeArg,
		}
	}
	return &types{scheme: schemeEnum, identifierInput: identifierInput, pageInfo: pageInfoType,
		asKnownAt: asKnownAt, purposeArg: purposeArg, listArgs: listArgs}
}
