package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// linkMutations are linkChildren and unlinkChildren.
func (b *schemaBuilder) linkMutations(t *types) graphql.Fields {
	identifierInput, childType, purposeArg := t.identifierInput, t.child, t.purposeArg
	linkArgs := graphql.FieldConfigArgument{
		"a":       {Type: graphql.NewNonNull(identifierInput), Description: "An identifier of one record."},
		"b":       {Type: graphql.NewNonNull(identifierInput), Description: "An identifier of the other record."},
		"reason":  {Type: graphql.NewNonNull(graphql.String), Description: "Why: recorded on the hub's event and shown in both chronologies."},
		"purpose": purposeArg,
	}
	return graphql.Fields{
		"linkChildren": {
			Type:        graphql.NewNonNull(childType),
			Description: "Record that two identifiers belong to the same child (a subjects.linked event). Returns the joined child.",
			Args:        linkArgs,
			Resolve:     b.resolve(reading(auth.LinkRecords), b.resolveLink(true)),
		},
		"unlinkChildren": {
			Type:        graphql.NewNonNull(childType),
			Description: "Record that two identifiers are not the same child (a subjects.unlinked event); each side gets back its own entries. Returns the child holding a.",
			Args:        linkArgs,
			Resolve:     b.resolve(reading(auth.LinkRecords), b.resolveLink(false)),
		},
	}
}

// resolveLink records a subjects.linked or subjects.unlinked event.
func (b *schemaBuilder) resolveLink(link bool) resolver {
	return func(p *call) (any, error) {
		why := p.why
		a, _ := p.identifier(p.Args["a"], "a")
		bID, _ := p.identifier(p.Args["b"], "b")
		if p.err != nil {
			return nil, p.err
		}
		reason, _ := p.Args["reason"].(string)
		r := b.view(p.Context)
		var ids []string
		for _, k := range []events.Identifier{a, bID} {
			c, ok := r.FindChild(k, nil)
			if !ok {
				return nil, events.Errorf("link", events.KindNotFound, "no child holds %s", k)
			}
			if !slices.Contains(ids, c.ID) {
				ids = append(ids, c.ID)
			}
		}
		e, err := hubLinkEvent(a, bID, reason, link, b.now())
		if err != nil {
			return nil, err
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
			if err := b.auditor.Record(p.Context, []access.Record{rec}); err != nil {
				return nil, events.E("link", events.KindUnavailable, fmt.Errorf("the access log cannot be written, so nothing was changed: %w", err))
			}
		}
		if err := b.recorder.Record(p.Context, e); err != nil {
			return nil, err
		}
		c, ok := r.FindChild(a, nil)
		if !ok {
			return nil, events.Errorf("link", events.KindInternal, "child for %s vanished after recording", a)
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
