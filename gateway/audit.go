package gateway

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// requestAudit collects one request's access records, one per child and
// kind of read, merging the parts of a child's record read together.
type requestAudit struct {
	mu      sync.Mutex
	caller  auth.Caller
	rid     string
	header  access.Purpose
	records map[string]*access.Record
	order   []string
	now     time.Time
	// readAs, when set, is the action a read of a child's record is
	// recorded as (access.ActionPrint for the print view): the record is then
	// the read's own, with its parts and counts, under that action.
	readAs string
}

type auditKey struct{}

// newRequestAudit starts the audit of one request with request id rid,
// by caller c, whose purpose given outside the document (the headers, or a
// web page's form) is header.
func newRequestAudit(rid string, c auth.Caller, header access.Purpose, now time.Time) *requestAudit {
	return &requestAudit{caller: c, rid: rid, now: now, records: map[string]*access.Record{}, header: header}
}

func auditFrom(ctx context.Context) *requestAudit {
	a, _ := ctx.Value(auditKey{}).(*requestAudit)
	return a
}

// note adds to the access record for (action, child, event): parts read and
// counts returned.
func (a *requestAudit) note(action, childID, eventID string, p access.Purpose, asOf *time.Time, part string, counts map[string]int) {
	if a == nil {
		return
	}
	if action == access.ActionRead && a.readAs != "" {
		action = a.readAs
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	key := action + "|" + childID + "|" + eventID
	rec, ok := a.records[key]
	if !ok {
		r := a.record(action, childID, eventID, p, asOf)
		rec = &r
		a.records[key] = rec
		a.order = append(a.order, key)
	}
	if part != "" && !containsString(rec.Parts, part) {
		rec.Parts = append(rec.Parts, part)
		sort.Strings(rec.Parts)
	}
	for k, v := range counts {
		rec.Returned[k] += v
	}
}

// record starts an access record for this request's caller.
func (a *requestAudit) record(action, childID, eventID string, p access.Purpose, asOf *time.Time) access.Record {
	return access.Record{At: a.now, RequestID: a.rid, Subject: a.caller.Subject, Name: a.caller.Name, Role: string(a.caller.Role),
		Agency: a.caller.Agency, Purpose: p.Reason, PurposeDetail: p.Detail, Action: action, ChildID: childID, EventID: eventID,
		Returned: map[string]int{}, AsKnownAt: asOf}
}

func (a *requestAudit) list() []access.Record {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]access.Record, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, *a.records[k])
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
