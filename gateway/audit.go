package gateway

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// AccessRecord is one entry of the access log: who read or changed which
// child's record, for what purpose, and what was returned (counts, never
// content).
type AccessRecord struct {
	At            time.Time      `json:"at"`
	RequestID     string         `json:"request_id"`
	Subject       string         `json:"subject"`
	Name          string         `json:"name"`
	Role          string         `json:"role"`
	Agency        string         `json:"agency,omitempty"`
	Purpose       string         `json:"purpose,omitempty"`
	PurposeDetail string         `json:"purpose_detail,omitempty"`
	Action        string         `json:"action"`
	ChildID       string         `json:"child_id,omitempty"`
	EventID       string         `json:"event_id,omitempty"`
	Parts         []string       `json:"parts,omitempty"`
	Returned      map[string]int `json:"returned,omitempty"`
	AsKnownAt     *time.Time     `json:"as_known_at,omitempty"`
}

// AccessFilter selects access records.
type AccessFilter struct {
	ChildID  string
	Subject  string
	From, To *time.Time
}

// Auditor stores access records before an answer is released, and reads
// them back for auditors. Record must return an error when the records
// could not be stored: the read then fails (fail closed).
type Auditor interface {
	Record(ctx context.Context, recs []AccessRecord) error
	Query(f AccessFilter) []AccessRecord
}

// Purposes of access: a caller reading a child's record says why.
var Purposes = events.CodeList{Name: "purpose of access", Source: "Chronicle", Codes: []events.CodeDef{
	{Code: "mash_enquiry", Meaning: "MASH enquiry or screening of a contact"},
	{Code: "strategy_discussion", Meaning: "Preparing for or holding a strategy discussion"},
	{Code: "assessment", Meaning: "Assessment of the child's needs"},
	{Code: "conference", Meaning: "Child protection conference or core group"},
	{Code: "direct_work", Meaning: "Direct work with the child or family"},
	{Code: "case_review", Meaning: "Practice review, rapid review or safeguarding practice review"},
	{Code: "quality_assurance", Meaning: "Quality assurance or audit of practice"},
	{Code: "identity_resolution", Meaning: "Resolving who a record belongs to"},
}}

// Purpose headers, the alternative to the GraphQL purpose argument.
const (
	HeaderPurpose       = "Chronicle-Purpose"
	HeaderPurposeDetail = "Chronicle-Purpose-Detail"
)

type purpose struct{ reason, detail string }

// Access log actions a page may ask a run's reads to be recorded as (see
// Reads.RunAs). The other actions (lookup, search, worklist, link, ...)
// are named where they are recorded.
const (
	// ActionRead is a read of a child's record, on a screen.
	ActionRead = "read"
	// ActionPrint is a read of a child's record to print or export it for
	// a conference or a review: a copy that leaves the hub on paper or as
	// a file, so the access log says so apart from a read on screen.
	ActionPrint = "print"
)

// requestAudit collects one request's access records, one per child and
// kind of read, merging the parts of a child's record read together.
type requestAudit struct {
	mu      sync.Mutex
	caller  auth.Caller
	rid     string
	header  purpose
	records map[string]*AccessRecord
	order   []string
	now     time.Time
	// readAs, when set, is the action a read of a child's record is
	// recorded as (ActionPrint for the print view): the record is then
	// the read's own, with its parts and counts, under that action.
	readAs string
}

type auditKey struct{}

// newRequestAudit starts the audit of one request with request id rid,
// by caller c, whose purpose given outside the document (the headers, or a
// web page's form) is header.
func newRequestAudit(rid string, c auth.Caller, header purpose, now time.Time) *requestAudit {
	return &requestAudit{caller: c, rid: rid, now: now, records: map[string]*AccessRecord{}, header: header}
}

func auditFrom(ctx context.Context) *requestAudit {
	a, _ := ctx.Value(auditKey{}).(*requestAudit)
	return a
}

// note adds to the access record for (action, child, event): parts read and
// counts returned.
func (a *requestAudit) note(action, childID, eventID string, p purpose, asOf *time.Time, part string, counts map[string]int) {
	if a == nil {
		return
	}
	if action == ActionRead && a.readAs != "" {
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
func (a *requestAudit) record(action, childID, eventID string, p purpose, asOf *time.Time) AccessRecord {
	return AccessRecord{At: a.now, RequestID: a.rid, Subject: a.caller.Subject, Name: a.caller.Name, Role: string(a.caller.Role),
		Agency: a.caller.Agency, Purpose: p.reason, PurposeDetail: p.detail, Action: action, ChildID: childID, EventID: eventID,
		Returned: map[string]int{}, AsKnownAt: asOf}
}

func (a *requestAudit) list() []AccessRecord {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AccessRecord, 0, len(a.order))
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
