package gateway

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// entryView carries the "as known at" time down to an entry's nested
// fields (its history), with the children it concerns (on event and
// IdentityConflict.events only) and whether it is hidden from the caller.
type entryView struct {
	projections.Entry
	asOf     *time.Time
	children []string
	hidden   bool
}

// chronologyTypes builds ChronologyEntry, its connection and the
// chronology's arguments.
func (b *schemaBuilder) chronologyTypes(t *types) {
	pageInfoType := t.pageInfo
	keyField := graphql.NewObject(graphql.ObjectConfig{
		Name:        "KeyField",
		Description: "One field of an event's typed payload, with the meaning of coded values (for example category NEG: Neglect).",
		Fields: graphql.Fields{
			"name":    {Type: graphql.NewNonNull(graphql.String), Description: "The payload field's name as sent, for example category.", Resolve: field(func(f events.Field) any { return f.Name })},
			"value":   {Type: graphql.NewNonNull(graphql.String), Description: "The value as sent (a code, a date or text); a list is joined with \"; \".", Resolve: field(func(f events.Field) any { return f.Value })},
			"meaning": {Type: graphql.String, Description: "What a coded value means, from the code list (CIN census, SSDA903, ...).", Resolve: field(func(f events.Field) any { return nullable(f.Meaning) })},
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
					Resolve: b.resolve(anyone, b.resolveHistory)},
				"children": {Type: graphql.NewList(graphql.NewNonNull(graphql.ID)), Description: "Ids of the children this event concerns, on event(id) and IdentityConflict.events only; null elsewhere and on a hidden entry.",
					Resolve: entry(func(e entryView) any { return e.children })},
			}
		}),
	})
	entryEdge := edgeType("ChronologyEdge", "One entry of a chronology page, with its cursor.", "The entry.", entryType)
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
	t.entry, t.entryConnection, t.chronologyArgs = entryType, entryConnection, chronologyArgs
}

// chronologyQueries is event.
func (b *schemaBuilder) chronologyQueries(t *types) graphql.Fields {
	entryType, asKnownAt, purposeArg := t.entry, t.asKnownAt, t.purposeArg
	return graphql.Fields{
		"event": {
			Type:        entryType,
			Description: "One event by id, as shown at the time asked for; a placeholder if it is hidden from your role. Hub, practitioner and manager roles, with a purpose of access.",
			Args:        graphql.FieldConfigArgument{"id": {Type: graphql.NewNonNull(graphql.ID), Description: "The event id, as in ChronologyEntry.id."}, "asKnownAt": asKnownAt, "purpose": purposeArg},
			Resolve:     b.resolve(reading(auth.ReadRecords), b.resolveEvent),
		},
	}
}

func (b *schemaBuilder) resolveEvent(p *call) (any, error) {
	caller, why, asOf := p.caller, p.why, p.time("asKnownAt")
	if p.err != nil {
		return nil, p.err
	}
	id, _ := p.Args["id"].(string)
	e, children, ok := b.view(p.Context).Event(id, asOf)
	if !ok {
		auditFrom(p.Context).note("lookup", "", id, why, asOf, "not_found", nil)
		return nil, events.Errorf("event", events.KindNotFound, "no event %q%s", id, asOfText(asOf))
	}
	v := shown(caller, e, asOf, children)
	hidden := 0
	if v.hidden {
		hidden = 1
	}
	auditFrom(p.Context).note("read", strings.Join(children, ","), id, why, asOf, "event", map[string]int{"entries": 1 - hidden, "hidden": hidden})
	return v, nil
}

func (b *schemaBuilder) resolveChronology(p *call) (any, error) {
	c, ok := p.Source.(childView)
	if !ok {
		return nil, errors.New("chronology on a non-child")
	}
	first, from, to := p.first(b.limits), p.time("from"), p.time("to")
	agencies := p.list("agencies", events.Agencies.Has)
	types := p.list("types", func(s string) bool { _, ok := events.Lookup(events.Type(s)); return ok })
	if p.err != nil {
		return nil, p.err
	}
	withRetracted, _ := p.Args["includeRetracted"].(bool)
	caller := p.caller
	all, _ := b.view(p.Context).Chronology(c.ID, c.asOf, withRetracted)
	// Hidden entries show as placeholders: their date and agency filter as
	// usual, but their type is unknown to the caller, so a type filter never
	// matches them (it would otherwise count them). Only the page's entries
	// are made into views; the rest are only counted (a child can have
	// thousands, and a page is a hundred).
	var (
		kept []int // indexes in all of the entries that pass the filters
		red  []redaction
	)
	for i, e := range all {
		hidden := !caller.Sees(e.Sensitivity, e.Agency)
		if (from != nil && e.OccurredAt.Before(*from)) || (to != nil && e.OccurredAt.After(*to)) ||
			(agencies != nil && !slices.Contains(agencies, e.Agency)) || (types != nil && (hidden || !slices.Contains(types, string(e.Type)))) {
			continue
		}
		kept = append(kept, i)
		if hidden {
			red = countRedaction(red, e.Agency, e.Sensitivity)
		}
	}
	start := 0
	if after, ok := p.Args["after"].(string); ok {
		nanos, seq, err := decodeEntryCursor(after)
		if err != nil {
			return nil, err
		}
		start = sort.Search(len(kept), func(i int) bool {
			e := &all[kept[i]]
			n := e.OccurredAt.UnixNano()
			return n > nanos || (n == nanos && e.Seq > seq)
		})
	}
	page := kept[start:min(len(kept), start+first)]
	conn := connection{TotalCount: len(kept), Edges: make([]edge, len(page)), Redactions: red}
	hidden := 0
	for i, at := range page {
		v := shown(caller, all[at], c.asOf, nil)
		conn.Edges[i] = edge{Cursor: entryCursor(v.OccurredAt.UnixNano(), v.Seq), Node: v}
		if v.hidden {
			hidden++
		}
	}
	conn.PageInfo = pageInfoFor(conn.Edges, start > 0, start+len(page) < len(kept))
	auditFrom(p.Context).note("read", c.ID, "", c.purpose, c.asOf, "chronology", map[string]int{"entries": len(page) - hidden, "hidden": hidden})
	return conn, nil
}

// resolveHistory lists every version of an entry known at the time asked
// for; a hidden entry's history is itself.
func (b *schemaBuilder) resolveHistory(p *call) (any, error) {
	e := p.Source.(entryView)
	if e.hidden {
		return []entryView{e}, nil
	}
	var out []entryView
	for _, v := range b.src.Versions(e.EventID, e.asOf) {
		out = append(out, shown(p.caller, v, e.asOf, nil))
	}
	return out, nil
}

func asOfText(asOf *time.Time) string {
	if asOf == nil {
		return ""
	}
	return " as known at " + asOf.UTC().Format(time.RFC3339)
}

// titleDesc describes a field whose meaning needs more than a line.
const titleDesc = "The entry's human name, for example Health concern. A missing.reported entry says which it was, Reported missing or " +
	"Reported absent (whereabouts known), as the statutory guidance and SSDA903 keep them apart (its type stays missing.reported). Redacted on a hidden entry."
