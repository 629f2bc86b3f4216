package events

import (
	"encoding/json"
	"strings"
	"time"
)

// Type names an event type, "area.happening" in snake_case tokens, for
// example "missing.reported". Its dots become NATS subject tokens.
type Type string

// Event is the envelope every agency event travels in. The routing fields
// (type, agency, subjects, times) are readable without decoding the payload;
// Payload carries the type's own fields exactly as they were sent, and Body
// holds them decoded (and upcast to the current schema version) by Decode.
type Event struct {
	// ID is a UUID v7, also the JetStream Nats-Msg-Id, so a re-send is
	// stored once. Ingest fills it when absent (see Normalize).
	ID string `json:"id"`
	// Type picks the payload shape from the catalogue.
	Type Type `json:"type"`
	// SchemaVersion is the version of the payload shape the sender used;
	// absent means 1. Older versions are upcast on read.
	SchemaVersion int `json:"schema_version"`
	// Agency is the publishing agency's code (see Agencies).
	Agency string `json:"agency"`
	// SourceSystem and SourceRef name the agency's own record, so a
	// practitioner can go back to it.
	SourceSystem string `json:"source_system,omitempty"`
	SourceRef    string `json:"source_ref,omitempty"`
	// Subjects are the people the event concerns: at least one child or
	// unborn child, optionally adults.
	Subjects []Subject `json:"subjects"`
	// OccurredAt is when it happened; RecordedAt when the agency recorded
	// it. The hub's own receipt time (the JetStream timestamp) is the third
	// time axis and is not part of the envelope.
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	// Sensitivity governs redaction; Reliability grades the information.
	Sensitivity string `json:"sensitivity"`
	Reliability string `json:"reliability"`
	// Summary is the one line shown in the chronology.
	Summary string `json:"summary"`
	// Payload is the type's fields as sent.
	Payload json.RawMessage `json:"payload"`

	// Body is Payload decoded into the catalogue's struct for Type, upcast to
	// the current schema version. Nil until Decode succeeds.
	Body Payload `json:"-"`
}

// Subject is one person an event concerns.
type Subject struct {
	// Kind is child (the default when empty), unborn or adult.
	Kind string `json:"kind,omitempty"`
	// Identifiers are the ids the publishing agency knows the person by.
	Identifiers Identifiers `json:"identifiers"`
	// Name and DateOfBirth are hints for practitioners and for "possible
	// match" suggestions; they never merge records on their own.
	Name        string `json:"name,omitempty"`
	DateOfBirth Date   `json:"date_of_birth,omitempty"`
	// ExpectedDeliveryDate and Mother describe an unborn child, who may be
	// the subject of a pre-birth conference or an unborn child protection plan
	// before having any identifier of their own.
	ExpectedDeliveryDate Date         `json:"expected_delivery_date,omitempty"`
	Mother               *Identifiers `json:"mother,omitempty"`
	// Role says how an adult is connected (parent, carer, household_member,
	// alleged_perpetrator, other). Ignored for children.
	Role string `json:"role,omitempty"`
}

// IsChild reports whether the subject is a child or an unborn child: the
// people Chronicle keeps chronologies for.
func (s Subject) IsChild() bool { return s.Kind == "" || s.Kind == "child" || s.Kind == "unborn" }

// Keys returns the identifiers that find this subject's record: their own,
// or for an unborn child without any, "unborn_of" each of the mother's.
func (s Subject) Keys() []Identifier { return s.AppendKeys(nil) }

// AppendKeys appends the identifiers Keys returns to dst.
func (s Subject) AppendKeys(dst []Identifier) []Identifier {
	n := len(dst)
	dst = s.Identifiers.AppendTo(dst)
	if len(dst) > n || s.Kind != "unborn" || s.Mother == nil {
		return dst
	}
	for _, m := range s.Mother.List() {
		dst = append(dst, Identifier{Scheme: SchemeUnbornOf, Value: m.String()})
	}
	return dst
}

// Date is a calendar date, "YYYY-MM-DD" on the wire. It is kept as text so
// that a bad date is reported by Validate with its field path.
type Date string

// Time parses the date as midnight UTC; ok is false when it is malformed.
func (d Date) Time() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, string(d))
	return t, err == nil
}

// SubjectFor returns the NATS subject an event of this agency and type is
// published on: chronicle.events.<agency>.<type tokens>.
func SubjectFor(agency string, t Type) string {
	return SubjectPrefix + agency + "." + string(t)
}

// SubjectPrefix starts every event subject.
const SubjectPrefix = "chronicle.events."

// SplitSubject is the inverse of SubjectFor. ok is false when subj is not an
// event subject.
func SplitSubject(subj string) (agency string, t Type, ok bool) {
	rest, found := strings.CutPrefix(subj, SubjectPrefix)
	if !found {
		return "", "", false
	}
	agency, typ, found := strings.Cut(rest, ".")
	if !found || agency == "" || typ == "" {
		return "", "", false
	}
	return agency, Type(typ), true
}
