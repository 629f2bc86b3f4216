package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// ExampleEvent returns a complete, valid event of the spec's type built from
// its Example payload, with a synthetic child (NHS number in the 999 range
// reserved for testing). The reference and the tests use it.
func (s *Spec) ExampleEvent() *Event {
	agency := "social_care"
	if len(s.Agencies) > 0 {
		agency = s.Agencies[0]
	}
	raw, err := json.Marshal(s.Example)
	if err != nil {
		// The examples are literals in this package; failing to encode one is
		// a programming error caught by the tests on every build.
		raw = []byte("{}")
	}
	e := &Event{
		Type:          s.Type,
		SchemaVersion: s.Version,
		Agency:        agency,
		SourceSystem:  "example-system",
		SourceRef:     "REF-" + strings.ReplaceAll(string(s.Type), ".", "-"),
		Subjects: []Subject{{
			Kind:        "child",
			Identifiers: Identifiers{NHSNumber: "9990000018", LAPersonID: "LA-000123"},
			Name:        "Alex Example",
			DateOfBirth: "2012-04-17",
		}},
		OccurredAt:  time.Date(2024, 3, 4, 10, 15, 0, 0, time.UTC),
		RecordedAt:  time.Date(2024, 3, 4, 11, 2, 0, 0, time.UTC),
		Sensitivity: "standard",
		Reliability: "direct",
		Summary:     s.Title + " (example)",
		Payload:     raw,
		Body:        s.Example,
	}
	e.ID = DeriveID(e)
	return e
}

// WriteReference writes the catalogue reference for integrating agencies as
// Markdown: the envelope, every type with its payload fields (generated from
// the Go struct tags, with required-ness found by validating the example with
// the field cleared), an example event, and every code list.
func WriteReference(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(referenceIntro)
	area := ""
	for i := range catalogue {
		s := &catalogue[i]
		if s.Area != area {
			area = s.Area
			fmt.Fprintf(&b, "\n## %s\n", area)
		}
		if err := writeType(&b, s); err != nil {
			return err
		}
	}
	b.WriteString("\n## Code lists\n")
	for _, l := range append(CodeLists(), payloadCodeLists()...) {
		fmt.Fprintf(&b, "\n### %s\n\nSource: %s.\n\n| code | meaning |\n| --- | --- |\n", l.Name, l.Source)
		for _, c := range l.Codes {
			fmt.Fprintf(&b, "| `%s` | %s |\n", c.Code, c.Meaning)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeType(b *bytes.Buffer, s *Spec) error {
	fmt.Fprintf(b, "\n### `%s` — %s\n\n%s\n\n", s.Type, s.Title, s.Doc)
	who := "any agency"
	if s.Agencies != nil {
		who = "`" + strings.Join(s.Agencies, "`, `") + "`"
	}
	fmt.Fprintf(b, "Published by: %s. Schema version: %d. Subject: `%s`.\n\n", who, s.Version, SubjectFor("<agency>", s.Type))
	b.WriteString("| field | type | required | values | description |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range payloadFields(s) {
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", f.name, f.kind, yesNo(f.required), f.values, f.doc)
	}
	ex, err := json.MarshalIndent(s.ExampleEvent(), "", "  ")
	if err != nil {
		return fmt.Errorf("example for %s: %w", s.Type, err)
	}
	fmt.Fprintf(b, "\n```json\n%s\n```\n", ex)
	return nil
}

type fieldDoc struct {
	name, kind, values, doc string
	required                bool
}

// payloadFields describes the spec's payload fields from the struct tags.
func payloadFields(s *Spec) []fieldDoc {
	t := reflect.TypeOf(s.Example).Elem()
	var out []fieldDoc
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fd := fieldDoc{name: name, kind: wireKind(f.Type), doc: f.Tag.Get("doc")}
		if l := codeListNamed(f.Tag.Get("codes")); l != nil {
			fd.values = "[" + l.Name + "](#" + anchor(l.Name) + ")"
		}
		fd.required = requiredField(s, i)
		out = append(out, fd)
	}
	return out
}

// requiredField reports whether clearing field i of the example makes the
// payload invalid at that field.
func requiredField(s *Spec, i int) bool {
	v := reflect.New(reflect.TypeOf(s.Example).Elem())
	v.Elem().Set(reflect.ValueOf(s.Example).Elem())
	f := v.Elem().Field(i)
	if f.IsZero() {
		return false
	}
	f.Set(reflect.Zero(f.Type()))
	name, _, _ := strings.Cut(v.Elem().Type().Field(i).Tag.Get("json"), ",")
	for _, prob := range Problems(v.Interface().(Payload).Validate()) {
		if prob.Field == name || strings.HasPrefix(prob.Field, name+".") || strings.HasPrefix(prob.Field, name+"[") {
			return true
		}
	}
	return false
}

func codeListNamed(name string) *CodeList {
	if name == "" {
		return nil
	}
	for _, l := range append(CodeLists(), payloadCodeLists()...) {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func wireKind(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(Date("")):
		return "date"
	case t == reflect.TypeOf(Identifier{}):
		return "identifier"
	case t == reflect.TypeOf(json.RawMessage{}):
		return "object"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return wireKind(t.Elem())
	case reflect.Slice:
		return "list of " + wireKind(t.Elem())
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return t.Kind().String()
}

func anchor(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

const referenceIntro = `# Chronicle event catalogue

<!-- Generated by ` + "`go test ./events -run TestReference -update`" + ` from the Go types in events/. Do not edit by hand: a test fails when this page and the code drift. -->

Every agency event is one JSON envelope with a typed ` + "`payload`" + `. Publish it to
` + "`POST /v1/events`" + `, with ` + "`chronicle publish`" + ` or ` + "`chronicle import`" + `, or straight to NATS on the
subject ` + "`chronicle.events.<agency>.<type>`" + ` (your credentials allow only your own agency token).
Events sent straight to NATS that fail validation are copied to the quarantine stream with the reason, by the projector, which validates every event it applies.

## Envelope

| field | type | required | description |
| --- | --- | --- | --- |
| ` + "`id`" + ` | UUID v7 | on NATS; filled at ingest | Also the JetStream ` + "`Nats-Msg-Id`" + `: a re-send is a duplicate, stored once. When absent, ingest derives it from agency, source system, source ref, type and occurred_at if source_ref is given (so re-importing a file is harmless), else generates one. |
| ` + "`type`" + ` | string | yes | One of the types below. |
| ` + "`schema_version`" + ` | integer | no (absent means 1) | The payload shape the sender used; older versions are upcast on read. |
| ` + "`agency`" + ` | [agency](#agency) | yes | The publishing agency. |
| ` + "`source_system`" + `, ` + "`source_ref`" + ` | string | no | The agency's own system and record id, so a practitioner can go back to it. |
| ` + "`subjects`" + ` | list of subject | yes | At least one child (or unborn child); adults optional. |
| ` + "`occurred_at`" + ` | RFC 3339 time | yes | When it happened. Not after recorded_at; not more than 5 minutes in the future. |
| ` + "`recorded_at`" + ` | RFC 3339 time | yes | When the agency recorded it. The hub's receipt time (JetStream) is kept separately. |
| ` + "`sensitivity`" + ` | [sensitivity](#sensitivity) | yes | Governs redaction. |
| ` + "`reliability`" + ` | [reliability](#reliability) | yes | Direct, reported or hearsay. |
| ` + "`summary`" + ` | string, one line, at most 300 characters | yes | The chronology line. |
| ` + "`payload`" + ` | object | yes | The type's fields, below. Unknown fields are rejected. |

A subject has ` + "`kind`" + ` ([subject kind](#subject-kind), default child), ` + "`identifiers`" + ` (` + "`nhs_number`" + `: 10 digits with
a valid modulus-11 check digit; ` + "`upn`" + `: 13 characters with a valid check letter; ` + "`la_person_id`" + `;
` + "`police_person_id`" + `), and hints ` + "`name`" + ` and ` + "`date_of_birth`" + ` (YYYY-MM-DD). A child needs at least one
identifier. An unborn child has ` + "`expected_delivery_date`" + ` and ` + "`mother`" + ` (the mother's identifiers) and may have
no identifiers of its own yet. An adult may have a ` + "`role`" + ` (parent, carer, household_member,
alleged_perpetrator, other). An encoded event is at most 64 KiB.
`
