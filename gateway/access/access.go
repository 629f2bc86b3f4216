// Package access is the access log's vocabulary: the record of who read or
// changed which child's record and why (Record), how the log is searched
// (Filter), the store behind it (Auditor), and the purposes of access a
// read must give. It is a leaf: the gateway writes records, services/audit
// stores them, the app and the web pages name them, and none of them need
// each other to do so.
package access

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Record is one entry of the access log: who read or changed which
// child's record, for what purpose, and what was returned (counts, never
// content).
type Record struct {
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

// Filter selects access records.
type Filter struct {
	ChildID  string
	Subject  string
	From, To *time.Time
}

// Auditor stores access records before an answer is released, and reads
// them back for auditors. Record must return an error when the records
// could not be stored: the read then fails (fail closed).
type Auditor interface {
	Record(ctx context.Context, recs []Record) error
	Query(f Filter) []Record
}

// Actions a page may ask a run's reads to be recorded as (see
// gateway.Reads.RunAs). The other actions (lookup, search, worklist, link,
// ...) are named where they are recorded.
const (
	// ActionRead is a read of a child's record, on a screen.
	ActionRead = "read"
	// ActionPrint is a read of a child's record to print or export it for
	// a conference or a review: a copy that leaves the hub on paper or as
	// a file, so the access log says so apart from a read on screen.
	ActionPrint = "print"
)

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

// MaxPurposeDetail is how many characters of their own words a caller may
// give with a purpose.
const MaxPurposeDetail = 200

// Purpose is why a caller reads: one of Purposes' codes and, optionally, a
// few words. It is what the Chronicle-Purpose and Chronicle-Purpose-Detail
// headers carry, and it is checked where the read happens (an unknown or
// missing reason refuses a read of a child's record).
type Purpose struct {
	Reason, Detail string
}

// PurposeFrom reads the purpose headers, normalised.
func PurposeFrom(h http.Header) Purpose {
	return Purpose{Reason: h.Get(HeaderPurpose), Detail: h.Get(HeaderPurposeDetail)}.Normal()
}

// Normal returns p as headers and forms give it loosely, made exact: the
// reason lower-cased, both trimmed.
func (p Purpose) Normal() Purpose {
	return Purpose{Reason: strings.ToLower(strings.TrimSpace(p.Reason)), Detail: strings.TrimSpace(p.Detail)}
}

// Check says whether a read of a child's record may be made for p: a
// KindForbidden error without a reason, KindInvalid for a reason not in
// Purposes or a detail over MaxPurposeDetail characters, else nil. It
// checks p as it is; see Normal.
func (p Purpose) Check() error {
	switch {
	case p.Reason == "":
		return events.Errorf("purpose", events.KindForbidden,
			"a purpose of access is required to read a child's record: pass purpose: {reason: MASH_ENQUIRY, detail: \"...\"} or the %s header", HeaderPurpose)
	case !Purposes.Has(p.Reason):
		return events.Errorf("purpose", events.KindInvalid, "%q is not a purpose of access (want one of %s)", p.Reason, strings.Join(Purposes.Values(), ", "))
	case len(p.Detail) > MaxPurposeDetail:
		return events.Errorf("purpose.detail", events.KindInvalid, "is %d characters; the limit is %d", len(p.Detail), MaxPurposeDetail)
	}
	return nil
}
