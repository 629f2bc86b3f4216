package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// MaxEventSize caps an event's encoded size. Chronology entries are one line
// plus structured fields; anything bigger is almost certainly a document that
// belongs in the agency's own system, referenced by source_ref.
const MaxEventSize = 64 << 10

// wireEvent mirrors Event with the times as text, so that a malformed time is
// reported with its field path instead of encoding/json's bare parse error.
type wireEvent struct {
	ID            string          `json:"id"`
	Type          Type            `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Agency        string          `json:"agency"`
	SourceSystem  string          `json:"source_system"`
	SourceRef     string          `json:"source_ref"`
	Subjects      []Subject       `json:"subjects"`
	OccurredAt    string          `json:"occurred_at"`
	RecordedAt    string          `json:"recorded_at"`
	Sensitivity   string          `json:"sensitivity"`
	Reliability   string          `json:"reliability"`
	Summary       string          `json:"summary"`
	Payload       json.RawMessage `json:"payload"`
}

// Decode parses one JSON event. Unknown fields, values of the wrong JSON
// type, repeated member names and forbidden text (see CheckJSONText) are
// problems with their field path. When the envelope parses, Decode
// upcasts the payload to the type's current schema version and decodes it
// into Body. The returned event is non-nil whenever the envelope parsed, even
// if the payload did not, so that Check can report every problem at once.
// Errors are *FieldError trees (see Problems).
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, &FieldError{Problem: fmt.Sprintf("event is %d bytes; the limit is %d", len(data), MaxEventSize)}
	}
	var (
		w wireEvent
		p ProblemSet
	)
	// Repeated names and forbidden text first: encoding/json would keep the
	// last of a repeated name and rewrite bad UTF-8, hiding both.
	scanText(&p, data)
	if err := strictUnmarshal(data, &w); err != nil {
		if !fieldLevel(err) || jsonValueKind(bytes.TrimSpace(data)) != "object" {
			return nil, jsonProblem("", err)
		}
		// The document parses but some fields do not fit: decode it again
		// field by field so that every such field is reported, with its
		// index, and Validate can still report everything else.
		w = wireEvent{}
		decodeThorough(&p, "", data, reflect.ValueOf(&w).Elem())
	}
	e := &Event{
		ID: w.ID, Type: w.Type, SchemaVersion: w.SchemaVersion, Agency: w.Agency,
		SourceSystem: w.SourceSystem, SourceRef: w.SourceRef, Subjects: w.Subjects,
		Sensitivity: w.Sensitivity, Reliability: w.Reliability, Summary: w.Summary,
		Payload: w.Payload,
	}
	e.OccurredAt = parseTime(&p, "occurred_at", w.OccurredAt)
	e.RecordedAt = parseTime(&p, "recorded_at", w.RecordedAt)
	if err := decodeBody(e); err != nil {
		p.Nest("", err)
	}
	return e, p.Err()
}

// decodeBody upcasts e.Payload and decodes it into e.Body. An unknown type is
// left for Validate to report.
func decodeBody(e *Event) error {
	spec, ok := Lookup(e.Type)
	if !ok {
		return nil
	}
	raw, err := upcast(spec, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	body := spec.New()
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	if err := strictUnmarshal(raw, body); err != nil {
		if !fieldLevel(err) {
			return jsonProblem("payload", err)
		}
		var p ProblemSet
		body = spec.New()
		decodeThorough(&p, "payload", raw, reflect.ValueOf(body))
		e.Body = body // so that Validate reports the payload's other problems too
		return p.Err()
	}
	e.Body = body
	return nil
}

// fieldLevel reports whether a strict decoding error is about one field (a
// value of the wrong type, an unknown name) in a document that otherwise
// parses, as opposed to malformed JSON.
func fieldLevel(err error) bool {
	var typ *json.UnmarshalTypeError
	return errors.As(err, &typ) || strings.HasPrefix(err.Error(), "json: unknown field ")
}

// Check decodes and validates one encoded event and returns every problem
// found. now is the reference for the "not in the future" rule: ingest passes
// the wall clock, the consumer side passes the JetStream receipt time so that
// the verdict is the same on every replay.
func Check(data []byte, now time.Time) (*Event, error) {
	e, err := Decode(data)
	if e == nil {
		return nil, err
	}
	return e, ValidateDecoded(e, err, now)
}

// ValidateDecoded validates an event Decode returned with decodeErr, and
// returns both sets of problems, each once: validation says nothing more
// about a field the decoder already found wrong.
func ValidateDecoded(e *Event, decodeErr error, now time.Time) error {
	return errors.Join(decodeErr, withoutDecoded(Validate(e, now), Problems(decodeErr)))
}

// withoutDecoded drops the validation problems at or under a field that
// already failed to decode: a field of the wrong JSON type is left empty, and
// "is required" on top of "must be a JSON string" would only confuse.
func withoutDecoded(err error, decoded []FieldError) error {
	if len(decoded) == 0 {
		return err
	}
	var p ProblemSet
	for _, f := range Problems(err) {
		covered := false
		for _, d := range decoded {
			if d.Field != "" && (f.Field == d.Field || strings.HasPrefix(f.Field, d.Field+".") || strings.HasPrefix(f.Field, d.Field+"[")) {
				covered = true
				break
			}
		}
		if !covered {
			p.Add(f.Field, "%s", f.Problem)
		}
	}
	return p.Err()
}

// Encode renders an event as its canonical JSON.
func Encode(e *Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// Normalize fills what an agency may leave out: the schema version (1) and
// the id. A missing id is derived from the agency's own record reference when
// there is one (DeriveID), so re-sending the same legacy record is a
// duplicate rather than a second entry; otherwise newID supplies a fresh
// UUID v7. It reports whether it changed anything.
func (e *Event) Normalize(newID func() string) (changed bool) {
	if e.SchemaVersion == 0 {
		e.SchemaVersion, changed = 1, true
	}
	if e.ID == "" {
		changed = true
		if e.SourceRef != "" {
			e.ID = DeriveID(e)
		} else {
			e.ID = newID()
		}
	}
	return changed
}

// DeriveID returns a deterministic UUID v7 for an event that arrived without
// an id: the timestamp bits are recorded_at (so ids still sort by time) and
// the random bits are a SHA-256 of agency, source system, source reference,
// type and occurred_at.
func DeriveID(e *Event) string {
	h := sha256.New()
	for _, s := range []string{e.Agency, e.SourceSystem, e.SourceRef, string(e.Type), e.OccurredAt.UTC().Format(time.RFC3339Nano)} {
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	var u [16]byte
	copy(u[:], h.Sum(nil))
	ms := uint64(e.RecordedAt.UnixMilli())
	if e.RecordedAt.IsZero() || e.RecordedAt.UnixMilli() < 0 {
		ms = 0
	}
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return FormatUUID(u)
}

// FormatUUID writes 16 bytes as a canonical lower-case UUID.
func FormatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// checkUUIDv7 reports why s is not a canonical lower- or upper-case UUID v7.
func checkUUIDv7(s string) error {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return errors.New("must be a UUID like 0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f")
	}
	if _, err := hex.DecodeString(strings.ReplaceAll(s, "-", "")); err != nil {
		return errors.New("must be a UUID (hexadecimal digits)")
	}
	if s[14] != '7' {
		return fmt.Errorf("must be a UUID version 7 (time-ordered), not version %c", s[14])
	}
	if !strings.ContainsRune("89abAB", rune(s[19])) {
		return errors.New("must be an RFC 9562 UUID (variant bits 10)")
	}
	return nil
}

// IDTime returns the millisecond timestamp embedded in a UUID v7.
func IDTime(id string) (time.Time, bool) {
	if checkUUIDv7(id) != nil {
		return time.Time{}, false
	}
	ms, err := strconv.ParseUint(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}

func parseTime(p *ProblemSet, field, s string) time.Time {
	if s == "" {
		p.Add(field, "is required (RFC 3339, for example 2024-03-02T14:05:00Z)")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.Add(field, "%s is not an RFC 3339 time with a zone (for example 2024-03-02T14:05:00Z)", quote(s))
		return time.Time{}
	}
	return t
}

// strictUnmarshal decodes exactly one JSON value and rejects unknown fields,
// because a misspelt field name would otherwise be silently dropped.
//
// A valid document is decoded once by github.com/go-json-experiment/json
// (the proposed encoding/json/v2), several times faster than
// encoding/json's Decoder, which scans the value, copies it and scans it
// again. It is at least as strict (it also refuses names that differ in
// case, repeated names and invalid UTF-8), so whatever it refuses is
// decoded again the old way, from zero, and the answer, error messages
// included, is encoding/json's (TestStrictUnmarshalAgrees, FuzzStrictUnmarshal).
func strictUnmarshal(data []byte, v any) error {
	if !useV2 {
		return strictUnmarshalV1(data, v)
	}
	if jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true)) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return strictUnmarshalV1(data, v)
}

// useV2 is false only in the tests that compare the two ways.
var useV2 = true

// strictUnmarshalV1 is strictUnmarshal by encoding/json alone.
func strictUnmarshalV1(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonProblem turns an encoding/json error into a FieldError under prefix.
func jsonProblem(prefix string, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return &FieldError{Field: prefix, Problem: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		return &FieldError{Field: joinPath(prefix, typ.Field), Problem: fmt.Sprintf("must be a JSON %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: prefix, Problem: "empty or truncated JSON"}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return &FieldError{Field: joinPath(prefix, strings.Trim(name, `"`)), Problem: "unknown field"}
	}
	return &FieldError{Field: prefix, Problem: strings.TrimPrefix(msg, "json: ")}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return goKind
}

// CheckDelivered is Check for an event read back from the log. It also
// requires the subject's agency and type tokens to match the envelope: NATS
// permissions bind an agency to its own subject token, and this binds the
// envelope to the subject, so no agency can publish as another. received is
// the hub's receipt time (the JetStream timestamp), which makes the verdict
// the same on every replay.
func CheckDelivered(subject string, data []byte, received time.Time) (*Event, error) {
	e, err := Check(data, received)
	if e == nil {
		return nil, err
	}
	agency, typ, ok := SplitSubject(subject)
	if !ok {
		return e, errors.Join(err, &FieldError{Problem: fmt.Sprintf("subject %s is not chronicle.events.<agency>.<type>", quote(subject))})
	}
	if agency != e.Agency {
		err = errors.Join(err, &FieldError{Field: "agency", Problem: fmt.Sprintf("%s does not match the subject's agency %s", quote(e.Agency), quote(agency))})
	}
	if typ != e.Type {
		err = errors.Join(err, &FieldError{Field: "type", Problem: fmt.Sprintf("%s does not match the subject's type %s", quote(string(e.Type)), quote(string(typ)))})
	}
	return e, err
}

// DecodePayload decodes and validates a payload of type t given in its
// current schema version, as a correction carries it.
func DecodePayload(t Type, raw json.RawMessage) (Payload, error) {
	spec, ok := Lookup(t)
	if !ok {
		return nil, &FieldError{Field: "type", Problem: fmt.Sprintf("%s is not a known event type", quote(string(t)))}
	}
	body := spec.New()
	if err := strictUnmarshal(raw, body); err != nil {
		return nil, jsonProblem("", err)
	}
	if err := body.Validate(); err != nil {
		return nil, err
	}
	return body, nil
}
