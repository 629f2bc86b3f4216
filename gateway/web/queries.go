package web

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/graphql-go/graphql/gqlerrors"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway"
)

// The pages' GraphQL documents. They ask for what the pages show and no
// more: what is not asked for is neither read nor put on the access log.
const (
	searchQuery = `query Search($filter: ChildFilter!, $first: Int) {
  children(filter: $filter, first: $first) {
    totalCount
    nodes { id names datesOfBirth unborn identifiers { scheme value } }
  }
}`

	childQuery = `query Child($id: ID!, $asOf: DateTime, $first: Int, $after: String, $from: DateTime, $to: DateTime,
    $agencies: [String!], $types: [String!], $retracted: Boolean, $timeline: Int) {
  child(id: $id, asKnownAt: $asOf) {
    id requestedId names datesOfBirth unborn
    identifiers { scheme value establishedAt }
    riskFlags(includeCleared: true) {
      code title severity reason active raisedAt clearedAt clearReason overdueBy
      evidence { id occurredAt agency title summary reliability redacted }
    }
    timeline: chronology(first: $timeline, from: $from, to: $to, agencies: $agencies, types: $types, includeRetracted: $retracted) {
      totalCount
      nodes { id type occurredAt agency title reliability redacted retracted }
    }
    chronology(first: $first, after: $after, from: $from, to: $to, agencies: $agencies, types: $types, includeRetracted: $retracted) {
      totalCount
      redactions { description }
      edges { cursor node {
        id type title agency summary reliability sensitivity occurredAt recordedAt receivedAt sourceSystem sourceRef
        version corrected correctionReason retracted retractionReason redacted
        details { name value meaning }
        history { version summary occurredAt redacted correctionReason }
      } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
  agencies { code name }
  eventTypes { type title area }
}`

	worklistQuery = `query Worklist($codes: [String!], $severities: [String!], $first: Int, $after: String) {
  flaggedChildren(codes: $codes, severities: $severities, first: $first, after: $after) {
    totalCount
    edges { cursor node {
      highestSeverity latestRaisedAt
      child { id names datesOfBirth }
      flags { code title severity reason raisedAt overdueBy }
    } }
    pageInfo { hasNextPage endCursor }
  }
  riskRules { code title severity }
}`
)

// documents are the pages' documents, prepared once.
type documents struct {
	search, child, worklist *gateway.Document
}

func prepareDocuments(r *gateway.Reads) (documents, error) {
	var d documents
	for _, q := range []struct {
		name string
		text string
		to   **gateway.Document
	}{{"search", searchQuery, &d.search}, {"child", childQuery, &d.child}, {"worklist", worklistQuery, &d.worklist}} {
		doc, err := r.Prepare(q.text)
		if err != nil {
			return d, fmt.Errorf("web: the %s page's query: %w", q.name, err)
		}
		*q.to = doc
	}
	return d, nil
}

// queryError is the first error a document's run reported in a field,
// with its code, as a Kind-carrying error for the gateway's one mapping.
func queryError(errs []gqlerrors.FormattedError) error {
	if len(errs) == 0 {
		return nil
	}
	code, _ := errs[0].Extensions["code"].(string)
	return events.Errorf("", kindOf(code), "%s", errs[0].Message)
}

// kindOf reads a GraphQL error code back as the Kind it came from.
func kindOf(code string) events.Kind {
	for k := events.KindInvalid; k <= events.KindTooLarge; k++ {
		if k.String() == code {
			return k
		}
	}
	return events.KindInternal
}

// read runs a prepared document as v with purpose p and decodes its data
// into out. Field errors come back as an error when the data lacks what
// the page needs (out's decoding is the page's to judge: a child that was
// not found is null).
func (a *App) read(ctx context.Context, v viewer, p gateway.Purpose, d *gateway.Document, vars map[string]any, out any) ([]gqlerrors.FormattedError, error) {
	return a.readAs(ctx, gateway.ActionRead, v, p, d, vars, out)
}

// readAs is read with the reads of children's records recorded as action
// (gateway.ActionPrint for the print view).
func (a *App) readAs(ctx context.Context, action string, v viewer, p gateway.Purpose, d *gateway.Document, vars map[string]any, out any) ([]gqlerrors.FormattedError, error) {
	res, err := a.cfg.Reads.RunAs(ctx, action, v.caller, p, d, vars)
	if err != nil {
		return nil, err
	}
	if res.Data == nil {
		return res.Errors, queryError(res.Errors)
	}
	// The data is JSON-shaped maps; a round trip through encoding/json is
	// the simplest faithful way into the page's types (a 1,000-entry
	// timeline costs about a millisecond).
	raw, err := json.Marshal(res.Data)
	if err != nil {
		return nil, fmt.Errorf("web: encode result: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("web: decode result: %w", err)
	}
	return res.Errors, nil
}
