package gateway

import (
	"fmt"
	"sort"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// accessLogQueries are accessLog and myAccessLog, with their types.
func (b *schemaBuilder) accessLogQueries(t *types) graphql.Fields {
	pageInfoType := t.pageInfo
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
			"at":            {Type: graphql.NewNonNull(dateTime), Description: "When the request that made the access arrived.", Resolve: field(func(r access.Record) any { return r.At })},
			"requestId":     {Type: graphql.NewNonNull(graphql.String), Description: "The request's id (its X-Request-Id), to find it in the server's logs.", Resolve: field(func(r access.Record) any { return r.RequestID })},
			"subject":       {Type: graphql.NewNonNull(graphql.String), Description: "The caller's user id from their token (nats:<agency> for a publisher over NATS).", Resolve: field(func(r access.Record) any { return r.Subject })},
			"name":          {Type: graphql.NewNonNull(graphql.String), Description: "The caller's name from their token.", Resolve: field(func(r access.Record) any { return r.Name })},
			"role":          {Type: graphql.NewNonNull(graphql.String), Description: "The caller's role: hub, practitioner, manager, analyst, auditor or publisher.", Resolve: field(func(r access.Record) any { return r.Role })},
			"agency":        {Type: graphql.String, Description: "The caller's agency code, when their token names one.", Resolve: field(func(r access.Record) any { return nullable(r.Agency) })},
			"purpose":       {Type: graphql.String, Description: "The purpose of access given, as a lower-case code such as mash_enquiry; null for corrections and retractions, which take none.", Resolve: field(func(r access.Record) any { return nullable(r.Purpose) })},
			"purposeDetail": {Type: graphql.String, Description: "The caller's own words with the purpose, if any.", Resolve: field(func(r access.Record) any { return nullable(r.PurposeDetail) })},
			"action":        {Type: graphql.NewNonNull(graphql.String), Description: "read, print (a read for a printed or exported copy, from the web app's print view), lookup (a look-up that found no child or event), search, worklist, identity_review, link, unlink, corrected, retracted or export.", Resolve: field(func(r access.Record) any { return r.Action })},
			"childId":       {Type: graphql.ID, Description: "The child concerned; several ids separated by commas when one access concerned several (an event, a link).", Resolve: field(func(r access.Record) any { return nullable(r.ChildID) })},
			"eventId":       {Type: graphql.ID, Description: "The event concerned: the one read, the link or unlink event recorded, or the entry corrected or retracted.", Resolve: field(func(r access.Record) any { return nullable(r.EventID) })},
			"parts":         {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.String))), Description: "Which parts of the record were shown, for example identifiers, names, chronology or risk_flags.", Resolve: field(func(r access.Record) any { return nonNilStrings(r.Parts) })},
			"returned":      {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(countType))), Description: "How many of each thing were returned, by name: counts, never content.", Resolve: field(func(r access.Record) any { return countsOf(r.Returned) })},
			"asKnownAt":     {Type: dateTime, Description: "The asKnownAt the caller asked with; null for the present.", Resolve: field(func(r access.Record) any { return r.AsKnownAt })},
		},
	})
	accessConnection := b.listConnection("AccessRecord", "A page of access records, oldest first.", accessType, pageInfoType)
	return graphql.Fields{
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
	}
}

type namedCount struct {
	Name  string
	Count int
}

func countsOf(m map[string]int) []namedCount {
	out := make([]namedCount, 0, len(m))
	for k, v := range m {
		out = append(out, namedCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// resolveAccessLog answers accessLog (auditors) and myAccessLog (anyone,
// their own records only).
func (b *schemaBuilder) resolveAccessLog(mine bool) graphql.FieldResolveFn {
	g := allowed(auth.ReadAccessLog)
	if mine {
		g = anyone // any role, its own records
	}
	return b.resolve(g, func(p *call) (any, error) {
		f := access.Filter{From: p.time("from"), To: p.time("to")}
		if mine {
			f.Subject = p.caller.Subject
		} else {
			f.ChildID, _ = p.Args["childId"].(string)
		}
		if p.err != nil {
			return nil, p.err
		}
		if b.auditor == nil {
			return nil, events.Errorf("accessLog", events.KindUnavailable, "the access log is not available")
		}
		var items []any
		for _, r := range b.auditor.Query(f) {
			items = append(items, r)
		}
		return b.page(p, items)
	})
}
