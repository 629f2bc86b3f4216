package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
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

// childView and entryView carry the "as known at" time down to nested
// fields, so a whole answer describes one moment.
type childView struct {
	projections.Child
	asOf    *time.Time
	purpose purpose
}

type entryView struct {
	projections.Entry
	asOf     *time.Time
	children []string
	hidden   bool
}

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

// schemaBuilder holds what resolvers need.
type schemaBuilder struct {
	src      Source
	recorder Recorder
	auditor  Auditor
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
	Auditor Auditor
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

func (b *schemaBuilder) build() (graphql.Schema, error) {
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
	keyField := graphql.NewObject(graphql.ObjectConfig{
		Name:        "KeyField",
		Description: "One field of an event's typed payload, with the meaning of coded values (for example category NEG: Neglect).",
		Fields: graphql.Fields{
			"name":    {Type: graphql.NewNonNull(graphql.String), Description: "The payload field's name as sent, for example category.", Resolve: field(func(f events.Field) any { return f.Name })},
			"value":   {Type: graphql.NewNonNull(graphql.String), Description: "The value as sent (a code, a date or text); a list is joined with \"; \".", Resolve: field(func(f events.Field) any { return f.Value })},
			"meaning": {Type: graphql.String, Description: "What a coded value means, from the code list (CIN census, SSDA903, ...).", Resolve: field(func(f events.Field) any { return nullable(f.Meaning) })},
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

	var entryType *graphql.Object
	entryType = graphql.NewObject(graphql.ObjectConfig{
		Name: "ChronologyEntry",
		Description: "One event in a child's chronology, as shown at the time asked for: corrections received by then applied. " +
			"Three times: occurredAt (when it happened), recordedAt (when the agency recorded it), receivedAt (when the hub received it).",
		Fields: graphql.FieldsThunk(func() graphql.Fields {
			return graphql.Fields{
				"id":           {Type: graphql.NewNonNull(graphql.ID), Description: "The event id (UUID v7).", Resolve: entry(func(e entryView) any { return e.EventID })},
				"type":         {Type: graphql.NewNonNull(graphql.String), Description: "The event type, for example missing.reported (see eventTypes); redacted on a hidden entry.", Resolve: entry(func(e entryView) any { return string(e.Type) })},
				"title":        {Type: graphql.NewNonNull(graphql.String), Description: titleDesc, Resolve: entry(func(e entryView) any { return e.Title() })},
				"agency":       {Type: graphql.NewNonNull(graphql.String), Description: "The publishing agency's code.", Resolve: entry(func(e entryView) any { return e.Agency })},
				"summary":      {Type: graphql.NewNonNull(graphql.String), Description: "The agency's one-line summary; on a hidden entry, only the entry's sensitivity and agency.", Resolve: entry(func(e entryView) any { return e.Summary })},
				"reliability":  {Type: graphql.NewNonNull(graphql.String), Description: "How the agency knows it: direct, reported or hearsay; redacted on a hidden entry.", Resolve: entry(func(e entryView) any { return e.Reliability })},
				"sensitivity":  {Type: graphql.NewNonNull(graphql.String), Description: "standard (every reading role), restricted (hub, manager, and practitioners of the same agency) or sealed (managers only).", Resolve: entry(func(e entryView) any { return e.Sensitivity })},
				"occurredAt":   {Type: graphql.NewNonNull(dateTime), Description: "When it happened (corrected, if a correction changed it).", Resolve: entry(func(e entryView) any { return e.OccurredAt })},
				"recordedAt":   {Type: graphql.NewNonNull(dateTime), Description: "When the agency recorded it; on a hidden entry, a copy of occurredAt.", Resolve: entry(func(e entryView) any { return e.RecordedAt })},
				"receivedAt":   {Type: graphql.NewNonNull(dateTime), Description: "When the hub received it (the JetStream time).", Resolve: entry(func(e entryView) any { return e.Received })},
				"sequence":     {Type: graphql.NewNonNull(graphql.String), Description: "Its position in the hub's log (the stream sequence), as a decimal string because it can outgrow a GraphQL Int.", Resolve: entry(func(e entryView) any { return fmt.Sprint(e.Seq) })},
				"sourceSystem": {Type: graphql.String, Description: "The agency's system that sent it; null on a hidden entry.", Resolve: entry(func(e entryView) any { return nullable(e.SourceSystem) })},
				"sourceRef":    {Type: graphql.String, Description: "The agency's own record reference, to find the full record there; null on a hidden entry.", Resolve: entry(func(e entryView) any { return nullable(e.SourceRef) })},
				"details": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(keyField))), Description: "The typed payload's fields, coded values explained; empty on a hidden entry.",
					Resolve: entry(func(e entryView) any { return events.Fields(e.Body()) })},
				"version":          {Type: graphql.NewNonNull(graphql.Int), Description: "1 for the original; each correction adds one (always 1 on a hidden entry).", Resolve: entry(func(e entryView) any { return e.Version })},
				"corrected":        {Type: graphql.NewNonNull(graphql.Boolean), Description: "Whether a correction changed what is shown.", Resolve: entry(func(e entryView) any { return e.Corrected() })},
				"correctionReason": {Type: graphql.String, Description: "The latest correction's reason; null if never corrected.", Resolve: entry(func(e entryView) any { return nullable(e.AmendReason) })},
				"retracted":        {Type: graphql.NewNonNull(graphql.Boolean), Description: "Whether the entry was retracted (shown only when includeRetracted is true).", Resolve: entry(func(e entryView) any { return e.Retracted })},
				"retractionReason": {Type: graphql.String, Description: "Why the agency retracted it; null unless retracted. A retraction your role may not see (by its own sensitivity) says only that.", Resolve: entry(func(e entryView) any { return nullable(e.RetractReason) })},
				"redacted": {Type: graphql.NewNonNull(graphql.Boolean), Description: "The entry is hidden from your role: only its id, agency, sensitivity, occurredAt, receivedAt and sequence are real; " +
					"type and reliability read redacted and the other fields are empty or placeholders.",
					Resolve: entry(func(e entryView) any { return e.hidden })},
				"history": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(entryType))),
					Description: "Every version of this entry known at the time asked for, original first. " +
						"A version your role may not see (an earlier sealed version, say) is a redacted placeholder.",
					Resolve: func(p graphql.ResolveParams) (any, error) {
						e := p.Source.(entryView)
						if e.hidden {
							return []entryView{e}, nil
						}
						c := callerOf(p.Context)
						var out []entryView
						for _, v := range b.src.Versions(e.EventID, e.asOf) {
							out = append(out, shown(c, v, e.asOf, nil))
						}
						return out, nil
					}},
				"children": {Type: graphql.NewList(graphql.NewNonNull(graphql.ID)), Description: "Ids of the children this event concerns, on event(id) and IdentityConflict.events only; null elsewhere and on a hidden entry.",
					Resolve: entry(func(e entryView) any { return e.children })},
			}
		}),
	})
	entryEdge := graphql.NewObject(graphql.ObjectConfig{
		Name:        "ChronologyEdge",
		Description: "One entry of a chronology page, with its cursor.",
		Fields: graphql.Fields{
			"cursor": {Type: graphql.NewNonNull(graphql.String), Description: cursorDesc, Resolve: field(func(e edge) any { return e.Cursor })},
			"node":   {Type: graphql.NewNonNull(entryType), Description: "The entry.", Resolve: field(func(e edge) any { return e.Node })},
		},
	})
	entryConnection := b.connectionType("Chronology", "A page of a child's chronology in occurredAt order (ties in the order the hub received them).", entryType, entryEdge, pageInfoType)

	chronologyArgs := graphql.FieldConfigArgument{
		"first":            {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
		"after":            {Type: graphql.String, Description: "Cursor: return entries after this one (endCursor of the previous page)."},
		"from":             {Type: dateTime, Description: "Only entries that occurred at or after this time."},
		"to":               {Type: dateTime, Description: "Only entries that occurred at or before this time."},
		"agencies":         {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only entries from these agencies, by code (see agencies); hidden entries from them still show as placeholders."},
		"types":            {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only entries of these event types (see eventTypes); hidden entries never match, as their type is not shown."},
		"includeRetracted": {Type: graphql.Boolean, DefaultValue: false, Description: "Also show retracted entries, marked retracted."},
	}
	riskFlagType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RiskFlag",
		Description: "A pattern the hub's rules found in a child's history, with the events it rests on.",
		Fields: graphql.Fields{
			"code":        {Type: graphql.NewNonNull(graphql.String), Description: "The rule's code (see riskRules); REDACTED when the flag rests on an entry hidden from your role.", Resolve: field(func(f flagView) any { return f.Code })},
			"title":       {Type: graphql.NewNonNull(graphql.String), Description: "The rule's human name, or a note that the flag rests on hidden entries.", Resolve: field(func(f flagView) any { return f.Title })},
			"severity":    {Type: graphql.NewNonNull(graphql.String), Description: "high, medium or low.", Resolve: field(func(f flagView) any { return f.Severity })},
			"reason":      {Type: graphql.NewNonNull(graphql.String), Description: "Why, in plain English, with the numbers; on a redacted flag, only how many hidden entries it rests on and their kind.", Resolve: field(func(f flagView) any { return f.Reason })},
			"active":      {Type: graphql.NewNonNull(graphql.Boolean), Description: "The condition still holds at the evaluation time; false once cleared.", Resolve: field(func(f flagView) any { return f.Active() })},
			"raisedAt":    {Type: graphql.NewNonNull(dateTime), Description: "When the condition held and the hub knew it.", Resolve: field(func(f flagView) any { return f.RaisedAt })},
			"clearedAt":   {Type: dateTime, Description: "When the condition stopped holding; null while active.", Resolve: field(func(f flagView) any { return f.ClearedAt })},
			"clearReason": {Type: graphql.String, Description: "Why it cleared; null while active and on a redacted flag. If an entry hidden from your role cleared it, it says only that.", Resolve: field(func(f flagView) any { return nullable(f.ClearReason) })},
			"deadlineMissedAt": {Type: dateTime, Description: "On a statutory deadline's flag (an assessment, conference, core group, decision or return home interview that is late), when the deadline was first missed; null on other flags and on a redacted flag.",
				Resolve: field(func(f flagView) any {
					if f.Deadline.IsZero() {
						return nil
					}
					return f.Deadline.Missed
				})},
			"overdueBy": {Type: graphql.String, Description: "On an active statutory deadline's flag, how late it is at the evaluation time: \"3 working days\" for deadlines in working days or months (England and Wales bank holidays excluded; the first working day after the last permitted one counts 1), \"5 hours\" or \"2 days\" by the clock for the return home interview's hours; null otherwise and on a redacted flag.",
				Resolve: field(func(f flagView) any {
					if !f.Active() {
						return nil
					}
					return nullable(f.Deadline.OverdueBy(f.at))
				})},
			"evidence": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(entryType))), Description: "The chronology entries the flag rests on; those hidden from your role are redacted placeholders.",
				Resolve: b.resolveEvidence},
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
				Resolve:     b.resolveChronology,
			},
			"riskFlags": {
				Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(riskFlagType))),
				Description: "Risk flags with their evidence: active ones first (by severity, then most recent), then those cleared. Flags resting on entries hidden from your role are redacted, never left out.",
				Args: graphql.FieldConfigArgument{
					"asKnownAt":      {Type: dateTime, Description: "Use only what the hub had received by this time (default: the child's asKnownAt, else everything)."},
					"at":             {Type: dateTime, Description: "Evaluate the rules at this time (default: asKnownAt, else now). With asKnownAt equal to at, the answer is what would have shown on that date; with at earlier than asKnownAt (or than now), events count from when they happened: hindsight."},
					"includeCleared": {Type: graphql.Boolean, DefaultValue: true, Description: "Also list flags that were raised and have since cleared."},
				},
				Resolve: b.resolveRiskFlags,
			},
		},
	})
	childEdge := graphql.NewObject(graphql.ObjectConfig{
		Name:        "ChildEdge",
		Description: "One child of a page of children, with their cursor.",
		Fields: graphql.Fields{
			"cursor": {Type: graphql.NewNonNull(graphql.String), Description: cursorDesc, Resolve: field(func(e edge) any { return e.Cursor })},
			"node":   {Type: graphql.NewNonNull(childType), Description: "The child.", Resolve: field(func(e edge) any { return e.Node })},
		},
	})
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
	asKnownAt := &graphql.ArgumentConfig{Type: dateTime, Description: "Answer with what the hub had received by this time (for practice reviews). Omit for the present."}
	purposeValues := graphql.EnumValueConfigMap{}
	for _, c := range Purposes.Codes {
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
			"child":       {Type: childType, Description: "The child holding them as the hub has joined records; null if nothing about that child is visible to your role.", Resolve: b.resolveConflictChild},
			"events": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(entryType))), Description: "The evidence: events that joined the identifiers or gave the differing details; those hidden from your role are redacted placeholders.",
				Resolve: b.resolveConflictEvents},
		},
	})
	matchType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "PossibleMatch",
		Description: "Two children who may be the same person, with the reason. Name and date of birth never merge records: link them with linkChildren if they are.",
		Fields: graphql.Fields{
			"reason":   {Type: graphql.NewNonNull(graphql.String), Description: "Which details agree (full name, or surname and first initial) and the shared date of birth.", Resolve: field(func(m matchView) any { return m.Reason })},
			"children": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(childType))), Description: "The two children, as far as your role may see them.", Resolve: b.resolveMatchChildren},
		},
	})
	listArgs := func() graphql.FieldConfigArgument {
		return graphql.FieldConfigArgument{
			"first":     {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
			"after":     {Type: graphql.String, Description: "Cursor: return items after this one (endCursor of the previous page)."},
			"asKnownAt": asKnownAt,
			"purpose":   purposeArg,
		}
	}
	conflictConnection := b.listConnection("IdentityConflict", "A page of identity conflicts, ordered by child id, then kind.", conflictType, pageInfoType)
	flaggedType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "FlaggedChild",
		Description: "A child on the worklist with their active flags.",
		Fields: graphql.Fields{
			"child": {Type: graphql.NewNonNull(childType), Description: "The child, as far as your role may see them.", Resolve: field(func(c flaggedView) any { return childView{Child: c.child(), purpose: c.purpose} })},
			"flags": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(riskFlagType))), Description: "The child's active flags (redacted where they rest on entries hidden from your role).",
				Resolve: func(p graphql.ResolveParams) (any, error) {
					c := p.Source.(flaggedView)
					auditFrom(p.Context).note("read", c.id, "", c.purpose, nil, "risk_flags", map[string]int{"flags": len(c.views)})
					return c.views, nil
				}},
			"highestSeverity": {Type: graphql.NewNonNull(graphql.String), Description: "The most severe of the flags listed here (after any filter): high, medium or low.", Resolve: field(func(c flaggedView) any { return c.views[0].Severity })},
			"latestRaisedAt":  {Type: graphql.NewNonNull(dateTime), Description: "When the most recent of the flags listed here was raised.", Resolve: field(func(c flaggedView) any { return c.latest })},
		},
	})
	flaggedConnection := b.listConnection("FlaggedChild", "A page of the worklist: most severe first, then most recently raised.", flaggedType, pageInfoType)
	countType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Count",
		Description: "How many of one kind of thing an access returned.",
		Fields: graphql.Fields{
			"name":  {Type: graphql.NewNonNull(graphql.String), Description: "What was counted, for example entries, hidden, flags or children.", Resolve: field(func(c namedCount) any { return c.Name })},
			"count": {Type: graphql.NewNonNull(graphql.Int), Description: "How many were returned.", Resolve: field(func(c namedCount) any { return c.Count })},
		},
	})
	accessType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "AccessRecord",
		Description: "One read or change of a child's record: who, role, agency, purpose, which child, what was returned (counts, not content), when.",
		Fields: graphql.Fields{
			"at":            {Type: graphql.NewNonNull(dateTime), Description: "When the request that made the access arrived.", Resolve: field(func(r AccessRecord) any { return r.At })},
			"requestId":     {Type: graphql.NewNonNull(graphql.String), Description: "The request's id (its X-Request-Id), to find it in the server's logs.", Resolve: field(func(r AccessRecord) any { return r.RequestID })},
			"subject":       {Type: graphql.NewNonNull(graphql.String), Description: "The caller's user id from their token (nats:<agency> for a publisher over NATS).", Resolve: field(func(r AccessRecord) any { return r.Subject })},
			"name":          {Type: graphql.NewNonNull(graphql.String), Description: "The caller's name from their token.", Resolve: field(func(r AccessRecord) any { return r.Name })},
			"role":          {Type: graphql.NewNonNull(graphql.String), Description: "The caller's role: hub, practitioner, manager, analyst, auditor or publisher.", Resolve: field(func(r AccessRecord) any { return r.Role })},
			"agency":        {Type: graphql.String, Description: "The caller's agency code, when their token names one.", Resolve: field(func(r AccessRecord) any { return nullable(r.Agency) })},
			"purpose":       {Type: graphql.String, Description: "The purpose of access given, as a lower-case code such as mash_enquiry; null for corrections and retractions, which take none.", Resolve: field(func(r AccessRecord) any { return nullable(r.Purpose) })},
			"purposeDetail": {Type: graphql.String, Description: "The caller's own words with the purpose, if any.", Resolve: field(func(r AccessRecord) any { return nullable(r.PurposeDetail) })},
			"action":        {Type: graphql.NewNonNull(graphql.String), Description: "read, print (a read for a printed or exported copy, from the web app's print view), lookup (a look-up that found no child or event), search, worklist, identity_review, link, unlink, corrected, retracted or export.", Resolve: field(func(r AccessRecord) any { return r.Action })},
			"childId":       {Type: graphql.ID, Description: "The child concerned; several ids separated by commas when one access concerned several (an event, a link).", Resolve: field(func(r AccessRecord) any { return nullable(r.ChildID) })},
			"eventId":       {Type: graphql.ID, Description: "The event concerned: the one read, the link or unlink event recorded, or the entry corrected or retracted.", Resolve: field(func(r AccessRecord) any { return nullable(r.EventID) })},
			"parts":         {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.String))), Description: "Which parts of the record were shown, for example identifiers, names, chronology or risk_flags.", Resolve: field(func(r AccessRecord) any { return nonNilStrings(r.Parts) })},
			"returned":      {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(countType))), Description: "How many of each thing were returned, by name: counts, never content.", Resolve: field(func(r AccessRecord) any { return countsOf(r.Returned) })},
			"asKnownAt":     {Type: dateTime, Description: "The asKnownAt the caller asked with; null for the present.", Resolve: field(func(r AccessRecord) any { return r.AsKnownAt })},
		},
	})
	accessConnection := b.listConnection("AccessRecord", "A page of access records, oldest first.", accessType, pageInfoType)
	thresholdType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Threshold",
		Description: "One number a risk rule uses, set per deployment in the rules config.",
		Fields: graphql.Fields{
			"name":  {Type: graphql.NewNonNull(graphql.String), Description: "Which number, its unit in the name: count, window_days, months, hours, working_days, age_months, active_days or expire_days.", Resolve: field(func(t threshold) any { return t.Name })},
			"value": {Type: graphql.NewNonNull(graphql.Int), Description: "The number in force here, in that unit.", Resolve: field(func(t threshold) any { return t.Value })},
		},
	})
	settingType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RuleSetting",
		Description: "One reading of the guidance a risk rule uses, set per deployment in the rules config.",
		Fields: graphql.Fields{
			"name":  {Type: graphql.NewNonNull(graphql.String), Description: "Which setting: count_absences, concerns or deadline.", Resolve: field(func(s flags.Setting) any { return s.Name })},
			"value": {Type: graphql.NewNonNull(graphql.String), Description: "Its value here, as text: true or false; a comma-separated list of event types; date or clock.", Resolve: field(func(s flags.Setting) any { return s.Value })},
		},
	})
	ruleType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RiskRule",
		Description: "A risk rule: its thresholds (set per deployment in the rules config) and why it exists.",
		Fields: graphql.Fields{
			"code":       {Type: graphql.NewNonNull(graphql.String), Description: "The code its flags carry, for example REPEAT_MISSING.", Resolve: field(func(r flags.Rule) any { return r.Code })},
			"title":      {Type: graphql.NewNonNull(graphql.String), Description: "A short human name, for example Repeat missing episodes.", Resolve: field(func(r flags.Rule) any { return r.Title })},
			"severity":   {Type: graphql.NewNonNull(graphql.String), Description: "The severity of the flags it raises: high, medium or low.", Resolve: field(func(r flags.Rule) any { return r.Severity })},
			"enabled":    {Type: graphql.NewNonNull(graphql.Boolean), Description: "Whether it runs in this deployment; a disabled rule raises no flags.", Resolve: field(func(r flags.Rule) any { return r.Enabled })},
			"thresholds": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(thresholdType))), Description: "The numbers it uses, as configured here.", Resolve: field(func(r flags.Rule) any { return thresholdsOf(r) })},
			"settings":   {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(settingType))), Description: settingsDesc, Resolve: field(func(r flags.Rule) any { return r.Settings() })},
			"rationale":  {Type: graphql.NewNonNull(graphql.String), Description: "Why it exists and where its thresholds come from: a statutory timescale or local practice.", Resolve: field(func(r flags.Rule) any { return r.Rationale })},
		},
	})
	matchConnection := b.listConnection("PossibleMatch", "A page of possible matches, ordered by the children's ids.", matchType, pageInfoType)

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
	query := graphql.NewObject(graphql.ObjectConfig{
		Name: "Query",
		Description: "Reads. Every query needs a bearer token; reads of children's records also need a purpose of access, " +
			"and each goes on the access log before the answer is sent.",
		Fields: graphql.Fields{
			"child": {
				Type:        childType,
				Description: "Look a child up by any identifier any agency uses, or by Chronicle's id. Hub, practitioner and manager roles, with a purpose of access.",
				Args: graphql.FieldConfigArgument{
					"identifier": {Type: identifierInput, Description: "An identifier any agency uses; give this or id, not both."},
					"id":         {Type: graphql.ID, Description: "Chronicle's child id; give this or identifier, not both."},
					"asKnownAt":  asKnownAt,
					"purpose":    purposeArg,
				},
				Resolve: b.resolveChild,
			},
			"event": {
				Type:        entryType,
				Description: "One event by id, as shown at the time asked for; a placeholder if it is hidden from your role. Hub, practitioner and manager roles, with a purpose of access.",
				Args:        graphql.FieldConfigArgument{"id": {Type: graphql.NewNonNull(graphql.ID), Description: "The event id, as in ChronologyEntry.id."}, "asKnownAt": asKnownAt, "purpose": purposeArg},
				Resolve:     b.resolveEvent,
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
				Resolve: b.resolveChildren,
			},
			"identityConflicts": {
				Type:        graphql.NewNonNull(conflictConnection),
				Description: "Possible mismatches in identity, for the hub to resolve. Hub and manager roles, with a purpose of access.",
				Args:        listArgs(),
				Resolve: func(p graphql.ResolveParams) (any, error) {
					_, why, err := b.authorize(p, auth.ResolveIdentity)
					if err != nil {
						return nil, fail(p.Context, err)
					}
					asOf, err := timeArg(p.Args, "asKnownAt")
					if err != nil {
						return nil, fail(p.Context, err)
					}
					var items []any
					for _, c := range b.view(p.Context).Conflicts(asOf) {
						items = append(items, conflictView{Conflict: c, asOf: asOf, purpose: why})
					}
					auditFrom(p.Context).note("identity_review", "", "", why, asOf, "conflicts", map[string]int{"conflicts": len(items)})
					return b.page(p, items)
				},
			},
			"possibleMatches": {
				Type:        graphql.NewNonNull(matchConnection),
				Description: "Children who may be the same person by name and date of birth, never merged automatically. Hub and manager roles, with a purpose of access.",
				Args:        listArgs(),
				Resolve: func(p graphql.ResolveParams) (any, error) {
					_, why, err := b.authorize(p, auth.ResolveIdentity)
					if err != nil {
						return nil, fail(p.Context, err)
					}
					asOf, err := timeArg(p.Args, "asKnownAt")
					if err != nil {
						return nil, fail(p.Context, err)
					}
					var items []any
					for _, m := range b.view(p.Context).PossibleMatches(asOf) {
						items = append(items, matchView{PossibleMatch: m, asOf: asOf, purpose: why})
					}
					auditFrom(p.Context).note("identity_review", "", "", why, asOf, "possible_matches", map[string]int{"matches": len(items)})
					return b.page(p, items)
				},
			},
			"flaggedChildren": {
				Type: graphql.NewNonNull(flaggedConnection),
				Description: "The hub's worklist now: children with active risk flags, most severe first, then most recently raised. " +
					"Hub, practitioner and manager roles, with a purpose of access; flags resting on entries hidden from your role show as REDACTED.",
				Args: graphql.FieldConfigArgument{
					"codes":      {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only flags of these rules (see riskRules); REDACTED matches flags redacted for your role."},
					"severities": {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only flags of these severities: high, medium or low."},
					"first":      {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
					"after":      {Type: graphql.String, Description: "Cursor: return children after this one (endCursor of the previous page)."},
					"purpose":    purposeArg,
				},
				Resolve: b.resolveFlaggedChildren,
			},
			"accessLog": {
				Type:        graphql.NewNonNull(accessConnection),
				Description: "Who read or changed a child's record, when and why, oldest first (auditor role only). The log is written by Chronicle and never editable through it.",
				Args: graphql.FieldConfigArgument{
					"childId": {Type: graphql.ID, Description: "Only this child's record."},
					"from":    {Type: dateTime, Description: "Only accesses at or after this time."},
					"to":      {Type: dateTime, Description: "Only accesses at or before this time."},
					"first":   {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
					"after":   {Type: graphql.String, Description: "Cursor: return records after this one (endCursor of the previous page)."},
				},
				Resolve: b.resolveAccessLog(false),
			},
			"myAccessLog": {
				Type:        graphql.NewNonNull(accessConnection),
				Description: "Your own reads and changes, as the access log holds them, oldest first. Any role.",
				Args: graphql.FieldConfigArgument{
					"from":  {Type: dateTime, Description: "Only accesses at or after this time."},
					"to":    {Type: dateTime, Description: "Only accesses at or before this time."},
					"first": {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
					"after": {Type: graphql.String, Description: "Cursor: return records after this one (endCursor of the previous page)."},
				},
				Resolve: b.resolveAccessLog(true),
			},
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
				Resolve: b.resolveStatistics,
			},
			"statutoryStatistics": b.statutoryStatisticsField(statsArgs),
			"riskRules": {
				Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(ruleType))),
				Description: "The risk rules in force, with thresholds and rationale. Any role.",
				Resolve:     func(graphql.ResolveParams) (any, error) { return b.rules.Rules(), nil },
			},
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
		},
	})
	linkArgs := graphql.FieldConfigArgument{
		"a":       {Type: graphql.NewNonNull(identifierInput), Description: "An identifier of one record."},
		"b":       {Type: graphql.NewNonNull(identifierInput), Description: "An identifier of the other record."},
		"reason":  {Type: graphql.NewNonNull(graphql.String), Description: "Why: recorded on the hub's event and shown in both chronologies."},
		"purpose": purposeArg,
	}
	mutation := graphql.NewObject(graphql.ObjectConfig{
		Name: "Mutation",
		Description: "The hub's identity decisions. Each is recorded as a hub event, and on the access log before it is made; " +
			"hub and manager roles, with a purpose of access.",
		Fields: graphql.Fields{
			"linkChildren": {
				Type:        graphql.NewNonNull(childType),
				Description: "Record that two identifiers belong to the same child (a subjects.linked event). Returns the joined child.",
				Args:        linkArgs,
				Resolve:     b.resolveLink(true),
			},
			"unlinkChildren": {
				Type:        graphql.NewNonNull(childType),
				Description: "Record that two identifiers are not the same child (a subjects.unlinked event); each side gets back its own entries. Returns the child holding a.",
				Args:        linkArgs,
				Resolve:     b.resolveLink(false),
			},
		},
	})
	return graphql.NewSchema(graphql.SchemaConfig{Query: query, Mutation: mutation})
}

type conflictView struct {
	projections.Conflict
	asOf    *time.Time
	purpose purpose
}

type matchView struct {
	projections.PossibleMatch
	asOf    *time.Time
	purpose purpose
}

func (b *schemaBuilder) resolveConflictChild(p graphql.ResolveParams) (any, error) {
	c := p.Source.(conflictView)
	child, ok := b.view(p.Context).ChildByID(c.ChildID, c.asOf)
	if !ok {
		return nil, nil
	}
	auditFrom(p.Context).note("read", child.ID, "", c.purpose, c.asOf, "lookup", nil)
	return childView{Child: child, asOf: c.asOf, purpose: c.purpose}, nil
}

func (b *schemaBuilder) resolveConflictEvents(p graphql.ResolveParams) (any, error) {
	c := p.Source.(conflictView)
	caller := callerOf(p.Context)
	var out []entryView
	for _, id := range c.Events {
		if e, children, ok := b.view(p.Context).Event(id, c.asOf); ok {
			out = append(out, shown(caller, e, c.asOf, children))
		}
	}
	return out, nil
}

func (b *schemaBuilder) resolveMatchChildren(p graphql.ResolveParams) (any, error) {
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

// listConnection is a connection type for a list paged by position.
func (b *schemaBuilder) listConnection(name, desc string, node *graphql.Object, pi *graphql.Object) *graphql.Object {
	edgeType := graphql.NewObject(graphql.ObjectConfig{
		Name:        name + "Edge",
		Description: "One " + name + " of a page, with its cursor.",
		Fields: graphql.Fields{
			"cursor": {Type: graphql.NewNonNull(graphql.String), Description: cursorDesc, Resolve: field(func(e edge) any { return e.Cursor })},
			"node":   {Type: graphql.NewNonNull(node), Description: "The " + name + ".", Resolve: field(func(e edge) any { return e.Node })},
		},
	})
	return b.connectionType(name, desc, node, edgeType, pi)
}

// cursorDesc describes every edge's cursor.
const cursorDesc = "An opaque position in the list: pass it as after to continue from this item."

// page cuts a list into a connection by position.
func (b *schemaBuilder) page(p graphql.ResolveParams, items []any) (any, error) {
	first, err := b.pageSize(p.Args)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		parts, err := decodeCursor("after", "i", after, 1)
		if err != nil {
			return nil, fail(p.Context, err)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 0 {
			return nil, fail(p.Context, events.Errorf("after", events.KindInvalid, "%q is not a cursor from this list", after))
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

// resolveLink records a subjects.linked or subjects.unlinked event.
func (b *schemaBuilder) resolveLink(link bool) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		_, why, err := b.authorize(p, auth.LinkRecords)
		if err != nil {
			return nil, fail(p.Context, err)
		}
		a, _, err := identifierArg(p.Args["a"], "a")
		if err != nil {
			return nil, fail(p.Context, err)
		}
		bID, _, err := identifierArg(p.Args["b"], "b")
		if err != nil {
			return nil, fail(p.Context, err)
		}
		reason, _ := p.Args["reason"].(string)
		r := b.view(p.Context)
		var ids []string
		for _, k := range []events.Identifier{a, bID} {
			c, ok := r.FindChild(k, nil)
			if !ok {
				return nil, fail(p.Context, events.Errorf("link", events.KindNotFound, "no child holds %s", k))
			}
			if !slices.Contains(ids, c.ID) {
				ids = append(ids, c.ID)
			}
		}
		e, err := hubLinkEvent(a, bID, reason, link, b.now())
		if err != nil {
			return nil, fail(p.Context, err)
		}
		action := "unlink"
		if link {
			action = "link"
		}
		// The change is on the access log before it is made: if the log
		// cannot be written, nothing is linked or unlinked.
		if ra := auditFrom(p.Context); ra != nil {
			rec := ra.record(action, strings.Join(ids, ","), e.ID, why, nil)
			rec.Parts = []string{"identifiers"}
			if err := b.auditor.Record(p.Context, []AccessRecord{rec}); err != nil {
				return nil, fail(p.Context, events.E("link", events.KindUnavailable, fmt.Errorf("the access log cannot be written, so nothing was changed: %w", err)))
			}
		}
		if err := b.recorder.Record(p.Context, e); err != nil {
			return nil, fail(p.Context, err)
		}
		c, ok := r.FindChild(a, nil)
		if !ok {
			return nil, fail(p.Context, events.Errorf("link", events.KindInternal, "child for %s vanished after recording", a))
		}
		return childView{Child: c, purpose: why}, nil
	}
}

// hubLinkEvent builds the hub's subjects.linked or subjects.unlinked event.
func hubLinkEvent(a, b events.Identifier, reason string, link bool, now time.Time) (*events.Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("link event id: %w", err)
	}
	// The id is set here, not by the publisher, because the access record
	// written before publishing names it.
	e := &events.Event{ID: id.String(), SchemaVersion: 1, Agency: "hub", SourceSystem: "chronicle-gateway", Sensitivity: "standard", Reliability: "direct"}
	now = now.UTC()
	e.OccurredAt, e.RecordedAt = now, now
	var body events.Payload
	verb := "linked"
	if link {
		e.Type, body = "subjects.linked", &events.SubjectsLinked{A: a, B: b, Reason: reason}
	} else {
		e.Type, body, verb = "subjects.unlinked", &events.SubjectsUnlinked{A: a, B: b, Reason: reason}, "unlinked"
	}
	for _, k := range []events.Identifier{a, b} {
		var ids events.Identifiers
		switch k.Scheme {
		case events.SchemeNHSNumber:
			ids.NHSNumber = k.Value
		case events.SchemeUPN:
			ids.UPN = k.Value
		case events.SchemeLAPersonID:
			ids.LAPersonID = k.Value
		case events.SchemePolicePersonID:
			ids.PolicePersonID = k.Value
		default:
			continue // an unborn_of record is named in the payload only
		}
		e.Subjects = append(e.Subjects, events.Subject{Identifiers: ids})
	}
	summary := "Records " + verb + " by the hub: " + strings.Join(strings.Fields(reason), " ")
	if r := []rune(summary); len(r) > events.MaxSummary {
		summary = string(r[:events.MaxSummary-1]) + "…"
	}
	e.Summary = summary
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	e.Payload, e.Body = raw, body
	return e, nil
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

func (b *schemaBuilder) resolveChild(p graphql.ResolveParams) (any, error) {
	_, why, err := b.authorize(p, auth.ReadRecords)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	asOf, err := timeArg(p.Args, "asKnownAt")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	id, hasID := p.Args["id"].(string)
	k, hasIdent, err := identifierArg(p.Args["identifier"], "identifier")
	switch {
	case err != nil:
		return nil, fail(p.Context, err)
	case hasID == hasIdent:
		return nil, fail(p.Context, events.Errorf("child", events.KindInvalid, "give exactly one of identifier or id"))
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
		return nil, fail(p.Context, events.Errorf("child", events.KindNotFound, "no child with that identifier%s", asOfText(asOf)))
	}
	// The look-up itself says the child exists; what was shown of them is
	// noted as each field resolves (see personal).
	ra.note("read", c.ID, "", why, asOf, "lookup", nil)
	return childView{Child: c, asOf: asOf, purpose: why}, nil
}

func (b *schemaBuilder) resolveEvent(p graphql.ResolveParams) (any, error) {
	caller, why, err := b.authorize(p, auth.ReadRecords)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	asOf, err := timeArg(p.Args, "asKnownAt")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	id, _ := p.Args["id"].(string)
	e, children, ok := b.view(p.Context).Event(id, asOf)
	if !ok {
		auditFrom(p.Context).note("lookup", "", id, why, asOf, "not_found", nil)
		return nil, fail(p.Context, events.Errorf("event", events.KindNotFound, "no event %q%s", id, asOfText(asOf)))
	}
	v := shown(caller, e, asOf, children)
	hidden := 0
	if v.hidden {
		hidden = 1
	}
	auditFrom(p.Context).note("read", strings.Join(children, ","), id, why, asOf, "event", map[string]int{"entries": 1 - hidden, "hidden": hidden})
	return v, nil
}

func (b *schemaBuilder) resolveChildren(p graphql.ResolveParams) (any, error) {
	_, why, err := b.authorize(p, auth.ReadRecords)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	asOf, err := timeArg(p.Args, "asKnownAt")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	first, err := b.pageSize(p.Args)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	var f projections.ChildFilter
	if raw, ok := p.Args["filter"].(map[string]any); ok {
		k, has, err := identifierArg(raw["identifier"], "filter.identifier")
		if err != nil {
			return nil, fail(p.Context, err)
		}
		if has {
			f.Identifier = &k
		}
		f.Name, _ = raw["name"].(string)
		f.DateOfBirth, _ = raw["dateOfBirth"].(string)
		if f.DateOfBirth != "" {
			if _, ok := events.Date(f.DateOfBirth).Time(); !ok {
				return nil, fail(p.Context, events.Errorf("filter.dateOfBirth", events.KindInvalid, "%q is not a date like 2015-06-30", f.DateOfBirth))
			}
		}
	}
	all := b.view(p.Context).Children(f, asOf)
	auditFrom(p.Context).note("search", "", "", why, asOf, "children", map[string]int{"children": len(all)})
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		parts, err := decodeCursor("after", "c", after, 1)
		if err != nil {
			return nil, fail(p.Context, err)
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

func (b *schemaBuilder) resolveChronology(p graphql.ResolveParams) (any, error) {
	c, ok := p.Source.(childView)
	if !ok {
		return nil, fail(p.Context, errors.New("chronology on a non-child"))
	}
	first, err := b.pageSize(p.Args)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	from, err := timeArg(p.Args, "from")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	to, err := timeArg(p.Args, "to")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	agencies, err := listArg(p.Args, "agencies", events.Agencies.Has)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	types, err := listArg(p.Args, "types", func(s string) bool { _, ok := events.Lookup(events.Type(s)); return ok })
	if err != nil {
		return nil, fail(p.Context, err)
	}
	withRetracted, _ := p.Args["includeRetracted"].(bool)
	caller := callerOf(p.Context)
	all, _ := b.view(p.Context).Chronology(c.ID, c.asOf, withRetracted)
	// Hidden entries show as placeholders: their date and agency filter as
	// usual, but their type is unknown to the caller, so a type filter never
	// matches them (it would otherwise count them).
	views := make([]entryView, 0, len(all))
	for _, e := range all {
		v := shown(caller, e, c.asOf, nil)
		if (from != nil && e.OccurredAt.Before(*from)) || (to != nil && e.OccurredAt.After(*to)) ||
			(agencies != nil && !slices.Contains(agencies, e.Agency)) || (types != nil && (v.hidden || !slices.Contains(types, string(e.Type)))) {
			continue
		}
		views = append(views, v)
	}
	entries := make([]projections.Entry, len(views))
	for i := range views {
		entries[i] = views[i].Entry
	}
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		nanos, seq, err := decodeEntryCursor(after)
		if err != nil {
			return nil, fail(p.Context, err)
		}
		start = sort.Search(len(entries), func(i int) bool {
			n := entries[i].OccurredAt.UnixNano()
			return n > nanos || (n == nanos && entries[i].Seq > seq)
		})
	}
	page := views[start:min(len(views), start+first)]
	conn := connection{TotalCount: len(views), Edges: make([]edge, len(page)), Redactions: redactions(views)}
	hidden := 0
	for i, v := range page {
		conn.Edges[i] = edge{Cursor: entryCursor(v.OccurredAt.UnixNano(), v.Seq), Node: v}
		if v.hidden {
			hidden++
		}
	}
	conn.PageInfo = pageInfoFor(conn.Edges, start > 0, start+len(page) < len(views))
	auditFrom(p.Context).note("read", c.ID, "", c.purpose, c.asOf, "chronology", map[string]int{"entries": len(page) - hidden, "hidden": hidden})
	return conn, nil
}

func pageInfoFor(edges []edge, hasPrev, hasNext bool) pageInfo {
	pi := pageInfo{HasPreviousPage: hasPrev, HasNextPage: hasNext}
	if len(edges) > 0 {
		pi.StartCursor, pi.EndCursor = edges[0].Cursor, edges[len(edges)-1].Cursor
	}
	return pi
}

// pageSize reads and checks `first`.
func (b *schemaBuilder) pageSize(args map[string]any) (int, error) {
	first, ok := args["first"].(int)
	switch {
	case !ok:
		return b.limits.DefaultPage, nil
	case first < 1:
		return 0, events.Errorf("first", events.KindInvalid, "must be at least 1, not %d", first)
	case first > b.limits.MaxPage:
		return 0, events.Errorf("first", events.KindTooLarge, "%d is over the largest page, %d: page with after", first, b.limits.MaxPage)
	}
	return first, nil
}

func timeArg(args map[string]any, name string) (*time.Time, error) {
	switch v := args[name].(type) {
	case nil:
		return nil, nil
	case time.Time:
		return &v, nil
	case *time.Time:
		return v, nil
	}
	return nil, events.Errorf(name, events.KindInvalid, "must be an RFC 3339 time like 2024-03-02T14:05:00Z")
}

func identifierArg(raw any, name string) (events.Identifier, bool, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return events.Identifier{}, false, nil
	}
	scheme, _ := m["scheme"].(string)
	value, _ := m["value"].(string)
	k := events.Identifier{Scheme: events.Scheme(scheme), Value: value}
	if err := events.ValidateIdentifier(k); err != nil {
		return k, true, events.E(name, events.KindInvalid, &events.FieldError{Field: name + ".value", Problem: err.Error()})
	}
	return k, true, nil
}

func listArg(args map[string]any, name string, known func(string) bool) ([]string, error) {
	raw, ok := args[name].([]any)
	if !ok {
		return nil, nil
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		s, _ := v.(string)
		if !known(s) {
			return nil, events.Errorf(name, events.KindInvalid, "%q is not known (see the %s query)", s, map[string]string{"agencies": "agencies", "types": "eventTypes"}[name])
		}
		out = append(out, s)
	}
	return out, nil
}

func asOfText(asOf *time.Time) string {
	if asOf == nil {
		return ""
	}
	return " as known at " + asOf.UTC().Format(time.RFC3339)
}

// titleDesc and settingsDesc describe fields whose meaning needs more than a line.
const (
	titleDesc = "The entry's human name, for example Health concern. A missing.reported entry says which it was, Reported missing or " +
		"Reported absent (whereabouts known), as the statutory guidance and SSDA903 keep them apart (its type stays missing.reported). Redacted on a hidden entry."
	settingsDesc = "The readings of the guidance it uses that are not numbers, as configured here: count_absences (whether absences count as missing), " +
		"concerns (the event types that count as an agency's concern) and deadline (date: met at any hour of the last day; clock: at the same time of day)."
)

func mergedFrom(c projections.Child) string {
	if c.AskedID != "" && c.AskedID != c.ID {
		return c.AskedID
	}
	return ""
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

// gqlError carries a Kind to GraphQL's extensions.code.
type gqlError struct {
	msg  string
	code string
}

func (e *gqlError) Error() string { return e.msg }

// Extensions implements gqlerrors.ExtendedError.
func (e *gqlError) Extensions() map[string]any { return map[string]any{"code": e.code} }

// fail turns an error into what a GraphQL client sees: the message and a
// code, with internal detail logged instead of shown.
func fail(ctx context.Context, err error) error {
	return &gqlError{msg: PublicMessage(ctx, loggerFrom(ctx), err), code: CodeOf(err)}
}
